"""Several `edgekv serve` nodes on one PostgreSQL database (`--store postgres://...`): what one node
acknowledges, the other reads at once, through a REST API or a guest; compare-and-swap holds across
them, a guest's and CloudFront's If-Match alike; and a node whose database cannot be reached does not start. Needs a PostgreSQL server:
tests/run.sh starts a throwaway one and exports EDGEKV_TEST_POSTGRES_URL (tests/postgres.sh)."""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, CREDENTIALS_ENV, EDGEKV_BIN, POSTGRES_URL, guest
from test_cloudfront import clients, etag, race_with_one_etag

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="EDGEKV_TEST_POSTGRES_URL is not set: start a server with `eval \"$(tests/postgres.sh start)\"`",
)

BEARER = {"authorization": f"Bearer {API_TOKEN}"}
RACE_ROUNDS = 5


def two_nodes(edgekv, database, app=None):
    """Two servers on the database, started one after the other (each makes sure the app's
    namespace exists)."""
    return [edgekv(app=app and guest(app), args=["--store", database]) for _ in range(2)]


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


def test_a_key_value_store_created_on_one_node_has_one_etag_and_one_if_match_on_both(edgekv, database):
    a, b = two_nodes(edgekv, database)
    (control_a, data_a), (control_b, data_b) = clients(a), clients(b)
    arn = control_a.create_key_value_store(Name="shared-kvs", Comment="made on A")["KeyValueStore"]["ARN"]
    on_b = control_b.describe_key_value_store(Name="shared-kvs")
    assert on_b["KeyValueStore"]["ARN"] == arn and on_b["ETag"] == control_a.describe_key_value_store(Name="shared-kvs")["ETag"]
    first = etag(data_a, arn)
    assert etag(data_b, arn) == first
    put = data_b.put_key(KvsARN=arn, Key="k", Value="put on B", IfMatch=first)
    assert put["ETag"] != first and etag(data_a, arn) == put["ETag"]
    for stale_on_a in (
        lambda: data_a.put_key(KvsARN=arn, Key="k", Value="stale on A", IfMatch=first),
        lambda: data_a.delete_key(KvsARN=arn, Key="k", IfMatch=first),
        lambda: data_a.update_keys(KvsARN=arn, IfMatch=first, Puts=[{"Key": "other", "Value": "stale on A"}]),
    ):
        with pytest.raises(data_a.exceptions.ConflictException):
            stale_on_a()
    for data in (data_a, data_b):
        described = data.describe_key_value_store(KvsARN=arn)
        assert (described["ETag"], described["ItemCount"]) == (put["ETag"], 1)
        assert data.get_key(KvsARN=arn, Key="k")["Value"] == "put on B"
    # And back: A writes with the current ETag, and B's stale one conflicts in turn.
    again = data_a.put_key(KvsARN=arn, Key="k", Value="put on A", IfMatch=put["ETag"])
    with pytest.raises(data_b.exceptions.ConflictException):
        data_b.put_key(KvsARN=arn, Key="k", Value="stale on B", IfMatch=put["ETag"])
    assert data_b.get_key(KvsARN=arn, Key="k")["Value"] == "put on A" and etag(data_b, arn) == again["ETag"]


def test_cloudfront_writers_on_both_nodes_with_one_etag_exactly_one_wins(edgekv, database):
    a, b = two_nodes(edgekv, database)
    control, _ = clients(a)
    arn = control.create_key_value_store(Name="raced")["KeyValueStore"]["ARN"]
    # A few rounds: each is a fresh chance for the nodes' transactions to overlap.
    for _ in range(RACE_ROUNDS):
        results = race_with_one_etag([a, b], arn, writers=8)
        winners = [r for r in results if r[0] == "ok"]
        assert len(winners) == 1 and sum(r[0] == "conflict" for r in results) == 7, results
        _, winner, winner_etag = winners[0]
        for node in (a, b):
            _, data = clients(node)
            assert data.get_key(KvsARN=arn, Key="race")["Value"] == f"writer {winner}"
            described = data.describe_key_value_store(KvsARN=arn)
            assert (described["ETag"], described["ItemCount"]) == (winner_etag, 1)


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
