"""Black-box tests of instance reuse (`instance_reuse = N` in edgekv.toml, `--instance-reuse N` for
the one-app form): an instance serves up to N requests one at a time and its globals survive
between them, never across instances; a trap, a deadline or memory exhaustion discards it at once;
idle instances give their slots up to requests that need one; a guest's output is tagged with the
request it serves. The Rust `misbehave` guest counts in a global (`/count`); the JavaScript
`js-workers-kv` guest does too, and spins or grows without bound on request."""

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import EDGEKV_BIN, guest

TIMEOUT = 30


def count(url, path="/count"):
    """(instance id, count) from misbehave's `/count`."""
    r = requests.get(f"{url}{path}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    instance, n = r.text.split()
    return instance, int(n)


def test_the_default_is_a_fresh_instance_per_request(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"), args=["--max-instances", "1"])
    replies = [count(server.url) for _ in range(4)]
    assert [n for _, n in replies] == [1, 1, 1, 1]
    assert len({instance for instance, _ in replies}) == 4


def test_an_instance_serves_n_requests_then_a_fresh_one_takes_over(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"), args=["--max-instances", "1", "--instance-reuse", "3"])
    replies = [count(server.url) for _ in range(7)]
    assert [n for _, n in replies] == [1, 2, 3, 1, 2, 3, 1]
    ids = [instance for instance, _ in replies]
    assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] == ids[5]
    assert len({ids[0], ids[3], ids[6]}) == 3


MISBEHAVE = """
[[apps]]
route = "/"
component = "{app}"
deadline_secs = 2
memory_mb = {memory}
instance_reuse = 100
"""


def test_a_trap_a_deadline_or_memory_exhaustion_discards_the_instance(edgekv, guests_dir):
    server = edgekv(config=MISBEHAVE.format(app=guest("misbehave"), memory=32), args=["--max-instances", "1"])
    url = server.url
    first, _ = count(url)
    assert count(url) == (first, 2)
    cases = [
        ("/trap", 500, "trapped"),
        ("/loop", 503, "deadline"),
        ("/oom", 503, "memory"),
        # A growth past the cap that the guest gets over still discards its instance.
        ("/grow-refused", 200, "refused"),
    ]
    for path, status, why in cases:
        r = requests.get(f"{url}{path}", timeout=TIMEOUT)
        assert r.status_code == status and why in r.text, (path, r.status_code, r.text)
        fresh, n = count(url)
        assert n == 1 and fresh != first, f"after {path} the next request saw the old instance's globals"
        assert count(url) == (fresh, 2)
        first = fresh


def test_concurrent_requests_never_share_an_instance(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"), args=["--max-instances", "8", "--instance-reuse", "100"])
    seen = {}
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(3):
            replies = list(pool.map(lambda _: count(server.url, "/count-slow"), range(6)))
            # Six requests at once: six instances, each serving one of them.
            assert len({instance for instance, _ in replies}) == 6, replies
            for instance, n in replies:
                seen.setdefault(instance, []).append(n)
    # Each instance counted its own requests, one at a time: 1, 2, ... with no gap or repeat.
    for instance, counts in seen.items():
        assert sorted(counts) == list(range(1, len(counts) + 1)), (instance, counts)
    assert sum(len(c) for c in seen.values()) == 18 and len(seen) < 18


TWO_APPS = """
[[apps]]
route = "/a"
component = "{app}"
instance_reuse = 100

[[apps]]
route = "/b"
component = "{app}"
instance_reuse = 100
"""


def test_idle_instances_give_their_slots_to_requests_that_need_one(edgekv, guests_dir):
    server = edgekv(config=TWO_APPS.format(app=guest("misbehave")), args=["--max-instances", "2"])
    # Two requests at once leave two idle instances of /a, holding both slots.
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda _: count(server.url, "/a/count-slow"), range(2)))
    assert len({instance for instance, _ in replies}) == 2
    # /b gets a slot from an idle instance of /a, and so does /a again after that.
    assert count(server.url, "/b/count")[1] == 1
    assert count(server.url, "/b/count")[1] == 2
    assert count(server.url, "/a/count")[1] == 2


def test_a_reused_instance_tags_its_output_with_each_request(edgekv, guests_dir):
    server = edgekv(
        app=guest("misbehave"),
        args=["--max-instances", "1", "--instance-reuse", "10"],
        env={"RUST_LOG": "info"},
    )
    for request_id in ["first-request", "second-request"]:
        r = requests.get(f"{server.url}/log", headers={"x-request-id": request_id}, timeout=TIMEOUT)
        assert r.status_code == 200
    assert server.count_in_log("hello on stdout", 2) == 2, server.log()
    stdout_lines = [l for l in server.log().splitlines() if "hello on stdout" in l]
    assert len(stdout_lines) == 2
    assert "first-request" in stdout_lines[0] and "second-request" in stdout_lines[1], stdout_lines


JS = """
[[apps]]
route = "/"
component = "{app}"
deadline_secs = 2
memory_mb = 64
instance_reuse = {reuse}
"""


def js_count(url):
    r = requests.get(f"{url}/count", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["count"]


def test_a_javascript_guest_keeps_its_globals_and_still_meets_its_limits(edgekv, guests_dir):
    fresh = edgekv(config=JS.format(app=guest("js-workers-kv"), reuse=1), args=["--max-instances", "1"])
    assert [js_count(fresh.url) for _ in range(3)] == [1, 1, 1]

    server = edgekv(config=JS.format(app=guest("js-workers-kv"), reuse=50), args=["--max-instances", "1"])
    url = server.url
    assert [js_count(url) for _ in range(3)] == [1, 2, 3]
    r = requests.get(f"{url}/spin", timeout=TIMEOUT)
    assert r.status_code == 503 and "deadline" in r.text, r.text
    assert [js_count(url) for _ in range(2)] == [1, 2]
    r = requests.get(f"{url}/grow", timeout=TIMEOUT)
    assert r.status_code in (500, 503), r.text
    assert re.search(r"memory limit|trapped", r.text), r.text
    assert [js_count(url) for _ in range(2)] == [1, 2]


def run_serve(*args, config=None, tmp_path):
    argv = [EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), *args]
    if config is not None:
        path = tmp_path / "edgekv.toml"
        path.write_text(config)
        argv += ["--config", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_bad_instance_reuse_settings_stop_the_start(tmp_path, guests_dir):
    app = guest("misbehave")
    zero = run_serve(app, "--instance-reuse", "0", tmp_path=tmp_path)
    assert zero.returncode != 0 and "--instance-reuse" in zero.stderr
    with_config = run_serve(
        "--instance-reuse", "5", config=MISBEHAVE.format(app=app, memory=32), tmp_path=tmp_path
    )
    assert with_config.returncode != 0 and "instance_reuse in each [[apps]]" in with_config.stderr
    zero_in_config = run_serve(config=MISBEHAVE.format(app=app, memory=32).replace("= 100", "= 0"), tmp_path=tmp_path)
    assert zero_in_config.returncode != 0 and "instance_reuse must be positive" in zero_in_config.stderr
    help_text = subprocess.run([EDGEKV_BIN, "serve", "--help"], capture_output=True, text=True).stdout
    assert "--instance-reuse <N>" in help_text and "instance_reuse = 1" in help_text
