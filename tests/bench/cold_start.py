"""Cold start of an HTTP server: process start to its first 200 on GET /, in milliseconds.

Usage: cold_start.py RUNS -- COMMAND [ARGS...]

Starts COMMAND RUNS + 1 times (the first run only warms the compile cache and the page cache),
reads its output until it names its http://127.0.0.1:PORT address, then sends GET / in a tight
loop until one answers 200. Prints the median of the timed runs. Everything happens in this one
process, so no shell, grep or curl start-up is counted.
"""

import http.client
import re
import statistics
import subprocess
import sys
import time

URL = re.compile(rb"http://127\.0\.0\.1:(\d+)")


def first_port(proc: subprocess.Popen) -> int:
    """The port of the first address the server prints (on stdout or stderr)."""
    seen = b""
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the server exited before naming its address: {seen[-2000:]!r}")
        seen += line
        found = URL.search(line)
        if found:
            return int(found.group(1))


def first_200(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.0005)
    raise RuntimeError("no 200 within the deadline")


def one_run(command: list[str]) -> float:
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        first_200(first_port(proc), start + 60)
        return (time.monotonic() - start) * 1000
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    runs = int(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1 :]
    one_run(command)
    times = [one_run(command) for _ in range(runs)]
    print(f"{statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
