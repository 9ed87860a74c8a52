"""The Telnyx Edge Compute KV API driven by the official `telnyx` Python SDK (and the Node SDK, and raw
HTTP for raw-slash keys) against a real edgekv server."""

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
import telnyx
from telnyx import Telnyx

from conftest import API_TOKEN, guest

NO_TTL_CONFIG = """
[[namespaces]]
binding = "notx"
name = "no-ttl"
profile = "telnyx"
ttl = false
"""

LIMITS_CONFIG = """
[[namespaces]]
binding = "big"
name = "raised"
profile = "telnyx"
limits = { max_value_bytes = 2097152 }

[[namespaces]]
binding = "small"
name = "lowered"
profile = "telnyx"
limits = { max_value_bytes = 1000 }
"""


@pytest.fixture
def server(edgekv):
    return edgekv(config=NO_TTL_CONFIG)


@pytest.fixture
def tx(server):
    return Telnyx(api_key=API_TOKEN, base_url=f"{server.url}/v2", max_retries=0)


@pytest.fixture
def ns(tx):
    return tx.storage.kvs.create(name=f"ns-{uuid.uuid4().hex[:8]}").data.id


def raw(server, method, path, **kwargs):
    headers = {"Authorization": f"Bearer {API_TOKEN}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}/v2/storage/kvs{path}", headers=headers, **kwargs)


def test_namespace_lifecycle(tx):
    created = tx.storage.kvs.create(name="my-namespace-1").data
    assert created.name == "my-namespace-1" and created.status == "provision_ok"
    assert str(uuid.UUID(created.id)) == created.id
    got = tx.storage.kvs.retrieve(created.id).data
    assert got.id == created.id and got.created_at is not None
    with pytest.raises(telnyx.ConflictError) as e:
        tx.storage.kvs.create(name="my-namespace-1")
    assert e.value.response.headers["x-should-retry"] == "false"
    assert e.value.body["errors"][0]["code"] == "10012"
    for bad in ("Bad_Name", "", "x" * 256):
        with pytest.raises(telnyx.BadRequestError):
            tx.storage.kvs.create(name=bad)
    deleted = tx.storage.kvs.delete(created.id).data
    assert deleted.status == "deleting"
    with pytest.raises(telnyx.NotFoundError) as e:
        tx.storage.kvs.retrieve(created.id)
    assert e.value.body["errors"][0]["code"] == "10005"
    with pytest.raises(telnyx.BadRequestError) as e:
        tx.storage.kvs.retrieve("not-a-uuid")
    assert e.value.body["errors"][0]["code"] == "10006"


def test_namespace_list_pages_with_totals(tx, server):
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        tx.storage.kvs.create(name=name)
    listed = [n.name for n in tx.storage.kvs.list(page_size=2)]
    assert listed == ["no-ttl", *names]  # the config's namespace first, then in creation order
    body = raw(server, "GET", "?page%5Bsize%5D=2&page%5Bnumber%5D=2").json()
    assert body["meta"] == {"page_number": 2, "page_size": 2, "total_pages": 3, "total_results": 6}
    past = raw(server, "GET", "?page[size]=2&page[number]=9").json()
    assert past["data"] == []
    capped = raw(server, "GET", "?page[size]=1000").json()
    assert capped["meta"]["page_size"] == 250


def test_put_get_delete_with_content_type_and_status_codes(tx, server, ns):
    r = raw(server, "PUT", f"/{ns}/keys/doc.json", data=b'{"a":1}', headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.content == b""
    r = raw(server, "PUT", f"/{ns}/keys/doc.json", data=b'{"a":2}', headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    got = tx.storage.kvs.keys.retrieve("doc.json", id=ns)
    assert got.read() == b'{"a":2}' and got.headers["content-type"] == "application/json"
    # The Python SDK always sends application/octet-stream; it is stored and echoed.
    tx.storage.kvs.keys.update("bin", b"\x00\xff", id=ns)
    got = tx.storage.kvs.keys.retrieve("bin", id=ns)
    assert got.read() == b"\x00\xff" and got.headers["content-type"] == "application/octet-stream"
    # Whatever the Accept header says.
    g = raw(server, "GET", f"/{ns}/keys/doc.json", headers={"Accept": "text/html"})
    assert g.status_code == 200 and g.headers["content-type"] == "application/json"
    tx.storage.kvs.keys.delete("bin", id=ns)
    tx.storage.kvs.keys.delete("bin", id=ns)  # idempotent
    with pytest.raises(telnyx.NotFoundError):
        tx.storage.kvs.keys.retrieve("bin", id=ns)


def test_slash_keys_raw_and_encoded(tx, server, ns):
    tx.storage.kvs.keys.update("user/1", b"encoded", id=ns)  # the SDK sends user%2F1
    r = raw(server, "GET", f"/{ns}/keys/user/1")  # the Go SDK sends the slash raw
    assert r.status_code == 200 and r.content == b"encoded"
    assert raw(server, "PUT", f"/{ns}/keys/a/b/c/", data=b"raw").status_code == 201
    assert tx.storage.kvs.keys.retrieve("a/b/c/", id=ns).read() == b"raw"


def test_key_rules(tx, server, ns):
    for bad in ("_reserved", "bad:key", "sp ace", "k" * 257):
        with pytest.raises(telnyx.BadRequestError) as e:
            tx.storage.kvs.keys.update(bad, b"v", id=ns)
        assert e.value.body["errors"][0]["code"] == "10015", bad
    tx.storage.kvs.keys.update("a-Z_0.9=x/y.z==", b"ok", id=ns)
    tx.storage.kvs.keys.update("k" * 256, b"ok", id=ns)


def test_value_size_limit(server, ns):
    assert raw(server, "PUT", f"/{ns}/keys/max", data=b"x" * (1024 * 1024)).status_code == 201
    r = raw(server, "PUT", f"/{ns}/keys/over", data=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413
    assert raw(server, "GET", f"/{ns}/keys/over").status_code == 404


def test_value_limits_are_the_namespace_s_own(edgekv):
    server = edgekv(config=LIMITS_CONFIG)
    tx = Telnyx(api_key=API_TOKEN, base_url=f"{server.url}/v2", max_retries=0)
    ids = {n.name: n.id for n in tx.storage.kvs.list()}
    raised, lowered = ids["raised"], ids["lowered"]
    assert raw(server, "PUT", f"/{raised}/keys/k", data=b"x" * (2 * 1024 * 1024)).status_code == 201
    r = raw(server, "PUT", f"/{raised}/keys/over", data=b"x" * (2 * 1024 * 1024 + 1))
    assert r.status_code == 413
    assert r.json()["errors"][0]["detail"] == "The value is 2097153 bytes, over the limit of 2097152 bytes"
    assert raw(server, "PUT", f"/{lowered}/keys/k", data=b"x" * 1000).status_code == 201
    r = raw(server, "PUT", f"/{lowered}/keys/over", data=b"x" * 1001)
    assert r.status_code == 413
    assert r.json()["errors"][0]["detail"] == "The value is 1001 bytes, over the limit of 1000 bytes"
    assert raw(server, "GET", f"/{lowered}/keys/over").status_code == 404


def test_a_content_type_the_store_refuses_is_400_and_stores_nothing(server, ns):
    r = raw(server, "PUT", f"/{ns}/keys/typed", data=b"v", headers={"Content-Type": "a" * 300})
    assert r.status_code == 400
    error = r.json()["errors"][0]
    assert error["code"] == "10015" and error["source"] == {"header": "Content-Type"}
    assert "256 bytes" in error["detail"], error
    assert raw(server, "GET", f"/{ns}/keys/typed").status_code == 404


def test_ttl_expires_keys(tx, server, ns):
    tx.storage.kvs.keys.update("ttl/short", b"s", id=ns, ttl_secs=1)
    tx.storage.kvs.keys.update("ttl/long", b"l", id=ns, ttl_secs=3600)
    assert tx.storage.kvs.keys.retrieve("ttl/short", id=ns).read() == b"s"
    time.sleep(1.5)
    with pytest.raises(telnyx.NotFoundError):
        tx.storage.kvs.keys.retrieve("ttl/short", id=ns)
    assert [k.key for k in tx.storage.kvs.keys.list(ns, prefix="ttl/")] == ["ttl/long"]


def test_ttl_parameter_errors(tx, server, ns):
    for query in ("ttl_secs=0", "ttl_secs=9223372037", "ttl_secs=abc", "ttl_secs=-5", "ttl=60"):
        r = raw(server, "PUT", f"/{ns}/keys/k?{query}", data=b"v")
        assert r.status_code == 422, query
    assert raw(server, "PUT", f"/{ns}/keys/k?ttl_secs=9223372036", data=b"v").status_code == 201


def test_ttl_on_a_namespace_without_ttl_support_is_409(tx, server):
    no_ttl = next(n for n in tx.storage.kvs.list() if n.name == "no-ttl").id
    with pytest.raises(telnyx.ConflictError) as e:
        tx.storage.kvs.keys.update("k", b"v", id=no_ttl, ttl_secs=60)
    assert e.value.response.headers["x-should-retry"] == "false"
    tx.storage.kvs.keys.update("k", b"v", id=no_ttl)


def test_listing_pages_through_2500_keys(tx, server, ns):
    for i in range(2500):
        assert raw(server, "PUT", f"/{ns}/keys/p/{i:05}", data=b"v").status_code == 201
    raw(server, "PUT", f"/{ns}/keys/q", data=b"v")
    names = [k.key for k in tx.storage.kvs.keys.list(ns, prefix="p/", limit=1000)]
    assert names == [f"p/{i:05}" for i in range(2500)]
    first = raw(server, "GET", f"/{ns}/keys?limit=2000&prefix=p/").json()
    assert len(first["data"]) == 1000 and first["meta"]["has_more"] is True and first["meta"]["cursor"]
    last = raw(server, "GET", f"/{ns}/keys?prefix=q").json()
    assert last["meta"] == {"has_more": False}
    assert last["data"][0]["size_bytes"] == 1 and last["data"][0]["updated_at"].endswith("Z")
    assert raw(server, "GET", f"/{ns}/keys?limit=0").status_code == 400


def test_auth_is_required(server):
    assert requests.get(f"{server.url}/v2/storage/kvs").status_code == 401
    r = requests.get(f"{server.url}/v2/storage/kvs", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "10009"


def test_unknown_namespace_is_404(tx):
    missing = str(uuid.uuid4())
    with pytest.raises(telnyx.NotFoundError):
        tx.storage.kvs.keys.retrieve("k", id=missing)
    with pytest.raises(telnyx.NotFoundError):
        tx.storage.kvs.keys.update("k", b"v", id=missing)


def test_a_key_put_through_telnyx_is_read_by_a_guest(edgekv, guests_dir):
    config = f"""
[[namespaces]]
binding = "default"
name = "shared"
profile = "telnyx"

[[apps]]
route = "/"
component = "{guest('rust-kv-api')}"
bindings = ["default"]
"""
    server = edgekv(config=config)
    tx = Telnyx(api_key=API_TOKEN, base_url=f"{server.url}/v2", max_retries=0)
    ns = next(n for n in tx.storage.kvs.list() if n.name == "shared").id
    raw(server, "PUT", f"/{ns}/keys/greeting", data=b"from telnyx", headers={"Content-Type": "text/plain"})
    r = requests.get(f"{server.url}/kv/greeting")
    assert r.status_code == 200 and r.content == b"from telnyx" and r.headers["content-type"] == "text/plain"


NODE_DIR = Path(__file__).parent / "node"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_sdk_put_get_list_delete(server, ns):
    if not (NODE_DIR / "node_modules" / "telnyx").is_dir():
        pytest.fail("run `npm ci` in tests/node (tests/run.sh does)")
    env = {**os.environ, "EDGEKV_URL": server.url, "EDGEKV_TOKEN": API_TOKEN, "EDGEKV_NS": ns}
    out = subprocess.run(["node", "telnyx_sdk.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "value": '{"from":"node"}',
        "contentType": "application/json",
        "keys": ["node/a", "node/b"],
        "afterDelete": 404,
    }
