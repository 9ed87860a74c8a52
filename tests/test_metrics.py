"""Prometheus metrics: `GET /_edgekv/metrics` (bearer token) and `/metrics` on the admin listener,
in the text format Prometheus' own client parses; what they count after real traffic (requests by
kind and status class, guest runs by outcome, KV operations by interface, operation, outcome and
rule, commit groups, slots, connections), bounded labels (no key ever appears), and a real
Prometheus server (Debian's package) scraping a running edgekv and answering its query API."""

import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from conftest import API_TOKEN, BACKEND, CF_ACCOUNT_ID, guest

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PROMETHEUS = shutil.which("prometheus")


def scrape(url):
    """Every sample of the metrics at `url`, as (name, labels, value)."""
    r = requests.get(url, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    ], r.text


def value(samples, name, **labels):
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(v for n, l, v in samples if n == name and labels.items() <= l.items())


def cloudflare(server, method, path, **kwargs):
    base = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    return requests.request(method, f"{base}{path}", headers=AUTH, **kwargs)


def test_traffic_is_counted_by_kind_outcome_and_rule(edgekv):
    server = edgekv(app=guest("rust-kv-api"))
    secret_key = "customer-4711-private"
    for i in range(3):
        assert requests.put(f"{server.url}/kv/{secret_key}", data=f"v{i}").status_code in (200, 201, 204)
    for _ in range(2):
        assert requests.get(f"{server.url}/kv/{secret_key}").status_code == 200
    assert requests.get(f"{server.url}/kv/missing-{secret_key}").status_code == 404
    too_long = requests.put(f"{server.url}/kv/{'k' * 600}", data="x")
    assert too_long.status_code == 400, too_long.text
    ns = cloudflare(server, "GET", "").json()["result"][0]["id"]
    short_ttl = cloudflare(server, "PUT", f"/{ns}/values/{secret_key}?expiration_ttl=10", data="x")
    assert short_ttl.status_code == 400, short_ttl.text

    samples, text = scrape(f"{server.url}/_edgekv/metrics")
    assert secret_key not in text, "a key became a label"
    requests_total = "edgekv_http_requests_total"
    assert value(samples, requests_total, kind="app", app="/", status="2xx") == 5
    assert value(samples, requests_total, kind="app", app="/", status="4xx") == 2
    assert value(samples, requests_total, kind="cloudflare", status="2xx") == 1
    assert value(samples, requests_total, kind="cloudflare", status="4xx") == 1
    assert value(samples, "edgekv_http_request_duration_seconds_count", kind="app", app="/") == 7
    assert value(samples, "edgekv_guest_runs_total", app="/", outcome="ok") == 7

    ops = "edgekv_kv_operations_total"
    assert value(samples, ops, interface="binding", operation="put", outcome="ok") == 3
    assert value(samples, ops, interface="binding", operation="get", outcome="ok") == 2
    assert value(samples, ops, interface="binding", operation="get", outcome="key_not_found") == 1
    assert value(samples, ops, interface="binding", operation="put", outcome="rule_broken", rule="key_too_large") == 1
    assert value(samples, ops, interface="cloudflare", operation="put", outcome="rule_broken", rule="ttl_too_short") == 1

    assert value(samples, "edgekv_store_commit_group_writes_count") >= 3
    assert value(samples, "edgekv_store_commit_group_writes_sum") >= 3
    assert value(samples, "edgekv_store_commit_group_duration_seconds_count") >= 3
    assert value(samples, "edgekv_store_write_queue_depth") == 0
    if BACKEND == "sqlite":
        lookups = "edgekv_store_point_read_cache_lookups_total"
        assert value(samples, lookups, result="hit") + value(samples, lookups, result="miss") >= 3
    assert value(samples, "edgekv_instance_slots") == 128
    assert value(samples, "edgekv_instance_slots_in_use") == 0
    assert value(samples, "edgekv_instance_slot_waiters") == 0
    assert value(samples, "edgekv_http_connections_open", listener="main") >= 1

    # The scrape itself is a request of the operations kind; the admin API is told from the browser's.
    assert requests.get(f"{server.url}/_edgekv/api/clock", headers=AUTH).status_code == 200
    assert requests.get(f"{server.url}/_edgekv/api/namespaces", headers=AUTH).status_code == 200
    again, _ = scrape(f"{server.url}/_edgekv/metrics")
    assert value(again, requests_total, kind="operations", status="2xx") >= 1
    assert value(again, requests_total, kind="admin", status="2xx") == 1
    assert value(again, requests_total, kind="browser", status="2xx") == 1


MISBEHAVE = """
[[namespaces]]
name = "default"
binding = "default"

[[apps]]
route = "/"
component = "{component}"
bindings = ["default"]
deadline_secs = 2
memory_mb = 16
"""


def test_guest_outcomes_and_slots(edgekv):
    server = edgekv(
        config=MISBEHAVE.format(component=guest("misbehave")), args=["--max-instances", "1"]
    )
    assert requests.get(f"{server.url}/trap").status_code == 500
    assert requests.get(f"{server.url}/oom").status_code == 503
    # One slot: a looping guest holds it until its deadline while a second request waits.
    slow = [threading.Thread(target=requests.get, args=(f"{server.url}/loop",)) for _ in range(2)]
    for t in slow:
        t.start()
    deadline = time.monotonic() + 10
    while True:
        samples, _ = scrape(f"{server.url}/_edgekv/metrics")
        busy = (value(samples, "edgekv_instance_slots_in_use"), value(samples, "edgekv_instance_slot_waiters"))
        if busy == (1, 1) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert busy == (1, 1)
    assert value(samples, "edgekv_instance_slots") == 1
    for t in slow:
        t.join()
    samples, _ = scrape(f"{server.url}/_edgekv/metrics")
    runs = "edgekv_guest_runs_total"
    assert value(samples, runs, app="/", outcome="trap") == 1
    assert value(samples, runs, app="/", outcome="out_of_memory") == 1
    assert value(samples, runs, app="/", outcome="deadline") == 2
    assert value(samples, "edgekv_instance_slot_waiters") == 0
    assert value(samples, "edgekv_http_requests_total", kind="app", status="5xx") == 4


def test_credentials_admin_listener_and_off(edgekv):
    server = edgekv(app=guest("rust-kv-api"), args=["--admin-listen", "127.0.0.1:0"])
    admin = server.wait_for_log(r"management APIs: (http://127\.0\.0\.1:\d+)/client/v4").group(1)
    metrics = f"{admin}/_edgekv/metrics"
    assert requests.get(metrics).status_code == 401
    assert requests.get(metrics).headers["www-authenticate"] == "Bearer"
    assert requests.get(metrics, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert requests.get(metrics, headers={"Authorization": "Bearer "}).status_code == 401
    scrape(metrics)
    # The admin listener's root serves them without credentials: it serves no guest.
    root, _ = scrape(f"{admin}/metrics")
    assert value(root, "edgekv_http_connections_open", listener="admin") >= 1
    # The main port's paths belong to the guest.
    assert requests.get(f"{server.url}/metrics").text.startswith("routes: ")

    off = edgekv(app=guest("rust-kv-api"), args=["--metrics", "off"])
    r = requests.get(f"{off.url}/_edgekv/metrics", headers=AUTH)
    assert r.status_code == 404 and "metrics are off" in r.text


def test_admin_listener_with_a_browser_listener_of_its_own_has_the_root_endpoints(edgekv):
    server = edgekv(args=["--admin-listen", "127.0.0.1:0", "--browser-listen", "127.0.0.1:0"])
    admin = server.wait_for_log(r"management APIs: (http://127\.0\.0\.1:\d+)/client/v4").group(1)
    for path in ("/livez", "/readyz"):
        assert requests.get(f"{admin}{path}").status_code == 200, path
    scrape(f"{admin}/metrics")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(tmp_path):
    """Factory: starts Debian's Prometheus scraping `target` (host:port) every second; returns its
    URL. Stopped at teardown."""
    if PROMETHEUS is None:
        pytest.fail("no prometheus binary: tests/run.sh installs Debian's prometheus package")
    started = []

    def start(target):
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: edgekv\n    metrics_path: /_edgekv/metrics\n"
            f"    authorization:\n      credentials: {API_TOKEN}\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    return url
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, f"prometheus exited: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "prometheus did not get ready"
            time.sleep(0.2)

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def query(url, promql):
    r = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_edgekv(edgekv, prometheus):
    server = edgekv(app=guest("rust-kv-api"))
    for i in range(5):
        assert requests.put(f"{server.url}/kv/k{i}", data="v").status_code in (200, 201, 204)
    url = prometheus(f"127.0.0.1:{server.port}")
    deadline = time.monotonic() + 90
    while True:
        up = query(url, 'up{job="edgekv"}')
        app_requests = query(url, 'sum(edgekv_http_requests_total{kind="app",status="2xx"})')
        puts = query(url, 'sum(edgekv_kv_operations_total{interface="binding",operation="put",outcome="ok"})')
        if (up, app_requests, puts) == (1, 5, 5) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (up, app_requests, puts) == (1, 5, 5)
    # Prometheus' own view of the target: healthy, no scrape error.
    targets = requests.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert [(t["health"], t["lastError"]) for t in targets] == [("up", "")]
