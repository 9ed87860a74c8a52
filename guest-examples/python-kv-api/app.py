"""python-kv-api: an edgekv guest in Python that exposes the standard `wasi:keyvalue@0.2.0-draft2`
store over HTTP (world `edgekv:kv/keyvalue-app`), with the HTTP contract of rust-kv-api as far as
wasi:keyvalue can express it.

- `GET /kv/{key}`: the value (`content-type: application/octet-stream`), or 404 `{"error":"not-found"}`.
- `PUT /kv/{key}`: writes the body. 201 `{"etag":null,"created":true}` when the key did not exist,
  200 `{"etag":null,"created":false}` otherwise. A body that did not arrive whole (its stream
  failed instead of closing) is answered 400 `{"error":"body-failed",...}` and nothing is written.
- `DELETE /kv/{key}`: `{"deleted":true|false}`.
- `GET /kv?prefix=&cursor=&limit=`: one page of keys as JSON.

Every route takes `x-binding` (default `default`) to pick the namespace. A store error becomes a 4xx
whose JSON body names the error variant: `{"error":"value-too-large","message":"..."}`. Headers that
only the edgekv:kv binding can honour (metadata, expiry, preconditions) are refused with 400
`{"error":"unsupported",...}` instead of being ignored.
"""

import base64
import json
from urllib.parse import unquote_to_bytes

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import store, streams, types

# Read the request body in chunks of this size.
READ_CHUNK = 64 * 1024
# The largest body this guest reads: one byte over the largest value any profile accepts (25 MiB,
# cloudflare), so that such a value still reaches the store and fails there with the store's own
# value-too-large message. Longer bodies are refused without being held in memory.
MAX_BODY = 25 * 1024 * 1024 + 1
# How much of an overlong or unwanted body is read and dropped before answering.
DRAIN_LIMIT = 64 * 1024 * 1024
# The most keys a listing returns per page when `limit` is absent, and the largest `limit` accepted
# (the largest list limit of any profile). wasi:keyvalue has no limit of its own: this guest pages.
MAX_LIMIT = 1000
# A listing stops after examining this many keys of the store (at a host page boundary) and returns
# what it found with a cursor, so that a prefix far into a big store cannot run past the deadline.
SCAN_BUDGET = 20_000

# The rule variants of edgekv:kv that the host folds into `error::other("<variant>: <message>")`,
# with the status rust-kv-api answers for each.
STATUS = {
    "invalid-key": 400,
    "value-too-large": 413,
    "metadata-too-large": 413,
    "invalid-expiration": 400,
    "quota-exceeded": 413,
    "conflict": 412,
    "other": 400,
}

# Headers of rust-kv-api that wasi:keyvalue cannot carry out, per method.
UNSUPPORTED = {
    "PUT": ("x-metadata", "x-ttl", "x-expiration", "if-match", "if-none-match"),
    "DELETE": ("if-match", "if-none-match"),
}

ROUTES = "routes: GET/PUT/DELETE /kv/{key}, GET /kv?prefix=&cursor=&limit="


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: types.IncomingRequest, response_out: types.ResponseOutparam) -> None:
        req = Request.read(request)
        try:
            reply = route(req)
        except Err as e:
            reply = error_reply(e.value)
        except BodyFailed:
            reply = Reply.json(400, {
                "error": "body-failed",
                "message": "the request body did not arrive whole; nothing was written",
            })
        # A body no route took (a refused or failed write) is read and dropped before answering, so
        # the client gets the answer rather than a reset connection.
        req.discard_body()
        reply.send(response_out)


# ---- routing ----


class Reply:
    def __init__(self, status, body=b"", headers=()):
        self.status = status
        self.body = body
        self.headers = list(headers)

    @staticmethod
    def text(status, text):
        return Reply(status, (text + "\n").encode(), [("content-type", b"text/plain; charset=utf-8")])

    @staticmethod
    def json(status, value):
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return Reply(status, body, [("content-type", b"application/json")])

    def send(self, out):
        try:
            headers = types.Fields.from_list(self.headers)
        except Err:
            headers = types.Fields()
        response = types.OutgoingResponse(headers)
        response.set_status_code(self.status)
        body = response.body()
        types.ResponseOutparam.set(out, Ok(response))
        write_all(body, self.body)
        types.OutgoingBody.finish(body, None)


def route(req):
    binding = req.header("x-binding") or "default"
    with store.open(binding) as bucket:
        path, _, query = req.path.partition("?")
        if path in ("/kv", "/kv/"):
            if req.method != "GET":
                return Reply.text(404, ROUTES)
            return list_route(bucket, query)
        if not path.startswith("/kv/"):
            return Reply.text(404, ROUTES)
        key = decode(path[len("/kv/"):])
        if key is None:
            return Reply.text(400, "the key is not valid percent-encoded UTF-8")
        return entry_route(bucket, req, key)


def entry_route(bucket, req, key):
    if req.method not in ("GET", "PUT", "DELETE"):
        return Reply.text(405, "use GET, PUT or DELETE")
    for name in UNSUPPORTED.get(req.method, ()):
        if req.has_header(name):
            return Reply.json(400, {"error": "unsupported", "message": f"{name} needs the edgekv:kv binding"})
    if req.method == "GET":
        value = bucket.get(key)
        if value is None:
            return Reply.json(404, {"error": "not-found"})
        return Reply(200, value, [("content-type", b"application/octet-stream")])
    if req.method == "PUT":
        # wasi:keyvalue's set does not say whether it created the key: ask first. Not atomic: a
        # concurrent create of the same key can make both writers answer 201.
        body, too_large = req.take_body()
        if too_large:
            return Reply.json(413, {
                "error": "value-too-large",
                "message": f"the request body is over {MAX_BODY} bytes, the most this guest reads",
            })
        existed = bucket.exists(key)
        bucket.set(key, body)
        del body
        return Reply.json(200 if existed else 201, {"etag": None, "created": not existed})
    existed = bucket.exists(key)
    if existed:
        bucket.delete(key)
    return Reply.json(200, {"deleted": existed})


def list_route(bucket, query):
    params = {}
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if eq and name not in params:
            params[name] = value
    param = lambda name: decode(params[name]) if name in params else None
    limit = param("limit")
    if limit is not None:
        if not limit.isascii() or not limit.isdigit() or int(limit) > 0xFFFF_FFFF:
            return Reply.text(400, "limit must be a number")
        limit = int(limit)
        if not 1 <= limit <= MAX_LIMIT:
            return Reply.json(400, {"error": "other", "message": f"list_limit: limit {limit} is outside 1..={MAX_LIMIT}"})
    keys, cursor = list_page(bucket, param("prefix") or "", param("cursor"), limit or MAX_LIMIT)
    entries = [{"name": k, "expires_at_ms": None, "metadata": None, "size": None} for k in keys]
    return Reply.json(200, {"keys": entries, "cursor": cursor})


# ---- listing ----
#
# wasi:keyvalue's list-keys takes only a host cursor and returns host-sized pages; edgekv's host pages
# in key order (UTF-8 byte order, which is Python's str order). This guest's cursor is the host cursor
# of the page to read next plus the last key already seen: a page resumes there and skips every key up
# to and including that key, so keys written or deleted between pages never make it skip or repeat one.


class BadCursor(Exception):
    pass


def encode_cursor(host_cursor, after):
    raw = json.dumps([host_cursor, after], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text):
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        host_cursor, after = json.loads(raw.decode())
    except Exception:
        raise BadCursor() from None
    if not (host_cursor is None or isinstance(host_cursor, str)) or not isinstance(after, str):
        raise BadCursor()
    return host_cursor, after


def list_page(bucket, prefix, cursor, limit):
    """Up to `limit` keys starting with `prefix` after `cursor`, and the cursor of the next page (None
    when there is none)."""
    if cursor:
        try:
            host_cursor, after = decode_cursor(cursor)
        except BadCursor:
            raise Err(store.Error_Other("other: invalid cursor")) from None
    else:
        host_cursor, after = None, None
    found = []
    examined = 0
    while True:
        page = bucket.list_keys(host_cursor)
        keys = page.keys
        for i, key in enumerate(keys):
            if after is not None and key <= after:
                continue
            examined += 1
            if not key.startswith(prefix):
                if key > prefix:
                    # Past the keys that start with the prefix (they sort together): no more.
                    return found, None
                continue
            found.append(key)
            if len(found) == limit:
                rest = keys[i + 1:]
                if rest:
                    more = rest[0].startswith(prefix)
                    return found, encode_cursor(host_cursor, key) if more else None
                return found, encode_cursor(page.cursor, key) if page.cursor is not None else None
        if page.cursor is None:
            return found, None
        host_cursor = page.cursor
        if keys:
            after = keys[-1] if after is None or keys[-1] > after else after
        if examined >= SCAN_BUDGET:
            return found, encode_cursor(host_cursor, after if after is not None else "")


# ---- errors ----


def error_reply(e):
    if isinstance(e, store.Error_NoSuchStore):
        return Reply.json(404, {"error": "no-such-store", "message": None})
    if isinstance(e, store.Error_AccessDenied):
        return Reply.json(403, {"error": "access-denied", "message": None})
    variant, message = parse_other(e.value if isinstance(e, store.Error_Other) else str(e))
    if variant == "conflict":
        return Reply.json(412, {"error": "conflict", "current_etag": None, "message": message})
    return Reply.json(STATUS[variant], {"error": variant, "message": message})


def parse_other(text):
    """`("value-too-large", "value_too_large: ...")` from `other("value-too-large: value_too_large: ...")`;
    a message without a known variant is `other`."""
    variant, sep, message = text.partition(": ")
    if sep and variant in STATUS:
        return variant, message
    return "other", text


# ---- wasi:http plumbing ----


class Request:
    """A request's method, target and headers; its body is read only by the route that needs it."""

    def __init__(self, method, path, headers, body=None):
        self.method = method
        self.path = path
        self.headers = headers
        # None, or a function that reads the body: `keep=True` returns (bytes, too_large),
        # `keep=False` drains it.
        self._body = body

    @staticmethod
    def read(request):
        method = method_name(request.method())
        with request.headers() as fields:
            headers = fields.entries()
        path = request.path_with_query() or "/"
        body = None
        # Only writes carry a body; waiting for the end of an empty stream costs a host round trip.
        if method in ("PUT", "POST"):
            length = None
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    length = int(value)
            body = lambda keep: read_body(request.consume(), length, keep)
        return Request(method, path, headers, body)

    def take_body(self):
        """The body, read whole, and whether it was longer than MAX_BODY (then it is b"")."""
        reader, self._body = self._body, None
        return reader(True) if reader else (b"", False)

    def discard_body(self):
        reader, self._body = self._body, None
        if reader:
            reader(False)

    def header(self, name):
        """The first header called `name` (any case) if it is UTF-8, else None."""
        for n, v in self.headers:
            if n.lower() == name:
                try:
                    return v.decode()
                except UnicodeDecodeError:
                    return None
        return None

    def has_header(self, name):
        return any(n.lower() == name for n, _ in self.headers)


def method_name(method):
    if isinstance(method, types.Method_Other):
        return method.value
    return type(method).__name__.removeprefix("Method_").upper()


class BodyFailed(Exception):
    """The request body did not arrive whole (the client went away, or sent a malformed chunk): its
    stream failed instead of closing. Nothing of such a request may be written."""


def read_body(body, length, keep=True):
    """The whole body as bytes, or (b"", True) when it is longer than MAX_BODY. The buffer is sized
    from content-length when given, so a large value is not copied while it arrives. With
    `keep=False` the body is only drained. Raises BodyFailed when a body it keeps fails."""
    buf = bytearray(length) if keep and length and length <= MAX_BODY else bytearray()
    size = 0
    too_large = not keep or (length is not None and length > MAX_BODY)
    failed = False
    with body.stream() as stream:
        try:
            while not too_large:
                chunk = stream.blocking_read(READ_CHUNK)
                end = size + len(chunk)
                if end > MAX_BODY:
                    too_large = True
                    break
                buf[size:end] = chunk
                size = end
            # Drain (without keeping) the rest of an overlong or unwanted body, within reason, so
            # the client gets the answer instead of a reset connection.
            drained = 0
            while drained < DRAIN_LIMIT:
                drained += stream.blocking_skip(READ_CHUNK * 16)
        except Err as e:
            failed = not isinstance(e.value, streams.StreamError_Closed)
    body.__exit__(None, None, None)
    if too_large:
        return b"", True
    if failed:
        raise BodyFailed()
    # The bindings lower only `bytes` (a bytearray traps), so the value is copied once here.
    if size != len(buf):
        del buf[size:]
    return bytes(buf), False


def write_all(body, data):
    """Writes `data` to an outgoing body as fast as the host takes it."""
    view = memoryview(data)
    with body.write() as stream:
        offset = 0
        try:
            while offset < len(view):
                permit = stream.check_write()
                if permit == 0:
                    with stream.subscribe() as ready:
                        ready.block()
                    continue
                n = min(permit, len(view) - offset)
                stream.write(bytes(view[offset:offset + n]))
                offset += n
            stream.blocking_flush()
        except Err:
            pass  # the client went away


def decode(text):
    """Percent-decodes once (no `+` to space, like rust-kv-api); None if the result is not UTF-8."""
    try:
        return unquote_to_bytes(text).decode()
    except UnicodeDecodeError:
        return None


def _warm_up():
    """Done once at build time: componentize-py snapshots the interpreter after importing this
    module, and every request starts from that snapshot. So first-use work done here is not redone
    per request: above all the `import atexit` that the first `weakref.finalize` runs (the bindings
    create one for every resource handle, and it cost about a tenth of a GET), then json's encoder,
    the codecs and the parsers."""
    import weakref

    class Handle:
        pass

    handle = Handle()
    weakref.finalize(handle, int).detach()
    del handle
    Reply.json(200, {"keys": [{"name": "k\u00e9", "size": None}], "deleted": True})
    Reply.text(404, ROUTES)
    decode("a%2Fb%20%C3%A9")
    parse_other("invalid-key: x")
    decode_cursor(encode_cursor(None, "k"))
    method_name(types.Method_Get())
    b"x".decode()


_warm_up()
