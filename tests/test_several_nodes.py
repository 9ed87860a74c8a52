"""Several `edgekv serve` nodes on one PostgreSQL database (`--store postgres://...`): what one node
acknowledges, the other reads at once, through a REST API or a guest; compare-and-swap holds across
them; and a node whose database cannot be reached does not start. Needs a PostgreSQL server:
tests/run.sh starts a throwaway one and exports EDGEKV_TEST_POSTGRES_URL (tests/postgres.sh)."""

import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, CREDENTIALS_ENV, EDGEKV_BIN, guest

POSTGRES_URL = os.environ.get("EDGEKV_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="EDGEKV_TEST_POSTGRES_URL is not set: start a server with `eval \"$(tests/postgres.sh start)\"`",
)

BEARER = {"authorization": f"Bearer {API_TOKEN}"}


def psql(sql):
    subprocess.run(["psql", POSTGRES_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)


@pytest.fixture
def database():
    """The URL of a database of its own for this test, dropped afterwards."""
    name = f"edgekv_{uuid.uuid4().hex[:12]}"
    psql(f"CREATE DATABASE {name}")
    yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    psql(f"DROP DATABASE {name} WITH (FORCE)")


def two_nodes(edgekv, database, app):
    """Two servers on the database, started one after the other (each makes sure the app's
    namespace exists)."""
    return [edgekv(app=guest(app), args=["--store", database]) for _ in range(2)]


def cloudflare(node):
    return f"{node.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"


def test_a_write_acknowledged_by_one_node_is_read_at_once_on_the_other(edgekv, guests_dir, database):
    a, b = two_nodes(edgekv, database, "rust-kv-api")
    listed = requests.get(cloudflare(a), headers=BEARER).json()["result"]
    namespace_id = next(n["id"] for n in listed if n["title"] == "default")
    for i in range(20):
        value = f"written on A, {i}"
        put = requests.put(f"{cloudflare(a)}/{namespace_id}/values/k{i}", data=value, headers=BEARER)
        assert put.status_code == 200, put.text
        read = requests.get(f"{b.url}/kv/k{i}")
        assert (read.status_code, read.text) == (200, value)
    # And the other way: a guest's write on B, read through the Cloudflare API on A.
    assert requests.put(f"{b.url}/kv/from-b", data=b"guest on B").status_code in (200, 201)
    read = requests.get(f"{cloudflare(a)}/{namespace_id}/values/from-b", headers=BEARER)
    assert (read.status_code, read.content) == (200, b"guest on B")


def test_a_namespace_created_on_one_node_is_listed_on_the_other(edgekv, guests_dir, database):
    a, b = two_nodes(edgekv, database, "rust-kv-api")
    created = requests.post(f"{a.url}/v2/storage/kvs", json={"name": "made-on-a"}, headers=BEARER)
    assert created.status_code == 201, created.text
    listed = requests.get(f"{b.url}/v2/storage/kvs", headers=BEARER).json()["data"]
    assert "made-on-a" in [n["name"] for n in listed]
    # The node that found the schema in place says nothing of it.
    assert "already exists" not in b.log(), b.log()


def test_compare_and_swap_counts_every_increment_across_both_nodes(edgekv, guests_dir, database):
    a, b = two_nodes(edgekv, database, "rust-counter")
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda i: requests.get(f"{(a, b)[i % 2].url}/").status_code, range(64)))
    assert statuses == [200] * 64
    assert requests.get(f"{b.url}/").text.strip() == "65"
    assert requests.get(f"{a.url}/").text.strip() == "66"


def test_a_node_whose_database_cannot_be_reached_does_not_start(tmp_path):
    unreachable = "postgres://edgekv:not-this-password@127.0.0.1:9/edgekv"
    env = {**os.environ, **CREDENTIALS_ENV}
    env.pop("RUST_BACKTRACE", None)
    done = subprocess.run(
        [EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path), "--store", unreachable],
        env=env, capture_output=True, text=True, timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "postgres://edgekv@127.0.0.1:9/edgekv" in output, output
    assert "not-this-password" not in output, output
