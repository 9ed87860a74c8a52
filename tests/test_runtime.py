"""Black-box tests of `edgekv serve` running guests built from source: persistence across restarts and
the compiled-component cache, a compare-and-swap counter under concurrency, guests that trap, loop
and exhaust memory, guest output in the log, a plain wasi:http component, shutdown and hot reload.
Every binding operation is covered, for the example guest in each language, by
test_guest_languages.py."""

import signal
import socket
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


def test_requests_past_the_instance_slots_wait_for_one(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"), args=["--max-instances", "2"])
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: requests.get(f"{server.url}/sleep", timeout=30), range(6)))
    assert [(r.status_code, r.text) for r in replies] == [(200, "slept\n")] * 6
    # Two slots and six guests that sleep a second each: they ran two at a time, none failed.
    assert time.monotonic() - start >= 2.9


def test_a_large_value_streams_back_whole(kv):
    # Far more than the response body's buffer: the guest is still writing after it has answered.
    value = bytes(range(256)) * (8 * 4096)
    assert put(kv, "large", value).status_code == 201
    r = get(kv, "large")
    assert r.status_code == 200 and len(r.content) == len(value) and r.content == value


def test_a_guest_runs_to_its_end_after_its_client_hangs_up(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"), args=["--max-instances", "1"])
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(b"GET /sleep HTTP/1.1\r\nHost: edgekv\r\n\r\n")
        time.sleep(0.3)
    # The client is gone, but the guest sleeps on in the only instance slot until it has answered,
    # so the next request waits for the slot (a cancelled guest would have freed it at once).
    start = time.monotonic()
    assert requests.get(f"{server.url}/", timeout=10).text == "ok\n"
    assert time.monotonic() - start >= 0.5


def test_guest_output_is_logged_with_the_request_id(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"), env={"RUST_LOG": "info"})
    assert requests.get(f"{server.url}/log").status_code == 200
    server.stop()
    lines = [l for l in server.log().splitlines() if "hello on std" in l]
    assert any("stdout" in l and "request_id=" in l for l in lines), server.log()
    assert any("stderr" in l and "request_id=" in l for l in lines), server.log()


def test_plain_wasi_http_component_runs_unchanged(edgekv, guests_dir):
    server = edgekv(app=guest("hello"))
    r = requests.get(f"{server.url}/anything")
    assert r.status_code == 200 and r.text == "Hello from a plain wasi:http component\n"


def test_the_benchmarks_kv_hello_guest_reads_the_default_binding(edgekv, guests_dir):
    # kv-hello is hello plus one KV read (tests/bench/report.sh measures the binding's cost with it).
    server = edgekv(app=guest("kv-hello"))
    assert server.kv("put", "-n", "default", "k", "v" * 1024, timeout=60).returncode == 0
    r = requests.get(f"{server.url}/kv/k")
    assert r.status_code == 200 and r.content == b"v" * 1024 and r.headers["etag"]
    assert requests.get(f"{server.url}/kv/missing").status_code == 404


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
