"""Black-box tests of the host side of the standard `wasi:keyvalue` interfaces (store, atomics, batch)
in both versions, 0.2.0-draft and 0.2.0-draft2, through the test guests keyvalue-draft and
keyvalue-draft2 (they import only wasi:keyvalue and wasi:http) served next to rust-kv-api (the edgekv:kv
binding) on one server and one store: every operation, data crossing between the three bindings,
access-denied vs no-such-store, store rule errors as other("<variant>: <message>"), the decimal counter
encoding and exact concurrent increments, compare-and-swap (draft2), list-keys paging with each
version's cursor (also while keys change), and the batch calls."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import guest

CONFIG = """
[[namespaces]]
binding = "default"
profile = "cloudflare"

[[namespaces]]
binding = "second"
profile = "cloudflare"

[[namespaces]]
binding = "cfr"
profile = "cloudfront"

[[namespaces]]
binding = "declared-not-granted"
profile = "cloudflare"

[[apps]]
route = "/draft2"
component = "{draft2}"
bindings = ["default", "second", "cfr", "declared-nowhere"]

[[apps]]
route = "/draft"
component = "{draft}"
bindings = ["default", "second", "cfr", "declared-nowhere"]

[[apps]]
route = "/"
component = "{kv_api}"
bindings = ["default", "second", "cfr"]
"""

VERSIONS = ["draft", "draft2"]


@pytest.fixture
def server(edgekv, guests_dir):
    config = CONFIG.format(draft2=guest("keyvalue-draft2"), draft=guest("keyvalue-draft"), kv_api=guest("rust-kv-api"))
    return edgekv(config=config)


class Guest:
    """HTTP client for one keyvalue test guest."""

    def __init__(self, server, version):
        self.base = f"{server.url}/{version}"
        self.version = version
        self.session = requests.Session()

    def req(self, method, path, binding="default", **kw):
        headers = {"x-binding": binding, **kw.pop("headers", {})}
        return self.session.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kw)

    def get(self, key, **kw):
        return self.req("GET", f"/kv/{key}", **kw)

    def set(self, key, value, **kw):
        return self.req("PUT", f"/kv/{key}", data=value, **kw)

    def delete(self, key, **kw):
        return self.req("DELETE", f"/kv/{key}", **kw)

    def exists(self, key, **kw):
        r = self.req("GET", f"/exists/{key}", **kw)
        assert r.status_code == 200, r.text
        return r.json()["exists"]

    def incr(self, key, delta=None, **kw):
        params = {} if delta is None else {"delta": str(delta)}
        return self.req("POST", f"/incr/{key}", params=params, **kw)

    def keys_page(self, cursor=None, **kw):
        params = {} if cursor is None else {"cursor": str(cursor)}
        return self.req("GET", "/keys", params=params, **kw)

    def batch(self, op, lines, **kw):
        return self.req("POST", f"/batch/{op}", data="".join(f"{line}\n" for line in lines).encode(), **kw)


@pytest.fixture(params=VERSIONS)
def kv(request, server):
    return Guest(server, request.param)


def api_get(server, key, binding="default"):
    """Reads through rust-kv-api, the edgekv:kv binding."""
    return requests.get(f"{server.url}/kv/{key}", headers={"x-binding": binding}, timeout=60)


def api_put(server, key, value, binding="default"):
    return requests.put(f"{server.url}/kv/{key}", data=value, headers={"x-binding": binding}, timeout=60)


def assert_other(resp, variant):
    """A store error the host mapped to other("<variant>: <message>")."""
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error"] == "other", body
    assert body["variant"] == variant, body
    assert body["message"].startswith(f"{variant}: "), body
    return body["message"]


# ---- store ----


def test_set_get_exists_delete(kv):
    key = f"{kv.version}-greeting"
    assert kv.get(key).status_code == 404  # get of a missing key is Ok(none)
    assert kv.exists(key) is False
    assert kv.set(key, b"hello").status_code == 200
    r = kv.get(key)
    assert r.status_code == 200 and r.content == b"hello"
    assert kv.exists(key) is True
    assert kv.set(key, b"hello again").status_code == 200
    assert kv.get(key).content == b"hello again"
    assert kv.delete(key).status_code == 200
    assert kv.get(key).status_code == 404
    assert kv.exists(key) is False
    r = kv.delete(key)  # delete of a missing key is Ok
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_binary_values_and_encoded_keys_round_trip(kv):
    value = bytes(range(256)) * 100
    assert kv.set(f"{kv.version}%2Fbin%20ary", value).status_code == 200
    assert kv.get(f"{kv.version}%2Fbin%20ary").content == value


def test_buckets_are_the_granted_namespaces(kv):
    key = f"{kv.version}-where"
    assert kv.set(key, b"in default").status_code == 200
    assert kv.set(key, b"in second", binding="second").status_code == 200
    assert kv.get(key).content == b"in default"
    assert kv.get(key, binding="second").content == b"in second"


def test_writes_cross_between_wasi_keyvalue_and_edgekv_kv(server):
    draft, draft2 = Guest(server, "draft"), Guest(server, "draft2")
    # wasi:keyvalue -> edgekv:kv
    assert draft2.set("cross-a", b"from draft2").status_code == 200
    assert draft.set("cross-b", b"from draft", binding="second").status_code == 200
    r = api_get(server, "cross-a")
    assert r.status_code == 200 and r.content == b"from draft2"
    r = api_get(server, "cross-b", binding="second")
    assert r.status_code == 200 and r.content == b"from draft"
    assert api_get(server, "cross-b").status_code == 404  # not in the other namespace
    # edgekv:kv -> both wasi:keyvalue versions
    assert api_put(server, "cross-c", b"from edgekv:kv").status_code == 201
    assert draft.get("cross-c").content == b"from edgekv:kv"
    assert draft2.get("cross-c").content == b"from edgekv:kv"
    # the two versions share the store too; deletes cross as well
    assert draft.get("cross-a").content == b"from draft2"
    assert draft.delete("cross-a").status_code == 200
    assert api_get(server, "cross-a").status_code == 404
    assert draft2.exists("cross-a") is False


def test_open_distinguishes_access_denied_from_no_such_store(kv):
    for binding in ["not-granted", "declared-not-granted"]:
        r = kv.get("k", binding=binding)
        assert r.status_code == 403 and r.json() == {"error": "access-denied"}, (binding, r.text)
    r = kv.get("k", binding="declared-nowhere")
    assert r.status_code == 404 and r.json() == {"error": "no-such-store"}, r.text


def test_rule_errors_arrive_as_other_with_the_variant_prefix(kv):
    long_key = "k" * 513
    message = assert_other(kv.set(long_key, b"x"), "invalid-key")
    assert message == "invalid-key: key_too_large: 513 is over the limit of 512"
    assert_other(kv.get(long_key), "invalid-key")
    assert_other(kv.incr(long_key), "invalid-key")
    assert kv.set("k" * 512, b"x").status_code == 200
    assert_other(kv.set("%2E%2E", b"x"), "invalid-key")
    # cloudfront profile: values up to 1 KiB
    message = assert_other(kv.set(f"{kv.version}-big", b"x" * 1025, binding="cfr"), "value-too-large")
    assert "1025" in message and "1024" in message
    assert kv.get(f"{kv.version}-big", binding="cfr").status_code == 404


# ---- atomics: increment ----


def test_increment_keeps_decimal_text(kv, server):
    key = f"{kv.version}-counter"
    r = kv.incr(key, 5)  # a missing key starts at 0
    assert r.status_code == 200 and r.json() == {"value": 5}, r.text
    assert kv.incr(key).json() == {"value": 6}
    assert kv.get(key).content == b"6"
    assert api_get(server, key).content == b"6"  # readable as text through edgekv:kv
    assert api_put(server, key, b"41").status_code == 200
    assert kv.incr(key).json() == {"value": 42}
    assert api_get(server, key).content == b"42"
    if kv.version == "draft2":
        assert kv.incr(key, -50).json() == {"value": -8}
        assert kv.get(key).content == b"-8"


def test_increment_of_a_non_counter_is_an_error_not_a_trap(kv):
    key = f"{kv.version}-not-a-counter"
    for value in [b"hello", b"12abc", b"1.5", b" 7", b"\x00\x00\x00\x00\x00\x00\x00\x01"]:
        assert kv.set(key, value).status_code == 200
        message = assert_other(kv.incr(key), "other")
        assert "not a counter" in message, message
        assert kv.get(key).content == value  # unchanged


def test_increment_overflow_is_an_error(kv):
    key = f"{kv.version}-max"
    top = b"18446744073709551615" if kv.version == "draft" else b"9223372036854775807"
    assert kv.set(key, top).status_code == 200
    message = assert_other(kv.incr(key), "other")
    assert "outside the counter range" in message, message
    assert kv.get(key).content == top
    if kv.version == "draft":
        assert kv.set(key, b"-3").status_code == 200
        assert_other(kv.incr(key, 1), "other")  # -2 is not a u64
        assert kv.incr(key, 5).json() == {"value": 2}


def test_concurrent_increments_end_exact(kv):
    key = f"{kv.version}-hits"
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda _: kv.incr(key), range(64)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    values = sorted(r.json()["value"] for r in responses)
    assert values == list(range(1, 65))  # each increment applied once and saw its own result
    assert kv.get(key).content == b"64"


def test_both_versions_increment_one_counter(server):
    guests = [Guest(server, "draft"), Guest(server, "draft2")]
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda i: guests[i % 2].incr("shared-hits"), range(64)))
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.json()["value"] for r in responses) == list(range(1, 65))
    assert api_get(server, "shared-hits").content == b"64"


# ---- atomics: compare-and-swap (draft2 only) ----


def cas(server, key, value, **headers):
    return requests.post(f"{server.url}/draft2/cas/{key}", data=value, headers=headers, timeout=60)


def test_cas_swaps_when_unchanged(server):
    r = cas(server, "cas-a", b"one")  # absent key: create only
    assert r.status_code == 200 and r.json() == {"swapped": True, "previous": None}, r.text
    r = cas(server, "cas-a", b"two", **{"x-expect": "one"})
    assert r.status_code == 200 and r.json() == {"swapped": True, "previous": "one"}, r.text
    assert api_get(server, "cas-a").content == b"two"
    r = cas(server, "cas-a", b"three", **{"x-expect": "one"})
    assert r.status_code == 412 and r.json() == {"error": "unexpected-value", "current": "two"}
    assert api_get(server, "cas-a").content == b"two"


def test_stale_swap_fails_with_cas_failed_and_changes_nothing(server):
    assert api_put(server, "cas-b", b"original").status_code == 201
    # The guest reads the handle, then a write lands (x-interleave), then it swaps.
    r = cas(server, "cas-b", b"mine", **{"x-expect": "original", "x-interleave": "intruder"})
    assert r.status_code == 412, r.text
    # cas-failed carries a handle re-read at the latest version
    assert r.json() == {"error": "cas-failed", "current": "intruder"}
    assert api_get(server, "cas-b").content == b"intruder"
    # the same race on an absent key: a create-only swap loses to the interleaved create
    r = cas(server, "cas-c", b"mine", **{"x-interleave": "first"})
    assert r.status_code == 412 and r.json() == {"error": "cas-failed", "current": "first"}
    assert api_get(server, "cas-c").content == b"first"
    # a write of the same value still changes the version: no ABA
    assert api_put(server, "cas-d", b"same").status_code == 201
    r = cas(server, "cas-d", b"mine", **{"x-expect": "same", "x-interleave": "same"})
    assert r.status_code == 412 and r.json() == {"error": "cas-failed", "current": "same"}
    assert api_get(server, "cas-d").content == b"same"


def test_concurrent_cas_increments_end_exact(server):
    def bump(_):
        return requests.post(f"{server.url}/draft2/cas-incr/cas-counter", timeout=120)

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(bump, range(48)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    assert sorted(r.json()["value"] for r in responses) == list(range(1, 49))
    assert api_get(server, "cas-counter").content == b"48"


def test_cas_errors(server):
    r = requests.post(f"{server.url}/draft2/cas/x", data=b"v", headers={"x-binding": "nope"}, timeout=60)
    assert r.status_code == 403 and r.json() == {"error": "access-denied"}
    assert_other(cas(server, "k" * 513, b"v"), "invalid-key")
    assert requests.post(f"{server.url}/draft/cas/x", data=b"v", timeout=60).status_code == 404  # no CAS in draft


# ---- list-keys ----


def fill(kv, binding, keys):
    for start in range(0, len(keys), 1000):
        r = kv.batch("set", [f"{k}\t{k}" for k in keys[start : start + 1000]], binding=binding)
        assert r.status_code == 200, r.text


def page_all(kv, binding, on_page=None):
    seen, cursor, pages = [], None, 0
    while True:
        r = kv.keys_page(cursor, binding=binding)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        seen += page["keys"]
        cursor = page["cursor"]
        if kv.version == "draft":
            assert cursor is None or isinstance(cursor, int)
        if on_page:
            on_page(pages)
        if cursor is None:
            return seen, pages


def test_list_keys_pages_2500_keys(kv):
    keys = [f"item/{i:05}" for i in range(2500)]
    fill(kv, "second", keys)
    # across requests: the guest hands the cursor to its client and continues in a new instance
    seen, pages = page_all(kv, "second")
    assert pages == 3  # cloudflare pages hold 1000 keys
    assert seen == keys  # in key order, each exactly once
    # inside one request (one instance)
    r = kv.req("GET", "/all-keys", binding="second")
    assert r.status_code == 200, r.text
    assert r.json() == {"keys": keys, "pages": 3}


def test_list_keys_loses_no_key_while_keys_change(kv):
    # cloudfront pages hold 50 keys: 150 keys are three pages
    keys = [f"k{i:03}" for i in range(150)]
    for start in range(0, 150, 50):
        r = kv.batch("set", [f"{k}\tv" for k in keys[start : start + 50]], binding="cfr")
        assert r.status_code == 200, r.text

    def churn(page):
        if page == 1:
            # delete keys already returned and add keys before the cursor: an offset cursor would
            # now skip keys; a keyset cursor must not
            assert kv.batch("delete", keys[:40], binding="cfr").status_code == 200
            assert kv.batch("set", [f"a{i}\tv" for i in range(10)], binding="cfr").status_code == 200

    seen, pages = page_all(kv, "cfr", churn)
    assert pages == 3
    assert seen == keys


def test_list_keys_cursor_errors(kv):
    bad = "999999999" if kv.version == "draft" else "!!not-a-cursor!!"
    message = assert_other(kv.keys_page(bad), "other")
    assert "cursor" in message
    if kv.version == "draft":
        # 0 means the first page, like offset-based hosts
        assert kv.batch("set", ["a\t1", "b\t2"]).status_code == 200
        assert kv.keys_page(0).json() == {"keys": ["a", "b"], "cursor": None}
        assert kv.keys_page().json() == {"keys": ["a", "b"], "cursor": None}


# ---- batch ----


def test_batch_set_get_delete(kv, server):
    p = kv.version
    r = kv.batch("set", [f"{p}-b1\tone", f"{p}-b2\ttwo", f"{p}-b3\tthree"])
    assert r.status_code == 200, r.text
    r = kv.batch("get", [f"{p}-b1", f"{p}-missing", f"{p}-b3", f"{p}-b2"])
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"key": f"{p}-b1", "value": "one"},
        None,
        {"key": f"{p}-b3", "value": "three"},
        {"key": f"{p}-b2", "value": "two"},
    ]
    assert api_get(server, f"{p}-b2").content == b"two"  # written to the same store
    r = kv.batch("delete", [f"{p}-b1", f"{p}-missing", f"{p}-b2"])  # a missing key is skipped
    assert r.status_code == 200, r.text
    assert kv.batch("get", [f"{p}-b1", f"{p}-b2", f"{p}-b3"]).json() == [None, None, {"key": f"{p}-b3", "value": "three"}]
    assert kv.batch("get", []).json() == []
    assert kv.batch("delete", []).status_code == 200


def test_batch_rule_errors_write_nothing(kv):
    p = kv.version
    # cloudflare: a bulk get takes at most 100 keys
    message = assert_other(kv.batch("get", [f"{p}-{i}" for i in range(101)]), "quota-exceeded")
    assert "101" in message and "100" in message
    # cloudfront: a batch writes at most 50 keys; all or nothing
    message = assert_other(kv.batch("set", [f"{p}-q{i}\tv" for i in range(51)], binding="cfr"), "quota-exceeded")
    assert "51" in message
    assert kv.get(f"{p}-q0", binding="cfr").status_code == 404
    # one bad key fails the whole batch
    assert_other(kv.batch("set", [f"{p}-ok\tv", "k" * 513 + "\tv"]), "invalid-key")
    assert kv.get(f"{p}-ok").status_code == 404
