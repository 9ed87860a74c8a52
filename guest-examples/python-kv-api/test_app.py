"""Host-side unit checks of app.py's routing, paging and error mapping against a fake
wasi:keyvalue bucket. Needs the bindings componentize-py generates (build.sh makes them and runs
this): `PYTHONPATH=<bindings dir> python3 -m unittest test_app`."""

import base64
import json
import unittest

import app
from componentize_py_types import Err
from wit_world.imports import store, streams


class FakeBucket:
    """A store that pages list-keys `page_size` keys at a time in key order, with a cursor that is the
    last key of the page (as edgekv's host does), and can fail writes with an `other` error."""

    def __init__(self, data, page_size=3):
        self.data = data
        self.page_size = page_size
        self.fail_with = None
        self.list_calls = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def get(self, key):
        return self.data.get(key)

    def exists(self, key):
        return key in self.data

    def set(self, key, value):
        if self.fail_with:
            raise Err(store.Error_Other(self.fail_with))
        assert type(value) is bytes, "componentize-py lowers only bytes to list<u8>"
        self.data[key] = value

    def delete(self, key):
        self.data.pop(key, None)

    def list_keys(self, cursor):
        self.list_calls += 1
        keys = sorted(k for k in self.data if cursor is None or k > cursor)
        page = keys[: self.page_size]
        more = len(keys) > self.page_size
        return store.KeyResponse(keys=page, cursor=page[-1] if more else None)


class Stores:
    def __init__(self):
        self.buckets = {"default": FakeBucket({})}

    def open(self, name):
        if name == "denied":
            raise Err(store.Error_AccessDenied())
        if name not in self.buckets:
            raise Err(store.Error_NoSuchStore())
        return self.buckets[name]


class Body:
    """A request body reader that records how it was used."""

    def __init__(self, data, too_large=False):
        self.data, self.too_large, self.used = data, too_large, None

    def __call__(self, keep):
        assert self.used is None, "a body is read once"
        self.used = "kept" if keep else "drained"
        return (b"", True) if self.too_large else (self.data, False)


def request(method, path, body=b"", **headers):
    headers = [(k.replace("_", "-"), v.encode()) for k, v in headers.items()]
    reader = body if isinstance(body, Body) else Body(body) if method in ("PUT", "POST") else None
    return app.Request(method, path, headers, reader)


class AppTest(unittest.TestCase):
    def setUp(self):
        self.stores = Stores()
        self.bucket = self.stores.buckets["default"]
        self._open = store.open
        store.open = self.stores.open

    def tearDown(self):
        store.open = self._open

    def call(self, method, path, body=b"", **headers):
        req = request(method, path, body, **headers)
        try:
            reply = app.route(req)
        except Err as e:
            reply = app.error_reply(e.value)
        req.discard_body()
        return reply

    def json(self, reply):
        return json.loads(bytes(reply.body))

    def test_put_get_delete(self):
        r = self.call("PUT", "/kv/greeting", b"hello")
        self.assertEqual((r.status, self.json(r)), (201, {"etag": None, "created": True}))
        r = self.call("PUT", "/kv/greeting", b"hi")
        self.assertEqual((r.status, self.json(r)), (200, {"etag": None, "created": False}))
        r = self.call("GET", "/kv/greeting")
        self.assertEqual((r.status, r.body), (200, b"hi"))
        self.assertIn(("content-type", b"application/octet-stream"), r.headers)
        r = self.call("DELETE", "/kv/greeting")
        self.assertEqual((r.status, self.json(r)), (200, {"deleted": True}))
        r = self.call("DELETE", "/kv/greeting")
        self.assertEqual((r.status, self.json(r)), (200, {"deleted": False}))
        r = self.call("GET", "/kv/greeting")
        self.assertEqual((r.status, self.json(r)), (404, {"error": "not-found"}))

    def test_only_a_write_keeps_the_body_and_an_overlong_one_is_413(self):
        body = Body(b"v")
        self.call("PUT", "/kv/k", body)
        self.assertEqual(body.used, "kept")
        for method, path, headers in [("PUT", "/kv/k", {"x_ttl": "1"}), ("PUT", "/kv/k", {"x_binding": "denied"}),
                                      ("POST", "/kv/k", {}), ("PUT", "/nope", {})]:
            body = Body(b"v")
            self.call(method, path, body, **headers)
            self.assertEqual(body.used, "drained", (method, path, headers))
        r = self.call("PUT", "/kv/big", Body(b"", too_large=True))
        self.assertEqual((r.status, self.json(r)["error"]), (413, "value-too-large"))
        self.assertNotIn("big", self.bucket.data)

    def test_keys_are_percent_decoded_once_and_must_be_utf8(self):
        self.call("PUT", "/kv/a%2Fb%20c%2541+", b"x")
        self.assertEqual(list(self.bucket.data), ["a/b c%41+"])
        r = self.call("GET", "/kv/%ff")
        self.assertEqual(r.status, 400)

    def test_bindings(self):
        r = self.call("GET", "/kv/k", x_binding="denied")
        self.assertEqual((r.status, self.json(r)["error"]), (403, "access-denied"))
        r = self.call("GET", "/kv/k", x_binding="missing")
        self.assertEqual((r.status, self.json(r)["error"]), (404, "no-such-store"))

    def test_unsupported_headers_are_refused_and_write_nothing(self):
        for header in ("x-metadata", "x-ttl", "x-expiration", "if-match", "if-none-match"):
            r = self.call("PUT", "/kv/k", b"v", **{header.replace("-", "_"): "1"})
            self.assertEqual(r.status, 400)
            self.assertEqual(self.json(r), {"error": "unsupported", "message": f"{header} needs the edgekv:kv binding"})
        self.assertEqual(self.bucket.data, {})
        self.bucket.data["k"] = b"v"
        r = self.call("DELETE", "/kv/k", if_match="e")
        self.assertEqual((r.status, self.json(r)["error"]), (400, "unsupported"))
        self.assertEqual(self.bucket.data, {"k": b"v"})
        # GET ignores them, as rust-kv-api does.
        self.assertEqual(self.call("GET", "/kv/k", if_match="e").status, 200)

    def test_store_rule_errors_keep_their_variant_and_status(self):
        cases = {
            "invalid-key: key_too_long: 513 is over the limit of 512": (400, "invalid-key", "key_too_long: 513 is over the limit of 512"),
            "value-too-large: value_too_large: 2 is over the limit of 1": (413, "value-too-large", "value_too_large: 2 is over the limit of 1"),
            "metadata-too-large: m": (413, "metadata-too-large", "m"),
            "invalid-expiration: e": (400, "invalid-expiration", "e"),
            "quota-exceeded: store_full: 2100 is over the limit of 2000": (413, "quota-exceeded", "store_full: 2100 is over the limit of 2000"),
            "other: disk on fire": (400, "other", "disk on fire"),
            "something else: entirely": (400, "other", "something else: entirely"),
            "no colon": (400, "other", "no colon"),
        }
        for text, (status, variant, message) in cases.items():
            self.bucket.fail_with = text
            r = self.call("PUT", "/kv/k", b"v")
            self.assertEqual((r.status, self.json(r)), (status, {"error": variant, "message": message}), text)

    def test_routes(self):
        self.assertEqual(self.call("POST", "/kv/k").status, 405)
        self.assertEqual(self.call("GET", "/other").status, 404)
        self.assertEqual(self.call("PUT", "/kv").status, 404)
        self.assertEqual(self.call("GET", "/kv/").status, 200)

    def list_all(self, prefix, limit, between_pages=None):
        names, cursor, pages = [], None, 0
        while True:
            q = f"prefix={prefix}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            r = self.call("GET", "/kv?" + q)
            self.assertEqual(r.status, 200, r.body)
            page = self.json(r)
            self.assertLessEqual(len(page["keys"]), limit)
            for k in page["keys"]:
                self.assertEqual(k, {"name": k["name"], "expires_at_ms": None, "metadata": None, "size": None})
            names += [k["name"] for k in page["keys"]]
            cursor = page["cursor"]
            pages += 1
            if cursor is None:
                return names, pages
            if between_pages:
                between_pages(pages)

    def test_list_pages_with_prefix_cursor_and_limit(self):
        for i in range(25):
            self.bucket.data[f"user/{i:02}"] = b"x"
        self.bucket.data.update({"other": b"x", "a": b"x", "zzz": b"x"})
        for page_size in (1, 2, 3, 10, 11, 1000):
            self.bucket.page_size = page_size
            for limit in (1, 5, 10, 24, 25, 26, 1000):
                names, pages = self.list_all("user/", limit)
                self.assertEqual(names, [f"user/{i:02}" for i in range(25)], (page_size, limit))
                self.assertLessEqual(pages, 25 // limit + 1, (page_size, limit))
        names, _ = self.list_all("", 7)
        self.assertEqual(names, sorted(self.bucket.data))
        self.assertEqual(self.list_all("nothing", 10), ([], 1))

    def test_list_loses_no_key_when_keys_change_between_pages(self):
        for i in range(0, 40, 2):
            self.bucket.data[f"k{i:02}"] = b"x"
        initial = set(self.bucket.data)
        deleted = set()
        self.bucket.page_size = 4

        def churn(page):
            # Delete the last key returned and one ahead, insert one behind and one ahead.
            for key in (f"k{page * 6:02}", f"k{page * 6 + 12:02}"):
                if self.bucket.data.pop(key, None):
                    deleted.add(key)
            self.bucket.data[f"k{page * 6 + 1:02}"] = b"x"
            self.bucket.data[f"k{page * 6 + 9:02}"] = b"x"

        names, pages = self.list_all("k", 6, churn)
        self.assertGreater(pages, 3)
        self.assertEqual(names, sorted(set(names)))  # in order, none twice
        self.assertLessEqual(initial - deleted, set(names))

    def test_list_stops_scanning_at_the_budget_with_a_cursor(self):
        app_budget = app.SCAN_BUDGET
        app.SCAN_BUDGET = 10
        try:
            for i in range(50):
                self.bucket.data[f"a{i:02}"] = b"x"
            self.bucket.data["b"] = b"x"
            self.bucket.page_size = 4
            names, pages = self.list_all("b", 10)
            self.assertEqual(names, ["b"])
            self.assertGreater(pages, 3)
        finally:
            app.SCAN_BUDGET = app_budget

    def test_list_limit_and_cursor_errors(self):
        r = self.call("GET", "/kv?limit=x")
        self.assertEqual(r.status, 400)
        for limit in ("0", "1001"):
            r = self.call("GET", "/kv?limit=" + limit)
            self.assertEqual((r.status, self.json(r)["error"]), (400, "other"))
        r = self.call("GET", "/kv?cursor=garbage")
        self.assertEqual((r.status, self.json(r)["error"]), (400, "other"))
        bad = base64.urlsafe_b64encode(b'[1, 2]').decode()
        self.assertEqual(self.call("GET", "/kv?cursor=" + bad).status, 400)


class FakeStream:
    def __init__(self, data, chunk, fails=False):
        self.data, self.chunk, self.pos, self.dropped = data, chunk, 0, False
        self.fails = fails

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.dropped = True

    def blocking_read(self, n):
        if self.pos >= len(self.data):
            if self.fails:
                raise Err(streams.StreamError_LastOperationFailed(None))
            raise Err(streams.StreamError_Closed())
        out = self.data[self.pos : self.pos + min(n, self.chunk)]
        self.pos += len(out)
        return out

    def blocking_skip(self, n):
        return len(self.blocking_read(n))


class FakeBody:
    def __init__(self, data, chunk=1000, fails=False):
        self.s = FakeStream(data, chunk, fails)
        self.dropped = False

    def stream(self):
        return self.s

    def __exit__(self, *exc):
        assert self.s.dropped, "the stream is dropped before its body"
        self.dropped = True


class ReadBodyTest(unittest.TestCase):
    def read(self, data, length, chunk=1000):
        body = FakeBody(data, chunk)
        got = app.read_body(body, length)
        self.assertTrue(body.dropped)
        self.assertIs(type(got[0]), bytes)
        return got, body.s.pos

    def test_bodies_are_read_whole(self):
        data = bytes(range(256)) * 100
        for length in (None, len(data), len(data) + 5, 10):
            self.assertEqual(self.read(data, length)[0], (data, False), length)
        self.assertEqual(self.read(b"", None)[0], (b"", False))

    def test_a_body_that_fails_is_an_error_not_its_end(self):
        for data in (b"", b"x" * 10, b"x" * 5000):
            body = FakeBody(data, fails=True)
            with self.assertRaises(app.BodyFailed):
                app.read_body(body, None)
            self.assertTrue(body.dropped)

    def test_unwanted_bodies_are_drained(self):
        body = FakeBody(b"x" * 5000)
        self.assertEqual(app.read_body(body, None, keep=False), (b"", True))
        self.assertEqual((body.s.pos, body.dropped), (5000, True))

    def test_overlong_bodies_are_refused_and_drained(self):
        limit = app.MAX_BODY
        app.MAX_BODY = 100
        try:
            self.assertEqual(self.read(b"x" * 100, 100, 7), ((b"x" * 100, False), 100))
            self.assertEqual(self.read(b"x" * 101, None, 7), ((b"", True), 101))
            self.assertEqual(self.read(b"x" * 5000, 5000), ((b"", True), 5000))
        finally:
            app.MAX_BODY = limit


if __name__ == "__main__":
    unittest.main()
