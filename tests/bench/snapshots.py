"""Named snapshots through the admin API: how long taking one and restoring it take, for a store of
1,000 keys and of 100,000 keys (1 KiB values), against a running server.

Usage: EDGEKV_BIN=target/release/edgekv python3 tests/bench/snapshots.py [RUNS]

Starts `edgekv serve` on a temporary data dir (SQLite; add `--store URL` to EDGEKV_BENCH_ARGS for
another backend), fills one Cloudflare namespace with bulk writes of 10,000 keys, then RUNS times
(default 5) takes a snapshot (POST /_edgekv/api/snapshots), restores it (POST .../restore) and
drops it, timing each call from request to response. Prints the median and the slowest of each, in
milliseconds, and the snapshot's size. Every loop is bounded.
"""

import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import requests

TOKEN = "edgekv-bench-token"
ACCOUNT = "0123456789abcdef0123456789abcdef"
HEADERS = {"authorization": f"Bearer {TOKEN}"}
LISTENING = re.compile(r"edgekv listening on (http://127\.0\.0\.1:\d+)")
VALUE = "v" * 1024
BULK = 10_000


def start(binary, data_dir):
    env = {**os.environ, "EDGEKV_API_TOKEN": TOKEN, "EDGEKV_CLOUDFLARE_ACCOUNT_ID": ACCOUNT}
    args = shlex.split(os.environ.get("EDGEKV_BENCH_ARGS", ""))
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(200):
        line = proc.stdout.readline()
        if not line:
            break
        found = LISTENING.search(line)
        if found:
            return proc, found.group(1)
    proc.kill()
    raise RuntimeError("the server did not start")


def fill(url, keys):
    base = f"{url}/client/v4/accounts/{ACCOUNT}/storage/kv/namespaces"
    created = requests.post(base, headers=HEADERS, json={"title": f"bench-{keys}"}, timeout=60)
    created.raise_for_status()
    ns = created.json()["result"]["id"]
    for start_at in range(0, keys, BULK):
        body = [{"key": f"key/{i:06}", "value": VALUE} for i in range(start_at, min(keys, start_at + BULK))]
        requests.put(f"{base}/{ns}/bulk", headers=HEADERS, json=body, timeout=300).raise_for_status()
    return ns


def timed(call):
    began = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, response


def measure(url, runs):
    snapshots = f"{url}/_edgekv/api/snapshots"
    took, restored, size = [], [], 0
    for run in range(runs):
        name = f"bench-{run}"
        elapsed, response = timed(lambda: requests.post(snapshots, headers=HEADERS, json={"name": name}, timeout=600))
        took.append(elapsed)
        size = response.json()["size"]
        elapsed, _ = timed(lambda: requests.post(f"{snapshots}/{name}/restore", headers=HEADERS, timeout=600))
        restored.append(elapsed)
        requests.delete(f"{snapshots}/{name}", headers=HEADERS, timeout=60).raise_for_status()
    return took, restored, size


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    binary = os.environ.get("EDGEKV_BIN", "target/release/edgekv")
    print(f"{'keys':>8} {'snapshot MiB':>12} {'take median/max ms':>20} {'restore median/max ms':>23}")
    for keys in (1_000, 100_000):
        with tempfile.TemporaryDirectory() as data_dir:
            proc, url = start(binary, data_dir)
            try:
                fill(url, keys)
                took, restored, size = measure(url, runs)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        print(f"{keys:>8} {size / 2**20:>12.1f} "
              f"{statistics.median(took):>11.1f} / {max(took):>6.1f} "
              f"{statistics.median(restored):>13.1f} / {max(restored):>6.1f}")


if __name__ == "__main__":
    main()
