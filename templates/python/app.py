"""{{name}}: an edgekv guest in Python (made with `edgekv new --lang python`).

- `GET /`: a greeting with a visit count kept in KV under `visits` (incremented with an ETag
  compare-and-swap, so concurrent visits are all counted).
- `GET /kv/{key}`: the value, with `etag`, `content-type`, `x-metadata` and `x-expires-at-ms`.
- `PUT /kv/{key}`: writes the body. Headers: `content-type`, `x-metadata` (JSON), `x-ttl` (seconds)
  or `x-expiration` (unix seconds), `if-match` (ETag) or `if-none-match: *` (create only). Answers
  201 (created) or 200 with the new `etag`; a body that did not arrive whole is answered 400 and
  nothing is written.
- `DELETE /kv/{key}`: optional `if-match`. Answers `{"deleted":true|false}`.
- `GET /kv?prefix=&cursor=&limit=`: one page of keys as JSON.
- `GET /now`: the guest's wall clock (`wasi:clocks/wall-clock`) as `{"now_ms": ...}`.

Every route takes `x-binding` (default `default`). A KV error becomes a 4xx whose JSON body names
the error variant: `{"error":"value-too-large","message":"..."}`. The KV binding comes from edgekv.py. Built with
componentize-py for the world `edgekv:kv/edge-app` (wit/) by build.sh; `edgekv dev` runs it.
"""

import json
import re
import time
from urllib.parse import unquote_to_bytes

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import streams, types

import edgekv

READ_CHUNK = 64 * 1024
ROUTES = "routes: GET /, GET/PUT/DELETE /kv/{key}, GET /kv?prefix=&cursor=&limit=, GET /now"
STATUS = {
    "no-such-store": 404,
    "access-denied": 403,
    "invalid-key": 400,
    "value-too-large": 413,
    "metadata-too-large": 413,
    "invalid-expiration": 400,
    "quota-exceeded": 413,
    "other": 400,
}
# Rust's `u64::from_str` after `str::trim`: an optional `+`, then ASCII digits.
WHOLE_SECONDS = re.compile(r"\+?[0-9]+")


class BodyFailed(Exception):
    """The request body's stream failed instead of closing: it did not arrive whole."""


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: types.IncomingRequest, response_out: types.ResponseOutparam) -> None:
        try:
            reply = route(request)
        except edgekv.KVError as e:
            reply = error_reply(e)
        except BodyFailed:
            reply = text(400, "the request body did not arrive whole; nothing was written")
        send(response_out, *reply)


def route(request):
    method = type(request.method()).__name__.removeprefix("Method_").upper()
    with request.headers() as fields:
        headers = fields.entries()

    def header(name):
        for n, v in headers:
            if n.lower() == name:
                try:
                    return v.decode()
                except UnicodeDecodeError:
                    return None
        return None

    path, _, query = (request.path_with_query() or "/").partition("?")
    if method == "GET" and path == "/now":
        return as_json(200, {"now_ms": time.time_ns() // 1_000_000})
    body = read_body(request.consume()) if method in ("PUT", "POST") else b""
    ns = edgekv.Namespace.open(header("x-binding") or "default")
    if method == "GET" and path == "/":
        return text(200, f"{GREETING} (visit {visit(ns)})")
    if method == "GET" and path in ("/kv", "/kv/"):
        return list_route(ns, query)
    if not path.startswith("/kv/"):
        return text(404, ROUTES)
    key = decode(path[len("/kv/"):])
    if key is None:
        return text(400, "the key is not valid percent-encoded UTF-8")
    if method == "GET":
        entry = ns.get_entry(key)
        if entry is None:
            return as_json(404, {"error": "not-found"})
        headers = [("content-type", entry.content_type or "application/octet-stream"), ("etag", entry.etag)]
        if entry.metadata_json is not None:
            headers.append(("x-metadata", entry.metadata_json))
        if entry.expires_at_ms is not None:
            headers.append(("x-expires-at-ms", str(entry.expires_at_ms)))
        return 200, headers, entry.value
    if method == "PUT":
        return put(ns, key, body, header)
    if method == "DELETE":
        return as_json(200, {"deleted": ns.delete(key, if_match=header("if-match"))})
    return text(405, "use GET, PUT or DELETE")


# What `GET /` says before the visit count.
GREETING = "Hello from {{name}}!"


def visit(ns):
    """Counts one visit and returns the new count: read the count and its ETag, write count + 1
    only if the ETag is still the same, and read again when another request wrote first."""
    while True:
        entry = ns.get_entry("visits")
        try:
            count = int(entry.value) if entry is not None else 0
        except ValueError:
            count = 0
        try:
            if entry is None:
                ns.put("visits", str(count + 1), if_absent=True)
            else:
                ns.put("visits", str(count + 1), if_match=entry.etag)
            return count + 1
        except edgekv.Conflict:
            continue


def put(ns, key, body, header):
    def seconds(name):
        value = header(name)
        if value is None:
            return None
        value = value.strip()
        if not WHOLE_SECONDS.fullmatch(value) or int(value) >= 2**64:
            raise ValueError(name)
        return int(value)

    try:
        ttl, at = seconds("x-ttl"), seconds("x-expiration")
    except ValueError:
        return text(400, "x-ttl and x-expiration must be whole seconds")
    done = ns.put(
        key,
        body,
        expiration_ttl=ttl,
        expiration=at,
        metadata_json=header("x-metadata"),
        content_type=header("content-type"),
        if_match=header("if-match"),
        if_absent=header("if-none-match") == "*",
    )
    reply = as_json(201 if done.created else 200, {"etag": done.etag, "created": done.created})
    reply[1].append(("etag", done.etag))
    return reply


def list_route(ns, query):
    params = {}
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if eq and name not in params:
            params[name] = value
    param = lambda name: decode(params[name]) if name in params else None
    limit = param("limit")
    if limit is not None:
        if not WHOLE_SECONDS.fullmatch(limit) or int(limit) > 0xFFFF_FFFF:
            return text(400, "limit must be a number")
        limit = int(limit)
    page = ns.list(prefix=param("prefix") or "", cursor=param("cursor"), limit=limit)
    dump = lambda v: json.dumps(v, ensure_ascii=False)
    # Metadata is echoed as the stored JSON text, not re-encoded.
    keys = ",".join(
        f'{{"name":{dump(k.name)},"expires_at_ms":{dump(k.expires_at_ms)},'
        f'"metadata":{k.metadata_json or "null"},"size":{k.size}}}'
        for k in page.keys
    )
    body = f'{{"keys":[{keys}],"cursor":{dump(page.cursor)}}}'
    return 200, [("content-type", "application/json")], body.encode()


def error_reply(e):
    if isinstance(e, edgekv.Conflict):
        return as_json(412, {"error": "conflict", "current_etag": e.current_etag})
    return as_json(STATUS[e.code], {"error": e.code, "message": e.reason})


# ---- wasi:http plumbing ----


def text(status, message):
    return status, [("content-type", "text/plain; charset=utf-8")], (message + "\n").encode()


def as_json(status, value):
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return status, [("content-type", "application/json")], body.encode()


def send(out, status, headers, body):
    try:
        fields = types.Fields.from_list([(n, v.encode()) for n, v in headers])
    except Err:
        fields = types.Fields()
    response = types.OutgoingResponse(fields)
    response.set_status_code(status)
    outgoing = response.body()
    types.ResponseOutparam.set(out, Ok(response))
    with outgoing.write() as stream:
        try:
            for at in range(0, len(body), 4096):
                stream.blocking_write_and_flush(body[at:at + 4096])
        except Err:
            pass  # the client went away
    types.OutgoingBody.finish(outgoing, None)


def read_body(body):
    chunks = []
    with body.stream() as stream:
        try:
            while True:
                chunks.append(stream.blocking_read(READ_CHUNK))
        except Err as e:
            if not isinstance(e.value, streams.StreamError_Closed):
                raise BodyFailed() from None
    body.__exit__(None, None, None)
    return b"".join(chunks)


def decode(text_):
    """Percent-decodes once (no `+` to space); None if the result is not UTF-8."""
    try:
        return unquote_to_bytes(text_).decode()
    except UnicodeDecodeError:
        return None
