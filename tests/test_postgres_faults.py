"""Faults under write load, on two `edgekv serve` nodes sharing a PostgreSQL database of their own
(tests/postgres.sh starts it, crashes it, restarts it): a database crash and restart, and a node's
kill -9. Every write a node acknowledged is there afterwards; while the database is down every API
answers 503 in its own format and a guest gets the binding's `other` error; both nodes serve again
once it is back, without being restarted."""

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, REPO, guest

POSTGRES = shutil.which("initdb") or next(Path("/usr/lib/postgresql").glob("*/bin/initdb"), None)
pytestmark = pytest.mark.skipif(
    not os.environ.get("EDGEKV_TEST_POSTGRES_URL") and POSTGRES is None,
    reason="no PostgreSQL server binaries (tests/postgres.sh installs them)",
)

BEARER = {"authorization": f"Bearer {API_TOKEN}"}
POSTGRES_SH = str(REPO / "tests" / "postgres.sh")
WRITERS = 8
RECOVERY_TIMEOUT = 60
OUTAGE_TIMEOUT = 30


@pytest.fixture
def postgres():
    """A PostgreSQL server of this test's own: (url, directory). Stopped and removed afterwards."""
    out = subprocess.run([POSTGRES_SH, "start"], capture_output=True, text=True, check=True).stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    url, directory = (exports[k].strip("'") for k in ("EDGEKV_TEST_POSTGRES_URL", "EDGEKV_TEST_POSTGRES_DIR"))
    yield url, directory
    subprocess.run([POSTGRES_SH, "stop", directory], capture_output=True)


def crash(directory):
    subprocess.run([POSTGRES_SH, "crash", directory], capture_output=True, check=True)


def restart(directory):
    subprocess.run([POSTGRES_SH, "restart", directory], capture_output=True, check=True)


def values_url(node, namespace_id):
    return f"{node.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{namespace_id}/values"


def default_namespace(node):
    listed = requests.get(
        f"{node.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces", headers=BEARER, timeout=30
    ).json()["result"]
    return next(n["id"] for n in listed if n["title"] == "default")


class WriteLoad:
    """WRITERS threads writing distinct keys through the Cloudflare API, round robin over the nodes,
    until stopped (at most `limit` writes each). Records what each write was answered."""

    def __init__(self, nodes, namespace_id, limit=100_000):
        self.nodes, self.namespace_id, self.limit = nodes, namespace_id, limit
        self.acknowledged = {}  # key -> value, for every 200
        self.statuses = []  # (monotonic time, node index, status or exception name)
        self.errors = []  # the exceptions themselves, for a failure's message
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.write, args=(w,)) for w in range(WRITERS)]
        for thread in self.threads:
            thread.start()

    def write(self, writer):
        session = requests.Session()
        for i in range(self.limit):
            if self.stopping.is_set():
                return
            n = (writer + i) % len(self.nodes)
            key, value = f"w{writer}-{i}", f"value {writer}/{i} " + "x" * (i % 97)
            try:
                put = session.put(f"{values_url(self.nodes[n], self.namespace_id)}/{key}", data=value,
                                  headers=BEARER, timeout=30)
                outcome = put.status_code
                if put.status_code == 200:
                    self.acknowledged[key] = value
                elif put.status_code == 503:
                    assert_cloudflare_unavailable(put)
            except requests.RequestException as e:
                outcome = type(e).__name__
                self.errors.append(f"node {n}: {e!r}")
            self.statuses.append((time.monotonic(), n, outcome))

    def count(self):
        return len(self.statuses)

    def failed_since(self, started):
        return any(t > started and status != 200 for t, _, status in list(self.statuses))

    def wait_for_more(self, writes, timeout=RECOVERY_TIMEOUT):
        """Waits until `writes` more writes were answered 200 on every node since the call."""
        since = time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            recent = [(n, s) for t, n, s in list(self.statuses) if t > since]
            if all(sum(1 for m, s in recent if m == n and s == 200) >= writes for n in range(len(self.nodes))):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {writes} acknowledged writes on every node within {timeout} s")

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=120)


def assert_cloudflare_unavailable(resp):
    body = resp.json()
    assert body["success"] is False and body["errors"][0]["code"] == 10001, body


def assert_every_acknowledged_write_is_there(node, namespace_id, acknowledged):
    session = requests.Session()
    missing = []
    for key, value in acknowledged.items():
        got = session.get(f"{values_url(node, namespace_id)}/{key}", headers=BEARER, timeout=30)
        if (got.status_code, got.text) != (200, value):
            missing.append((key, got.status_code))
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged writes are missing: {missing[:5]}"


def assert_each_api_answers_503_in_its_own_format(node, namespace_id):
    cloudflare = requests.get(f"{values_url(node, namespace_id)}/some-key", headers=BEARER, timeout=30)
    assert cloudflare.status_code == 503, cloudflare.text
    assert_cloudflare_unavailable(cloudflare)
    telnyx = requests.get(f"{node.url}/v2/storage/kvs", headers=BEARER, timeout=30)
    assert telnyx.status_code == 503, telnyx.text
    assert telnyx.json()["errors"][0]["code"], telnyx.text
    guest_read = requests.get(f"{node.url}/kv/some-key", timeout=30)
    assert guest_read.json()["error"] == "other", guest_read.text
    assert "unavailable" in guest_read.json()["message"], guest_read.text


def timeline(load, since):
    """Every write that was not a 200, as (seconds after `since`, node, outcome)."""
    return [(round(t - since, 3), n, s) for t, n, s in list(load.statuses) if s != 200 and t > since - 1]


def notable(log):
    """A node's log lines that are not 200 access lines (warnings, errors, panics, failures)."""
    return "\n".join(line for line in log.splitlines() if " 200 " not in line)[-6000:]


def two_nodes_under_write_load(edgekv, url):
    """Two nodes serving rust-kv-api on the database at `url`, and a write load on both."""
    # Connection-level events are logged at debug: a failure's message shows them.
    env = {"RUST_LOG": "info,edgekv::front_door=debug"}
    a, b = (edgekv(app=guest("rust-kv-api"), args=["--store", url], env=env) for _ in range(2))
    namespace_id = default_namespace(a)
    return a, b, namespace_id, WriteLoad([a, b], namespace_id)


def test_a_database_crash_under_write_load_loses_no_acknowledged_write(edgekv, guests_dir, postgres):
    url, directory = postgres
    a, b, namespace_id, load = two_nodes_under_write_load(edgekv, url)
    try:
        load.wait_for_more(20)
        crash(directory)
        outage_started = time.monotonic()
        for node in (a, b):
            assert_each_api_answers_503_in_its_own_format(node, namespace_id)
        # Keep the database down until the load has met the outage: the checks above can be
        # quicker than every writer's next request.
        deadline = time.monotonic() + OUTAGE_TIMEOUT
        while not load.failed_since(outage_started) and time.monotonic() < deadline:
            time.sleep(0.05)
        restart(directory)
        load.wait_for_more(20)
    finally:
        load.stop()
    during = [s for t, _, s in load.statuses if t > outage_started and s != 200]
    assert during, "no write failed while the database was down"
    assert set(during) == {503}, (
        f"writes failed otherwise than with 503: {set(during)}: {load.errors[:3]}\n"
        f"timeline (s after the crash, node, outcome): {timeline(load, outage_started)}\n"
        f"node a:\n{notable(a.log())}\nnode b:\n{notable(b.log())}"
    )
    for node in (a, b):
        assert_every_acknowledged_write_is_there(node, namespace_id, load.acknowledged)


def test_a_node_killed_under_write_load_loses_no_acknowledged_write(edgekv, guests_dir, postgres):
    url, _ = postgres
    a, b, namespace_id, load = two_nodes_under_write_load(edgekv, url)
    try:
        load.wait_for_more(50)
        a.kill()
        killed = time.monotonic()
        time.sleep(0.5)
        # The other node keeps serving: its writes are still acknowledged.
        b_after = lambda: sum(1 for t, n, s in list(load.statuses) if t > killed and n == 1 and s == 200)
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while b_after() < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b_after() >= 50
    finally:
        load.stop()
    failed_on_b = [s for t, n, s in load.statuses if n == 1 and s != 200]
    assert not failed_on_b, f"the surviving node failed writes: {failed_on_b[:5]}"
    a.start()  # a new process on the same database
    for node in (a, b):
        assert_every_acknowledged_write_is_there(node, namespace_id, load.acknowledged)
