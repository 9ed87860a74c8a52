"""One suite for the example guest in every language: the same requests to each component must get
the same responses. Each guest exposes the same routes (see templates/rust/src/lib.rs):

- rust-kv-api, js-kv-api, c-kv-api and python-kv-lib are the app templates (templates/<lang>) made
  with `edgekv new` by guest-examples/build.sh; they use the edgekv:kv binding: metadata, content
  type, TTL and ETag preconditions, through their language's guest library (guest-libs/);
- python-kv-api uses the standard wasi:keyvalue@0.2.0-draft2 interfaces instead, which have no
  metadata, expiry or ETag: it refuses those headers with 400 `unsupported`, and the suite checks
  that, so nothing is silently dropped.

Every profile's key, value, metadata, expiry and quota errors arrive with the same variant name and
status through either interface."""

import json
import time

import pytest
import requests

from conftest import guest

EDGEKV = "edgekv:kv"
KEYVALUE = "wasi:keyvalue"
GUESTS = {
    "rust-kv-api": EDGEKV,
    "js-kv-api": EDGEKV,
    "python-kv-api": KEYVALUE,
    "c-kv-api": EDGEKV,
    "python-kv-lib": EDGEKV,
}

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


class Guest:
    def __init__(self, server, interface):
        self.url = server.url
        self.interface = interface
        self.http = requests.Session()

    @property
    def full(self):
        """Whether the guest has metadata, expiry and ETags (the edgekv:kv binding)."""
        return self.interface == EDGEKV

    def put(self, key, value=b"v", binding="default", **headers):
        return self.http.put(f"{self.url}/kv/{key}", data=value, headers={"x-binding": binding, **headers})

    def get(self, key, binding="default"):
        return self.http.get(f"{self.url}/kv/{key}", headers={"x-binding": binding})

    def delete(self, key, binding="default", **headers):
        return self.http.delete(f"{self.url}/kv/{key}", headers={"x-binding": binding, **headers})

    def list(self, binding="default", **params):
        return self.http.get(f"{self.url}/kv", params=params, headers={"x-binding": binding})

    def refused_or(self, resp, status, variant):
        """`variant` from an edgekv:kv guest; `unsupported` from a wasi:keyvalue one."""
        if self.full:
            return assert_error(resp, status, variant)
        return assert_error(resp, 400, "unsupported")


def assert_error(resp, status, variant):
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == variant, resp.text
    return resp.json()


@pytest.fixture(params=list(GUESTS), scope="module")
def app(request, tmp_path_factory):
    """A server running one language's guest (one per module run, shared by its tests)."""
    import conftest

    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    (tmp / "edgekv.toml").write_text(CONFIG.format(app=guest(name)))
    # One compile cache for every server of the session: the JS and Python components are large.
    cache = tmp_path_factory.getbasetemp() / "component-cache"
    env = {**conftest.os.environ, **conftest.CREDENTIALS_ENV, "EDGEKV_CACHE_DIR": str(cache)}
    env.pop("RUST_BACKTRACE", None)
    server = conftest.Server(tmp / "data", ["--config", str(tmp / "edgekv.toml")], env)
    yield Guest(server, GUESTS[name])
    server.stop()


_unique = iter(range(1_000_000))


@pytest.fixture
def k():
    """A key prefix no other test in the module uses (the server is shared per language)."""
    return f"t{next(_unique)}-"


def test_put_get_delete(app, k):
    r = app.put(f"{k}greeting", b"hello")
    assert r.status_code == 201 and r.json()["created"] is True
    g = app.get(f"{k}greeting")
    assert g.status_code == 200 and g.content == b"hello"
    assert g.headers["content-type"] == "application/octet-stream"
    r = app.put(f"{k}greeting", b"hi again")
    assert r.status_code == 200 and r.json()["created"] is False
    assert app.get(f"{k}greeting").content == b"hi again"
    d = app.delete(f"{k}greeting")
    assert d.status_code == 200 and d.json() == {"deleted": True}
    assert app.get(f"{k}greeting").status_code == 404
    assert app.get(f"{k}greeting").json() == {"error": "not-found"}
    assert app.delete(f"{k}greeting").json() == {"deleted": False}


def test_metadata_content_type_and_ttl(app, k):
    headers = {"content-type": "text/plain", "x-metadata": '{"lang": "en"}', "x-ttl": "120"}
    before = int(time.time() * 1000)
    r = app.put(f"{k}greeting", b"hello", **headers)
    if not app.full:
        assert_error(r, 400, "unsupported")
        assert app.get(f"{k}greeting").status_code == 404, "a refused write must write nothing"
        return
    assert r.status_code == 201
    etag = r.headers["etag"]
    g = app.get(f"{k}greeting")
    assert g.headers["content-type"] == "text/plain"
    assert g.headers["etag"] == etag
    assert json.loads(g.headers["x-metadata"]) == {"lang": "en"}
    assert before + 120_000 <= int(g.headers["x-expires-at-ms"]) <= int(time.time() * 1000) + 120_000
    r = app.put(f"{k}greeting", b"x", **{"x-expiration": str(int(time.time()) + 3600)})
    assert r.status_code == 200 and r.headers["etag"] != etag


def test_keys_are_percent_decoded_once(app, k):
    assert app.put(f"{k}a%2Fb%20c%25", b"x").status_code == 201
    page = app.list(prefix=f"{k}a/").json()
    assert [key["name"] for key in page["keys"]] == [f"{k}a/b c%"]
    assert app.get(f"{k}a%2Fb%20c%25").content == b"x"


def test_binary_values_round_trip(app, k):
    value = bytes(range(256)) * 4000
    assert app.put(f"{k}bin", value).status_code == 201
    assert app.get(f"{k}bin").content == value


def test_list_pages_with_prefix_cursor_and_limit(app, k):
    for i in range(25):
        assert app.put(f"{k}user/{i:02}", b"x" * i).status_code == 201
    app.put(f"{k}other", b"x")
    names, sizes, cursor = [], [], None
    while True:
        params = {"prefix": f"{k}user/", "limit": "10", **({"cursor": cursor} if cursor else {})}
        page = app.list(**params).json()
        assert len(page["keys"]) <= 10
        names += [key["name"] for key in page["keys"]]
        sizes += [key["size"] for key in page["keys"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert names == [f"{k}user/{i:02}" for i in range(25)]
    if app.full:
        assert sizes == list(range(25))


def test_cloudflare_profile_errors(app, k):
    key = k + "k" * (512 - len(k))
    assert app.put(key).status_code == 201
    body = assert_error(app.put(key + "k"), 400, "invalid-key")
    assert "512" in body["message"] and "513" in body["message"]
    assert_error(app.put("%2E%2E", b"x"), 400, "invalid-key")
    assert_error(app.get("%2E%2E"), 400, "invalid-key")
    app.refused_or(app.put(f"{k}m", **{"x-metadata": json.dumps({"m": "x" * 1100})}), 413, "metadata-too-large")
    app.refused_or(app.put(f"{k}t", **{"x-ttl": "59"}), 400, "invalid-expiration")
    app.refused_or(app.put(f"{k}t", **{"x-expiration": str(int(time.time()) + 10)}), 400, "invalid-expiration")
    big = b"x" * (25 * 1024 * 1024 + 1)
    body = assert_error(app.put(f"{k}big", big), 413, "value-too-large")
    assert str(25 * 1024 * 1024) in body["message"]
    assert app.get(f"{k}big").status_code == 404


def test_cloudfront_profile_errors(app, k):
    assert app.put(f"{k}k", b"x" * 1024, binding="cfr").status_code == 201
    assert_error(app.put(f"{k}k", b"x" * 1025, binding="cfr"), 413, "value-too-large")
    assert_error(app.put("k" * 513, binding="cfr"), 400, "invalid-key")
    app.refused_or(app.put(f"{k}m", binding="cfr", **{"x-metadata": "{}"}), 413, "metadata-too-large")
    app.refused_or(app.put(f"{k}t", binding="cfr", **{"x-ttl": "3600"}), 400, "invalid-expiration")
    # The config caps this store at 2000 bytes of keys + values.
    assert app.put(f"{k}j", b"x" * 900, binding="cfr").status_code == 201
    body = assert_error(app.put(f"{k}l", b"x" * 100, binding="cfr"), 413, "quota-exceeded")
    assert "2000" in body["message"]
    assert app.delete(f"{k}k", binding="cfr").json() == {"deleted": True}
    assert app.delete(f"{k}j", binding="cfr").json() == {"deleted": True}


def test_telnyx_profile_errors(app, k):
    assert app.put(f"{k}a-b/c_d=e.f", binding="tx").status_code == 201
    assert_error(app.put("_reserved", binding="tx"), 400, "invalid-key")
    assert_error(app.put("sp%20ace", binding="tx"), 400, "invalid-key")
    assert_error(app.put("k" * 257, binding="tx"), 400, "invalid-key")
    assert_error(app.put(f"{k}k", b"x" * (1024 * 1024 + 1), binding="tx"), 413, "value-too-large")
    if app.full:
        assert app.put(f"{k}short", binding="tx", **{"x-ttl": "1"}).status_code == 201
    app.refused_or(app.put(f"{k}k", binding="notx", **{"x-ttl": "10"}), 400, "invalid-expiration")
    assert app.put(f"{k}k", binding="notx").status_code == 201


def test_preconditions_conflict_and_change_nothing(app, k):
    doc = f"{k}doc"
    first = app.put(doc, b"1", **{"if-none-match": "*"})
    if not app.full:
        assert_error(first, 400, "unsupported")
        assert app.put(doc, b"1").status_code == 201
        app.refused_or(app.put(doc, b"x", **{"if-match": "anything"}), 412, "conflict")
        app.refused_or(app.delete(doc, **{"if-match": "anything"}), 412, "conflict")
        assert app.get(doc).content == b"1"
        return
    assert first.status_code == 201
    etag1 = first.headers["etag"]
    body = assert_error(app.put(doc, b"x", **{"if-none-match": "*"}), 412, "conflict")
    assert body["current_etag"] == etag1
    second = app.put(doc, b"2", **{"if-match": etag1})
    assert second.status_code == 200
    body = assert_error(app.put(doc, b"3", **{"if-match": etag1}), 412, "conflict")
    assert body["current_etag"] == second.headers["etag"]
    assert app.get(doc).content == b"2"
    assert_error(app.delete(doc, **{"if-match": etag1}), 412, "conflict")
    assert app.get(doc).content == b"2"
    assert app.delete(doc, **{"if-match": second.headers["etag"]}).json() == {"deleted": True}


def test_bindings_are_deny_by_default(app, k):
    assert_error(app.get(f"{k}x", binding="not-granted"), 403, "access-denied")
    assert_error(app.get(f"{k}x", binding="declared-nowhere"), 404, "no-such-store")
    assert_error(app.put(f"{k}x", binding="not-granted"), 403, "access-denied")
