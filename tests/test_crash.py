"""Crash safety: REST and guest writes at 32 connections while the server is killed with SIGKILL at
random moments, five times; after each restart every write acknowledged with a 2xx is present with
its value, and the namespace version never goes backwards."""

import json
import random
import threading
import time

import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, guest


def namespace_version(server):
    out = server.kv("namespace", "list", "--json", timeout=60)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    return next(r for r in rows if r["name"] == "default")["version"]


def writer(server, ns, worker, round_, acked, stop):
    """Writes unique keys until the server dies; records each key whose write got a 2xx."""
    via_rest = worker % 2 == 0
    session = requests.Session()
    for i in range(100_000):
        if stop.is_set():
            return
        key = f"r{round_}-w{worker:02}-{i:05}"
        value = (key * 3).encode()
        try:
            if via_rest:
                url = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}/values/{key}"
                r = session.put(url, data=value, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10)
            else:
                r = session.put(f"{server.url}/kv/{key}", data=value, timeout=10)
        except requests.RequestException:
            return
        if 200 <= r.status_code < 300:
            acked.append((key, value))


def test_acknowledged_writes_survive_sigkill(edgekv, guests_dir):
    server = edgekv(app=guest("rust-kv-api"))
    ns = requests.get(
        f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    ).json()["result"][0]["id"]
    rng = random.Random(7)
    acked, versions = [], []
    for round_ in range(5):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(server, ns, w, round_, acked, stop)) for w in range(32)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.5, 1.5))
        versions.append(namespace_version(server))
        server.kill()
        stop.set()
        for t in threads:
            t.join()
        server.start()
        after = namespace_version(server)
        assert after >= versions[-1], f"namespace version went back from {versions[-1]} to {after}"
        versions.append(after)
    assert len(acked) > 500, "too few writes to mean anything"
    session = requests.Session()
    for key, value in acked:
        r = session.get(f"{server.url}/kv/{key}")
        assert r.status_code == 200 and r.content == value, f"acknowledged write {key} lost"
