"""Black-box tests of `edgekv serve` running guests built from source: every binding operation through
rust-kv-api (each profile's errors, preconditions, paging), persistence across restarts, a
compare-and-swap counter under concurrency, guests that trap, loop and exhaust memory, deny-by-default
bindings, and a plain wasi:http component."""

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import guest

CONFIG = """
[[namespaces]]
binding = "default"
profile = "cloudflare"

[[namespaces]]
binding = "cfr"
profile = "cloudfront"
limits = {{ max_store_bytes = 2000 }}

[[namespaces]]
binding = "tx"
profile = "telnyx"

[[namespaces]]
binding = "notx"
profile = "telnyx"
ttl = false

[[apps]]
route = "/"
component = "{app}"
bindings = ["default", "cfr", "tx", "notx", "declared-nowhere"]
"""


@pytest.fixture
def kv(edgekv, guests_dir):
    return edgekv(config=CONFIG.format(app=guest("rust-kv-api")))


def put(server, key, value=b"v", binding="default", **headers):
    return requests.put(f"{server.url}/kv/{key}", data=value, headers={"x-binding": binding, **headers})


def get(server, key, binding="default"):
    return requests.get(f"{server.url}/kv/{key}", headers={"x-binding": binding})


def assert_error(resp, status, variant):
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == variant, resp.text
    return resp.json()


def test_put_get_delete_with_metadata_content_type_and_ttl(kv):
    before = int(time.time() * 1000)
    r = put(kv, "greeting", b"hello", **{"content-type": "text/plain", "x-metadata": '{"lang": "en"}', "x-ttl": "120"})
    assert r.status_code == 201 and r.json()["created"] is True
    etag = r.headers["etag"]
    g = get(kv, "greeting")
    assert g.status_code == 200 and g.content == b"hello"
    assert g.headers["content-type"] == "text/plain"
    assert g.headers["etag"] == etag
    assert json.loads(g.headers["x-metadata"]) == {"lang": "en"}
    assert before + 120_000 <= int(g.headers["x-expires-at-ms"]) <= int(time.time() * 1000) + 120_000
    r = put(kv, "greeting", b"hi again")
    assert r.status_code == 200 and r.json()["created"] is False and r.headers["etag"] != etag
    d = requests.delete(f"{kv.url}/kv/greeting")
    assert d.status_code == 200 and d.json() == {"deleted": True}
    assert get(kv, "greeting").status_code == 404
    assert requests.delete(f"{kv.url}/kv/greeting").json() == {"deleted": False}


def test_keys_are_percent_decoded_once(kv):
    assert put(kv, "a%2Fb%20c", b"x").status_code == 201
    page = requests.get(f"{kv.url}/kv", params={"prefix": "a/"}).json()
    assert [k["name"] for k in page["keys"]] == ["a/b c"]


def test_binary_values_round_trip(kv):
    value = bytes(range(256)) * 1000
    assert put(kv, "bin", value).status_code == 201
    assert get(kv, "bin").content == value


def test_list_pages_with_prefix_cursor_and_limit(kv):
    for i in range(25):
        assert put(kv, f"user/{i:02}", b"x").status_code == 201
    put(kv, "other", b"x")
    names, cursor = [], None
    while True:
        params = {"prefix": "user/", "limit": "10", **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{kv.url}/kv", params=params).json()
        assert len(page["keys"]) <= 10
        names += [k["name"] for k in page["keys"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert names == [f"user/{i:02}" for i in range(25)]


def test_cloudflare_profile_errors(kv):
    assert put(kv, "k" * 512).status_code == 201
    body = assert_error(put(kv, "k" * 513), 400, "invalid-key")
    assert "512" in body["message"] and "513" in body["message"]
    assert_error(put(kv, "%2E%2E", b"x"), 400, "invalid-key")
    assert_error(put(kv, "m", **{"x-metadata": json.dumps({"m": "x" * 1100})}), 413, "metadata-too-large")
    assert_error(put(kv, "t", **{"x-ttl": "59"}), 400, "invalid-expiration")
    assert put(kv, "t", **{"x-ttl": "60"}).status_code == 201
    assert_error(put(kv, "t", **{"x-expiration": str(int(time.time()) + 10)}), 400, "invalid-expiration")
    big = b"x" * (25 * 1024 * 1024 + 1)
    assert_error(put(kv, "big", big), 413, "value-too-large")


def test_cloudfront_profile_errors(kv):
    assert put(kv, "k", b"x" * 1024, binding="cfr").status_code == 201
    assert_error(put(kv, "k", b"x" * 1025, binding="cfr"), 413, "value-too-large")
    assert_error(put(kv, "k" * 513, binding="cfr"), 400, "invalid-key")
    assert_error(put(kv, "m", binding="cfr", **{"x-metadata": "{}"}), 413, "metadata-too-large")
    assert_error(put(kv, "t", binding="cfr", **{"x-ttl": "3600"}), 400, "invalid-expiration")
    # The config caps this store at 2000 bytes of keys + values: 1 + 1024 are used.
    assert put(kv, "j", b"x" * 900, binding="cfr").status_code == 201
    body = assert_error(put(kv, "l", b"x" * 100, binding="cfr"), 413, "quota-exceeded")
    assert "2000" in body["message"]


def test_telnyx_profile_errors(kv):
    assert put(kv, "a-b/c_d=e.f", binding="tx").status_code == 201
    assert_error(put(kv, "_reserved", binding="tx"), 400, "invalid-key")
    assert_error(put(kv, "sp%20ace", binding="tx"), 400, "invalid-key")
    assert_error(put(kv, "k" * 257, binding="tx"), 400, "invalid-key")
    assert_error(put(kv, "k", b"x" * (1024 * 1024 + 1), binding="tx"), 413, "value-too-large")
    assert put(kv, "short", binding="tx", **{"x-ttl": "1"}).status_code == 201
    assert_error(put(kv, "k", binding="notx", **{"x-ttl": "10"}), 400, "invalid-expiration")
    assert put(kv, "k", binding="notx").status_code == 201


def test_preconditions_conflict_and_change_nothing(kv):
    first = put(kv, "doc", b"1", **{"if-none-match": "*"})
    assert first.status_code == 201
    etag1 = first.headers["etag"]
    body = assert_error(put(kv, "doc", b"x", **{"if-none-match": "*"}), 412, "conflict")
    assert body["current_etag"] == etag1
    second = put(kv, "doc", b"2", **{"if-match": etag1})
    assert second.status_code == 200
    body = assert_error(put(kv, "doc", b"3", **{"if-match": etag1}), 412, "conflict")
    assert body["current_etag"] == second.headers["etag"]
    assert get(kv, "doc").content == b"2"
    d = requests.delete(f"{kv.url}/kv/doc", headers={"if-match": etag1})
    assert_error(d, 412, "conflict")
    assert get(kv, "doc").content == b"2"


def test_bindings_are_deny_by_default(kv):
    assert_error(get(kv, "k", binding="not-granted"), 403, "access-denied")
    assert_error(get(kv, "k", binding="declared-nowhere"), 404, "no-such-store")


def test_data_survives_restart_and_compiled_component_is_cached(kv):
    assert put(kv, "persist", b"still here", **{"x-metadata": '{"v":1}'}).status_code == 201
    cache = list((kv.data_dir / "cache").glob("*.cwasm"))
    assert len(cache) == 1
    mtime = cache[0].stat().st_mtime_ns
    kv.restart()
    g = get(kv, "persist")
    assert g.status_code == 200 and g.content == b"still here"
    assert list((kv.data_dir / "cache").glob("*.cwasm")) == cache
    assert cache[0].stat().st_mtime_ns == mtime


def test_counter_counts_every_concurrent_request(edgekv, guests_dir):
    server = edgekv(app=guest("rust-counter"))
    with requests.Session() as warm:
        assert warm.get(f"{server.url}/warmup").status_code == 200
    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(lambda _: requests.get(f"{server.url}/").status_code, range(64)))
    assert results == [200] * 64
    assert requests.get(f"{server.url}/").text.strip() == "65"


MISBEHAVE = """
[[apps]]
route = "/"
component = "{app}"
deadline_secs = 2
memory_mb = 32
"""


def test_trap_loop_and_oom_fail_only_their_request(edgekv, guests_dir):
    server = edgekv(config=MISBEHAVE.format(app=guest("misbehave")))
    url = server.url
    assert requests.get(f"{url}/").text == "ok\n"

    r = requests.get(f"{url}/trap", timeout=30)
    assert r.status_code == 500 and "trapped" in r.text
    assert requests.get(f"{url}/").status_code == 200

    start = time.monotonic()
    r = requests.get(f"{url}/loop", timeout=30)
    assert r.status_code == 503 and "deadline" in r.text
    assert time.monotonic() - start < 10
    assert requests.get(f"{url}/").status_code == 200

    r = requests.get(f"{url}/oom", timeout=30)
    assert r.status_code == 503 and "memory" in r.text
    assert requests.get(f"{url}/").status_code == 200

    # Two loops at once do not stop a normal request from being served meanwhile.
    with ThreadPoolExecutor(max_workers=3) as pool:
        loops = [pool.submit(requests.get, f"{url}/loop", timeout=30) for _ in range(2)]
        time.sleep(0.3)
        assert requests.get(f"{url}/", timeout=5).status_code == 200
        assert [f.result().status_code for f in loops] == [503, 503]
    log = server.log()
    assert "deadline" in log and "trapped" in log and "memory" in log


def test_guest_output_is_logged_with_the_request_id(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"), env={"RUST_LOG": "info"})
    assert requests.get(f"{server.url}/log").status_code == 200
    server.stop()
    lines = [l for l in server.log().splitlines() if "hello on std" in l]
    assert any("stdout" in l and "request=" in l for l in lines), server.log()
    assert any("stderr" in l and "request=" in l for l in lines), server.log()


def test_plain_wasi_http_component_runs_unchanged(edgekv, guests_dir):
    server = edgekv(app=guest("hello"))
    r = requests.get(f"{server.url}/anything")
    assert r.status_code == 200 and r.text == "Hello from a plain wasi:http component\n"


def test_no_app_serves_management_only(edgekv):
    server = edgekv()
    assert requests.get(f"{server.url}/kv/x").status_code == 404
    assert requests.get(f"{server.url}/v2/storage/kvs").status_code != 404


def test_shutdown_lets_in_flight_requests_finish(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"))
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(requests.get, f"{server.url}/sleep", timeout=30)
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        r = slow.result()
    assert r.status_code == 200 and r.text == "slept\n"
    assert server.proc.wait(timeout=30) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/", timeout=5)


def test_watch_swaps_a_changed_component_without_failing_requests(edgekv, guests_dir, tmp_path):
    import os
    import shutil
    import threading

    component = tmp_path / "app.wasm"
    shutil.copy(guest("hello"), component)
    server = edgekv(config=f'[[apps]]\nroute = "/"\ncomponent = "{component}"\n', args=["--watch"])
    assert requests.get(f"{server.url}/").text.startswith("Hello")

    statuses, stop = [], threading.Event()

    def load():
        with requests.Session() as s:
            while not stop.is_set() and len(statuses) < 100_000:
                statuses.append(s.get(f"{server.url}/", timeout=10).status_code)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        staged = tmp_path / "staged.wasm"
        shutil.copy(guest("misbehave"), staged)
        os.replace(staged, component)
        deadline = time.monotonic() + 60
        while requests.get(f"{server.url}/").text != "ok\n":
            assert time.monotonic() < deadline, "the new component was never served"
            time.sleep(0.1)
    finally:
        stop.set()
        loader.join()
    assert statuses and set(statuses) == {200}

    # A component that does not compile leaves the running one in place.
    staged.write_bytes(b"\0asm not really")
    os.replace(staged, component)
    deadline = time.monotonic() + 30
    while "kept the running version" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    assert requests.get(f"{server.url}/").text == "ok\n"
