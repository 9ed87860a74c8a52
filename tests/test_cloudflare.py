"""The Cloudflare Workers KV REST API driven by the official `cloudflare` Python SDK (and raw HTTP for
what the SDK refuses to send) against a real edgekv server."""

import json
import time
import uuid

import cloudflare
import pytest
import requests
from cloudflare import Cloudflare

from conftest import API_TOKEN, CF_ACCOUNT_ID, guest

ACCT = CF_ACCOUNT_ID


@pytest.fixture
def server(edgekv):
    return edgekv()


@pytest.fixture
def cf(server):
    return Cloudflare(api_token=API_TOKEN, base_url=f"{server.url}/client/v4", max_retries=0)


@pytest.fixture
def ns(cf):
    return cf.kv.namespaces.create(account_id=ACCT, title=f"test-{uuid.uuid4().hex[:8]}").id


def raw(server, method, path, **kwargs):
    headers = {"Authorization": f"Bearer {API_TOKEN}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}/client/v4/accounts/{ACCT}/storage/kv/namespaces{path}", headers=headers, **kwargs)


def error_code(exc_info):
    return exc_info.value.body["errors"][0]["code"]


def test_namespace_lifecycle_and_paging(cf):
    titles = [f"ns-{i}" for i in range(5)]
    ids = [cf.kv.namespaces.create(account_id=ACCT, title=t).id for t in titles]
    assert all(len(i) == 32 for i in ids)
    listed = [n.title for n in cf.kv.namespaces.list(account_id=ACCT, per_page=2)]
    assert listed == sorted(titles)  # auto-pagination stops at the empty page
    desc = cf.kv.namespaces.list(account_id=ACCT, order="title", direction="desc", per_page=10)
    assert [n.title for n in desc.result] == sorted(titles, reverse=True)
    assert cf.kv.namespaces.get(ids[0], account_id=ACCT).title == "ns-0"
    cf.kv.namespaces.update(ids[0], account_id=ACCT, title="renamed")
    assert cf.kv.namespaces.get(ids[0], account_id=ACCT).title == "renamed"
    with pytest.raises(cloudflare.BadRequestError) as e:
        cf.kv.namespaces.create(account_id=ACCT, title="ns-1")
    assert error_code(e) == 10014
    cf.kv.namespaces.delete(ids[0], account_id=ACCT)
    with pytest.raises(cloudflare.NotFoundError) as e:
        cf.kv.namespaces.get(ids[0], account_id=ACCT)
    assert error_code(e) == 10013


def test_namespace_list_page_past_the_end_is_empty(server, cf, ns):
    r = raw(server, "GET", "?page=5&per_page=1.0")
    body = r.json()
    assert r.status_code == 200 and body["result"] == []
    assert body["result_info"] == {"count": 0, "page": 5, "per_page": 1, "total_count": 1}


def test_values_round_trip_with_metadata_and_expiry(cf, ns):
    key = "ünïcødé/日本 q?x=1&y#z %2F-literal"
    cf.kv.namespaces.values.update(key, account_id=ACCT, namespace_id=ns, value=b"\x00\x01binary", metadata={"type": "bin", "n": 1}, expiration_ttl=120)
    got = cf.kv.namespaces.values.get(key, account_id=ACCT, namespace_id=ns)
    assert got.read() == b"\x00\x01binary"
    assert abs(int(got.headers["expiration"]) - (time.time() + 120)) < 5
    assert cf.kv.namespaces.metadata.get(key, account_id=ACCT, namespace_id=ns) == {"type": "bin", "n": 1}
    keys = list(cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT))
    assert [k.name for k in keys] == [key] and keys[0].metadata == {"type": "bin", "n": 1}
    cf.kv.namespaces.values.delete(key, account_id=ACCT, namespace_id=ns)
    cf.kv.namespaces.values.delete(key, account_id=ACCT, namespace_id=ns)  # idempotent
    with pytest.raises(cloudflare.NotFoundError) as e:
        cf.kv.namespaces.values.get(key, account_id=ACCT, namespace_id=ns)
    assert error_code(e) == 10009
    with pytest.raises(cloudflare.NotFoundError):
        cf.kv.namespaces.metadata.get(key, account_id=ACCT, namespace_id=ns)


def test_raw_body_of_any_content_type_and_float_expiration(server, ns):
    at = int(time.time()) + 600
    r = raw(server, "PUT", f"/{ns}/values/plain?expiration={at}.0", data="hello", headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 200 and r.json()["success"] is True
    g = raw(server, "GET", f"/{ns}/values/plain")
    assert g.content == b"hello" and g.headers["expiration"] == str(at)
    # TTL wins over expiration.
    raw(server, "PUT", f"/{ns}/values/both?expiration={at}&expiration_ttl=100.0", data="x")
    assert abs(int(raw(server, "GET", f"/{ns}/values/both").headers["expiration"]) - (time.time() + 100)) < 5


def test_key_listing_pages_with_empty_cursor_on_last_page(cf, server, ns):
    body = [{"key": f"p/{i:03}", "value": "v"} for i in range(25)] + [{"key": "q", "value": "v"}]
    cf.kv.namespaces.bulk_update(namespace_id=ns, account_id=ACCT, body=body)
    names = [k.name for k in cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT, prefix="p/", limit=10)]
    assert names == [f"p/{i:03}" for i in range(25)]
    last = raw(server, "GET", f"/{ns}/keys?prefix=q&limit=10").json()
    assert last["result_info"] == {"count": 1, "cursor": ""}
    for bad in ("9", "1001"):
        r = raw(server, "GET", f"/{ns}/keys?limit={bad}")
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == 10028


def test_bulk_write_get_delete(cf, server, ns):
    body = [
        {"key": "b64", "value": "aGVsbG8=", "base64": True},
        {"key": "json", "value": json.dumps({"a": [1, 2]}), "metadata": {"m": True}, "expiration_ttl": 3600},
    ]
    out = cf.kv.namespaces.bulk_update(namespace_id=ns, account_id=ACCT, body=body)
    assert out.successful_key_count == 2 and out.unsuccessful_keys == []
    got = cf.kv.namespaces.bulk_get(namespace_id=ns, account_id=ACCT, keys=["b64", "json", "missing"])
    assert got.values == {"b64": "hello", "json": '{"a": [1, 2]}', "missing": None}
    meta = cf.kv.namespaces.bulk_get(namespace_id=ns, account_id=ACCT, keys=["json"], type="json", with_metadata=True)
    item = meta.values["json"]
    assert item.value == {"a": [1, 2]} and item.metadata == {"m": True} and item.expiration > time.time()
    r = raw(server, "POST", f"/{ns}/bulk/get", json={"keys": ["b64"], "type": "json"})
    assert r.status_code == 400
    r = raw(server, "POST", f"/{ns}/bulk/get", json={"keys": [f"k{i}" for i in range(101)]})
    assert r.status_code == 400
    cf.kv.namespaces.bulk_delete(namespace_id=ns, account_id=ACCT, body=["b64"])
    r = raw(server, "DELETE", f"/{ns}/bulk", json=["json", "never-existed"])  # legacy route wrangler uses
    assert r.status_code == 200 and r.json()["result"]["successful_key_count"] == 2
    assert list(cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT)) == []


def test_bulk_write_is_all_or_nothing(server, ns):
    body = [{"key": "ok", "value": "v"}, {"key": "k" * 513, "value": "v"}]
    r = raw(server, "PUT", f"/{ns}/bulk", json=body)
    assert r.status_code == 414
    assert raw(server, "GET", f"/{ns}/values/ok").status_code == 404


def test_rule_errors_use_cloudflare_statuses_and_codes(cf, server, ns):
    put = lambda key, **kw: cf.kv.namespaces.values.update(key, account_id=ACCT, namespace_id=ns, value=b"v", **kw)
    with pytest.raises(cloudflare.APIStatusError) as e:
        put("k" * 513)
    assert e.value.status_code == 414 and error_code(e) == 10030
    with pytest.raises(cloudflare.BadRequestError) as e:
        put("ttl", expiration_ttl=30)
    assert e.value.body["errors"][0] == {"code": 10034, "message": "Invalid expiration_ttl of 30. Expiration TTL must be at least 60."}
    with pytest.raises(cloudflare.BadRequestError) as e:
        put("exp", expiration=int(time.time()) + 10)
    assert error_code(e) == 10033
    with pytest.raises(cloudflare.APIStatusError) as e:
        put("meta", metadata={"m": "x" * 1100})
    assert e.value.status_code == 413
    # Spaced JSON from the SDK is measured compact: 1024 bytes compact is accepted.
    put("meta-ok", metadata={"m": "x" * (1024 - 8)})
    for dots in ("%2E", "%2E%2E", "."):
        r = raw(server, "PUT", f"/{ns}/values/{dots}", data="v")
        assert r.status_code == 400, dots
    r = raw(server, "PUT", f"/{ns}/values/%FF", data="v")
    assert r.status_code == 400
    r = raw(server, "PUT", f"/{ns}/values/a+b", data="plus")
    assert r.status_code == 200
    assert [k.name for k in cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT, prefix="a")] == ["a+b"]


def test_a_list_prefix_longer_than_a_key_is_refused_as_the_key_is(cf, ns):
    long = "p" * 513
    with pytest.raises(cloudflare.APIStatusError) as as_key:
        cf.kv.namespaces.values.update(long, account_id=ACCT, namespace_id=ns, value=b"v")
    with pytest.raises(cloudflare.APIStatusError) as as_prefix:
        list(cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT, prefix=long))
    assert as_prefix.value.status_code == as_key.value.status_code == 414
    assert as_prefix.value.body["errors"] == as_key.value.body["errors"]
    assert as_prefix.value.body["errors"][0] == {"code": 10030, "message": "UTF-8 encoded length of 513 exceeds key length limit of 512."}
    assert list(cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT, prefix=long[:512])) == []


def test_value_over_25_mib_is_refused_with_413(server, ns):
    limit = 25 * 1024 * 1024
    assert raw(server, "PUT", f"/{ns}/values/at-limit", data=b"x" * limit).status_code == 200
    r = raw(server, "PUT", f"/{ns}/values/over", data=b"x" * (limit + 1))
    assert r.status_code == 413 and r.json()["errors"][0]["code"] == 10024
    assert raw(server, "GET", f"/{ns}/values/over").status_code == 404


def test_auth_and_account_errors(server, ns):
    base = f"{server.url}/client/v4/accounts/{ACCT}/storage/kv/namespaces"
    r = requests.get(base)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 9106
    r = requests.get(base, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == 10000
    ok = requests.get(base, headers={"X-Auth-Email": "me@example.com", "X-Auth-Key": API_TOKEN})
    assert ok.status_code == 200
    other = base.replace(ACCT, "f" * 32)
    r = requests.get(other, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert r.status_code == 403
    r = requests.get(f"{base}/{ns}/nowhere", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 7003
    # The same API without /client/v4.
    bare = requests.get(f"{server.url}/accounts/{ACCT}/storage/kv/namespaces", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert bare.status_code == 200


def test_a_value_written_over_rest_is_read_by_a_guest(edgekv, guests_dir):
    server = edgekv(app=guest("rust-kv-api"))
    cf = Cloudflare(api_token=API_TOKEN, base_url=f"{server.url}/client/v4", max_retries=0)
    ns = next(n for n in cf.kv.namespaces.list(account_id=ACCT) if n.title == "default").id
    cf.kv.namespaces.values.update("from-rest", account_id=ACCT, namespace_id=ns, value=b"hi guest", metadata={"via": "sdk"})
    r = requests.get(f"{server.url}/kv/from-rest")
    assert r.status_code == 200 and r.content == b"hi guest" and json.loads(r.headers["x-metadata"]) == {"via": "sdk"}
    requests.put(f"{server.url}/kv/from-guest", data=b"hi sdk")
    assert cf.kv.namespaces.values.get("from-guest", account_id=ACCT, namespace_id=ns).read() == b"hi sdk"


KEYS = ["a/b", "with space", "100%", "a+b", "ünïcødé/日本", "sub-delims!$&'()*+,;=:@", "%2F-literal", "trailing/"]


def test_awkward_keys_round_trip(cf, ns):
    for key in KEYS:
        cf.kv.namespaces.values.update(key, account_id=ACCT, namespace_id=ns, value=key.encode())
    for key in KEYS:
        assert cf.kv.namespaces.values.get(key, account_id=ACCT, namespace_id=ns).read() == key.encode()
    listed = [k.name for k in cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT)]
    assert listed == sorted(KEYS, key=lambda k: k.encode())


def test_metadata_and_ttl_boundaries(cf, ns):
    def meta(n):  # compact JSON of exactly n bytes
        return {"m": "x" * (n - 8)}

    put = lambda key, **kw: cf.kv.namespaces.values.update(key, account_id=ACCT, namespace_id=ns, value=b"v", **kw)
    put("m1024", metadata=meta(1024))
    with pytest.raises(cloudflare.APIStatusError) as e:
        put("m1025", metadata=meta(1025))
    assert e.value.status_code == 413 and "1025" in e.value.body["errors"][0]["message"]
    put("ttl60", expiration_ttl=60)
    with pytest.raises(cloudflare.BadRequestError) as e:
        put("ttl59", expiration_ttl=59)
    assert e.value.body["errors"][0]["message"] == "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."


def test_paging_past_1000_keys_and_bulk_of_10000(cf, ns):
    body = [{"key": f"bulk/{i:05}", "value": str(i)} for i in range(10_000)]
    out = cf.kv.namespaces.bulk_update(namespace_id=ns, account_id=ACCT, body=body)
    assert out.successful_key_count == 10_000
    names = [k.name for k in cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT)]
    assert names == [f"bulk/{i:05}" for i in range(10_000)]
    got = cf.kv.namespaces.bulk_get(namespace_id=ns, account_id=ACCT, keys=[f"bulk/{i:05}" for i in range(100)])
    assert got.values["bulk/00099"] == "99"
    cf.kv.namespaces.bulk_delete(namespace_id=ns, account_id=ACCT, body=[f"bulk/{i:05}" for i in range(10_000)])
    assert list(cf.kv.namespaces.keys.list(namespace_id=ns, account_id=ACCT)) == []
    too_many = [{"key": f"k{i}", "value": "v"} for i in range(10_001)]
    with pytest.raises(cloudflare.BadRequestError):
        cf.kv.namespaces.bulk_update(namespace_id=ns, account_id=ACCT, body=too_many)
