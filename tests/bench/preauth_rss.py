"""Memory held by CloudFront data-plane requests whose signature fails: the server's RSS with N
connections that each send a request head declaring a 4 MiB body, then most of that body, and hold.

Usage: preauth_rss.py [--connections N] BINARY [BINARY...]

For each binary (for example the build before a change and after it) it starts `edgekv serve` on
an ephemeral port with a temporary data dir, reads VmRSS once idle (after one signed request), then
runs two kinds of unauthenticated request, each on a fresh server:
- `missing`: no Authorization header at all;
- `forged`: the right (non-secret) access key id, a current date and a well-formed but made-up
  signature (DER, r = s = 1), so every check that the head alone allows passes and only the
  signature over the body fails.
Each connection sends its head and 4 MiB - 1 bytes of body, so the request never completes; the
script then reads the server's VmRSS and VmHWM from /proc/PID/status and prints them against the
idle figure of the same server. Connections the server answered early (refused before or while
reading the body) are counted by status. The server runs with --request-timeout 600 so that the
held connections are not cut off while the figures are taken.
"""

import argparse
import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from conftest import AWS_ACCOUNT_ID, AWS_KEY_ID, CREDENTIALS_ENV, LISTENING  # noqa: E402

BODY = 4 * 1024 * 1024
STORE = f"arn%3Aaws%3Acloudfront%3A%3A{AWS_ACCOUNT_ID}%3Akey-value-store%2F0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def start(binary, data_dir):
    env = {**os.environ, **CREDENTIALS_ENV}
    env.pop("RUST_BACKTRACE", None)
    cmd = [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--request-timeout", "600"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        m = LISTENING.match(line.strip())
        if m:
            return proc, int(m.group(2))
    raise RuntimeError(f"{binary} did not start")


def status_kib(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def head(kind, port):
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        f"PUT /key-value-stores/{STORE}/keys/k HTTP/1.1",
        f"host: {AWS_ACCOUNT_ID}.127.0.0.1:{port}",
        "content-type: application/json",
        "if-match: anything",
        f"content-length: {BODY}",
    ]
    if kind == "forged":
        lines += [
            f"x-amz-date: {now:%Y%m%dT%H%M%SZ}",
            "x-amz-region-set: *",
            f"authorization: AWS4-ECDSA-P256-SHA256 Credential={AWS_KEY_ID}/{now:%Y%m%d}/cloudfront-keyvaluestore/"
            "aws4_request, SignedHeaders=content-type;host;if-match;x-amz-date;x-amz-region-set, Signature=3006020101020101",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def hold(kind, port):
    """Opens one connection, sends the head and all but the last byte of the body. Returns the
    socket (still open) and the status the server answered early, if it did."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    chunk = b"x" * 65536
    try:
        sock.sendall(head(kind, port))
        left = BODY - 1
        while left:
            n = min(left, len(chunk))
            sock.sendall(chunk[:n])
            left -= n
    except OSError:
        pass  # the server answered and closed: read the answer below
    sock.settimeout(0.2)
    try:
        answer = sock.recv(256)
    except OSError:
        answer = b""
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else None
    return sock, status


def warm(port):
    """One request through the CloudFront path (any answer), so lazily built state is in the idle figure."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET /key-value-stores/{STORE} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
    while sock.recv(65536):
        pass
    sock.close()


def run(binary, kind, connections):
    with tempfile.TemporaryDirectory() as data_dir:
        proc, port = start(binary, data_dir)
        try:
            warm(port)
            time.sleep(0.5)
            idle = status_kib(proc.pid)
            with ThreadPoolExecutor(max_workers=16) as pool:
                held = list(pool.map(lambda _: hold(kind, port), range(connections)))
            time.sleep(1.0)
            loaded = status_kib(proc.pid)
            statuses = {}
            for sock, status in held:
                statuses[status or "held"] = statuses.get(status or "held", 0) + 1
                sock.close()
            return idle, loaded, statuses
        finally:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    print(f"{args.connections} connections, each a 4 MiB PUT head and 4 MiB - 1 bytes of body, held")
    print(f"{'binary':<48} {'request':<8} {'idle RSS':>10} {'held RSS':>10} {'peak RSS':>10} {'RSS growth':>11}  answered")
    for binary in args.binaries:
        for kind in ("missing", "forged"):
            idle, loaded, statuses = run(binary, kind, args.connections)
            growth = loaded["VmRSS"] - idle["VmRSS"]
            answers = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
            print(
                f"{binary[-48:]:<48} {kind:<8} {idle['VmRSS'] / 1024:>7.1f} MiB {loaded['VmRSS'] / 1024:>6.1f} MiB "
                f"{loaded['VmHWM'] / 1024:>6.1f} MiB {growth / 1024:>7.1f} MiB  {answers}",
                flush=True,
            )


if __name__ == "__main__":
    main()
