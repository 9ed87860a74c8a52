"""Snapshots of the whole store against a real server: named snapshots through the admin API
(/_edgekv/api/snapshots) taken, listed, restored and dropped, after which every path (a guest
through the edgekv:kv binding, the Cloudflare REST API, the browser API, `edgekv kv get`) reads the
restored data at once; a snapshot taken under concurrent bulk writes restores to whole batches
only; requests keep being answered (no 5xx) while restores run; an ETag read before a restore
cannot overwrite restored data; every snapshot route refuses missing or wrong credentials; and the
CLI takes a snapshot beside a running server, while `kv restore` is refused until it stops."""

import threading

import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, guest

BEARER = {"authorization": f"Bearer {API_TOKEN}"}

CONFIG = """
[[namespaces]]
binding = "default"
profile = "cloudflare"

[[apps]]
route = "/"
component = "{kv_api}"
bindings = ["default"]
"""


def start(edgekv):
    return edgekv(config=CONFIG.format(kv_api=guest("rust-kv-api")))


def admin(server, method, path="", **kwargs):
    headers = {**BEARER, **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}/_edgekv/api/snapshots{path}", headers=headers, timeout=120, **kwargs)


def take(server, name):
    return admin(server, "POST", json={"name": name})


def restore(server, name):
    return admin(server, "POST", f"/{name}/restore")


def namespace_id(server, name="default"):
    listed = requests.get(f"{server.url}/_edgekv/api/namespaces", headers=BEARER, timeout=30).json()
    return next(ns["id"] for ns in listed["namespaces"] if ns["name"] == name)


def cf(server, method, path, **kwargs):
    url = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces{path}"
    return requests.request(method, url, headers=BEARER, timeout=60, **kwargs)


def browser_entry(server, ns, key):
    return requests.get(f"{server.url}/_edgekv/api/namespaces/{ns}/values/{key}", headers=BEARER, timeout=30)


def every_path(server, ns, key):
    """What each path reads at `key`: None where it finds no key."""
    guest_r = requests.get(f"{server.url}/kv/{key}", headers={"x-binding": "default"}, timeout=60)
    cf_r = cf(server, "GET", f"/{ns}/values/{key}")
    browser_r = browser_entry(server, ns, key)
    cli = server.kv("get", "-n", "default", key)
    return {
        "guest": guest_r.content if guest_r.status_code == 200 else (None if guest_r.status_code == 404 else guest_r.status_code),
        "cloudflare": cf_r.content if cf_r.status_code == 200 else (None if cf_r.status_code == 404 else cf_r.status_code),
        "browser": browser_r.json()["text"].encode() if browser_r.status_code == 200 else (None if browser_r.status_code == 404 else browser_r.status_code),
        "cli": cli.stdout if cli.returncode == 0 else (None if cli.returncode == 1 else cli.stderr),
    }


def test_take_list_restore_delete_and_every_path_reads_the_restored_data(edgekv):
    server = start(edgekv)
    ns = namespace_id(server)
    assert cf(server, "PUT", f"/{ns}/values/k", data=b"before").status_code == 200
    created = take(server, "s1")
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "s1" and created.json()["size"] > 0
    listed = admin(server, "GET").json()["snapshots"]
    assert [s["name"] for s in listed] == ["s1"]
    assert listed[0]["size"] > 0 and listed[0]["created_at"].endswith("Z")
    assert take(server, "s1").status_code == 409
    for bad in ["", "a/b", "../x", "x" * 65, "sp ace"]:
        r = take(server, bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid-name", (bad, r.text)
    assert take(server, "x" * 64).status_code == 201

    assert cf(server, "PUT", f"/{ns}/values/k", data=b"after").status_code == 200
    assert cf(server, "PUT", f"/{ns}/values/new", data=b"later").status_code == 200
    assert set(every_path(server, ns, "k").values()) == {b"after"}

    r = restore(server, "s1")
    assert r.status_code == 200, r.text
    assert r.json()["keys"] == 1
    assert every_path(server, ns, "k") == {p: b"before" for p in ["guest", "cloudflare", "browser", "cli"]}
    assert every_path(server, ns, "new") == {p: None for p in ["guest", "cloudflare", "browser", "cli"]}

    assert admin(server, "DELETE", "/s1").status_code == 204
    assert admin(server, "DELETE", "/s1").status_code == 404
    assert restore(server, "s1").status_code == 404
    assert [s["name"] for s in admin(server, "GET").json()["snapshots"]] == ["x" * 64]


def test_an_etag_read_before_a_restore_cannot_overwrite_restored_data(edgekv):
    server = start(edgekv)
    ns = namespace_id(server)
    assert cf(server, "PUT", f"/{ns}/values/k", data=b"snapshot").status_code == 200
    assert take(server, "s").status_code == 201
    etag = browser_entry(server, ns, "k").json()["etag"]
    assert restore(server, "s").status_code == 200
    value = f"{server.url}/_edgekv/api/namespaces/{ns}/values/k"
    r = requests.put(value, headers={**BEARER, "if-match": etag}, json={"value": "overwrite", "encoding": "text"}, timeout=30)
    assert r.status_code == 412, r.text
    current = browser_entry(server, ns, "k").json()
    assert current["text"] == "snapshot" and current["etag"] != etag
    r = requests.put(value, headers={**BEARER, "if-match": current["etag"]}, json={"value": "next", "encoding": "text"}, timeout=30)
    assert r.status_code == 200, r.text


def test_a_snapshot_under_concurrent_bulk_writes_restores_whole_batches(edgekv):
    server = start(edgekv)
    ns = namespace_id(server)
    writers, keys, rounds = 4, 25, 60
    failures = []

    def write(w):
        for n in range(rounds):
            body = [{"key": f"w{w}/{k}", "value": f"{w}-{n}"} for k in range(keys)]
            r = cf(server, "PUT", f"/{ns}/bulk", json=body)
            if r.status_code != 200:
                failures.append(r.status_code)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    names = []
    for n in range(6):
        assert take(server, f"under-load-{n}").status_code == 201
        names.append(f"under-load-{n}")
    for t in threads:
        t.join()
    assert not failures
    for name in names:
        assert restore(server, name).status_code == 200
        for w in range(writers):
            got = cf(server, "POST", f"/{ns}/bulk/get", json={"keys": [f"w{w}/{k}" for k in range(keys)]})
            assert got.status_code == 200, got.text
            values = set(got.json()["result"]["values"].values())
            assert len(values) == 1, f"{name}: writer {w}'s batch is torn: {values}"


def test_requests_keep_being_answered_while_restores_run(edgekv):
    server = start(edgekv)
    ns = namespace_id(server)
    body = [{"key": f"k{i}", "value": f"v{i}"} for i in range(2000)]
    assert cf(server, "PUT", f"/{ns}/bulk", json=body).status_code == 200
    assert take(server, "base").status_code == 201
    statuses, stop = [], threading.Event()

    def load(n):
        session = requests.Session()
        for i in range(3000):
            if stop.is_set():
                return
            key = f"k{(i * 7 + n) % 2000}"
            r = session.get(f"{server.url}/kv/{key}", headers={"x-binding": "default"}, timeout=60) if i % 3 == 0 else (
                session.put(f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}/values/{key}",
                            headers=BEARER, data=b"x", timeout=60) if i % 3 == 1 else
                session.get(f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}/values/{key}",
                            headers=BEARER, timeout=60))
            statuses.append(r.status_code)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for _ in range(8):
        assert restore(server, "base").status_code == 200
    stop.set()
    for t in threads:
        t.join()
    assert statuses and all(s < 500 for s in statuses), sorted(set(statuses))
    assert set(statuses) <= {200}, sorted(set(statuses))


def test_every_snapshot_route_refuses_missing_or_wrong_credentials(edgekv):
    server = start(edgekv)
    assert take(server, "s").status_code == 201
    routes = [("GET", ""), ("POST", ""), ("POST", "/s/restore"), ("DELETE", "/s")]
    for method, path in routes:
        url = f"{server.url}/_edgekv/api/snapshots{path}"
        for headers in [{}, {"authorization": "Bearer wrong-token"}, {"authorization": "Basic d3Jvbmc6d3Jvbmc="}]:
            r = requests.request(method, url, headers=headers, json={"name": "t"}, timeout=30)
            assert r.status_code == 401, (method, path, headers, r.status_code)
    assert [s["name"] for s in admin(server, "GET").json()["snapshots"]] == ["s"]


def test_cli_snapshot_beside_a_server_and_restore_only_once_it_stops(edgekv, tmp_path):
    server = start(edgekv)
    ns = namespace_id(server)
    assert cf(server, "PUT", f"/{ns}/values/k", data=b"snapshot").status_code == 200
    file = tmp_path / "cli-snapshot.sqlite3"
    taken = server.kv("snapshot", str(file))
    assert taken.returncode == 0, taken.stderr
    assert file.is_file() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert cf(server, "PUT", f"/{ns}/values/k", data=b"later").status_code == 200

    refused = server.kv("restore", str(file))
    assert refused.returncode != 0
    assert b"/_edgekv/api/snapshots/NAME/restore" in refused.stderr, refused.stderr
    assert server.kv("get", "-n", "default", "k").stdout == b"later"

    server.stop()
    restored = server.kv("restore", str(file))
    assert restored.returncode == 0, restored.stderr
    assert server.kv("get", "-n", "default", "k").stdout == b"snapshot"
    server.start()
    assert every_path(server, ns, "k") == {p: b"snapshot" for p in ["guest", "cloudflare", "browser", "cli"]}
