// {{name}}: an edgekv guest in JavaScript (made with `edgekv new --lang js`).
//
// - `GET /`: a greeting with a visit count kept in KV under `visits` (incremented with an ETag
//   compare-and-swap, so concurrent visits are all counted).
// - `GET /kv/{key}`: the value, with `etag`, `content-type`, `x-metadata` and `x-expires-at-ms`.
// - `PUT /kv/{key}`: writes the body. Headers: `content-type`, `x-metadata` (JSON), `x-ttl`
//   (seconds) or `x-expiration` (unix seconds), `if-match` (ETag) or `if-none-match: *` (create
//   only). Answers 201 (created) or 200 with the new `etag`. A body that did not arrive whole (its
//   stream failed instead of closing) is answered 400 and nothing is written.
// - `DELETE /kv/{key}`: optional `if-match`. Answers `{"deleted":true|false}`.
// - `GET /kv?prefix=&cursor=&limit=`: one page of keys as JSON.
// - `GET /now`: the guest's wall clock (`Date.now()`, from `wasi:clocks/wall-clock`) as
//   `{"now_ms": ...}`.
//
// Every route takes `x-binding` (default `default`) to pick the namespace. A binding error becomes
// a 4xx whose JSON body names the error variant: `{"error":"value-too-large","message":"..."}`.
// The KV binding comes
// from lib/edgekv.js (the Workers KV binding's API, plus entry-level methods with ETags). Built with
// componentize-js for the world `edgekv:kv/edge-app` (wit/) by build.sh; `edgekv dev` runs it.

import { KVNamespace } from '../lib/edgekv.js';
import {
  Fields,
  IncomingBody,
  OutgoingBody,
  OutgoingResponse,
  ResponseOutparam,
} from 'wasi:http/types@0.2.12';

// Resources are released with this method of the generated bindings (a child resource, such as a
// body's stream, must be gone before its parent is finished).
const dispose = Symbol.dispose || Symbol.for('dispose');

const ENCODER = new TextEncoder();
// Strict UTF-8 as Rust's `str::from_utf8`: no replacement characters, and a leading BOM is kept.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// The bindings that componentize-js generates decode every string the host passes (key names in a
// listing, content types, ...) with a default `new TextDecoder()`, which drops a leading U+FEFF;
// the component model passes strings unchanged, and so does the Rust guest. Put the BOM back for
// default (non-streaming) decoders of this component, which are only the bindings'.
const decodeDroppingBom = TextDecoder.prototype.decode;
TextDecoder.prototype.decode = function decode(input, options) {
  const text = decodeDroppingBom.call(this, input, options);
  if (this.ignoreBOM === true || (options && options.stream) || input === undefined || input === null) {
    return text;
  }
  const bytes = ArrayBuffer.isView(input)
    ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    : new Uint8Array(input);
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bom ? `\uFEFF${text}` : text;
};

const READ_CHUNK = 64n * 1024n;
const WRITE_CHUNK = 4096;
// A `content-length` up to this size sizes the body buffer up front; larger bodies grow it.
const PREALLOCATE_LIMIT = 64 * 1024 * 1024;

// componentize-js runs the event loop until the returned promise settles.
export const incomingHandler = {
  async handle(request, responseOut) {
    const req = readRequest(request);
    const reply = req.bodyFailed
      ? Reply.text(400, 'the request body did not arrive whole; nothing was written')
      : await route(req);
    reply.send(responseOut);
  },
};

// ---- routing -----------------------------------------------------------------------------------

async function route(req) {
  if (req.method === 'get' && req.path === '/now') {
    return Reply.json(200, JSON.stringify({ now_ms: Date.now() }));
  }
  const binding = req.header('x-binding') ?? 'default';
  let namespace;
  try {
    namespace = KVNamespace.open(binding);
  } catch (e) {
    return errorReply(bindingError(e));
  }
  const q = req.path.indexOf('?');
  const path = q < 0 ? req.path : req.path.slice(0, q);
  const query = q < 0 ? '' : req.path.slice(q + 1);
  const rest = path.startsWith('/kv') ? path.slice(3) : null;
  try {
    if (req.method === 'get' && path === '/') {
      const count = await visit(namespace);
      return Reply.text(200, `${GREETING} (visit ${count})`);
    }
    if (req.method === 'get' && (rest === '' || rest === '/')) {
      return await list(namespace, query);
    }
    if (rest !== null && rest.startsWith('/')) {
      const key = decode(rest.slice(1));
      if (key === null) {
        return Reply.text(400, 'the key is not valid percent-encoded UTF-8');
      }
      return await entryRoute(namespace, req, key);
    }
    return Reply.text(404, 'routes: GET /, GET/PUT/DELETE /kv/{key}, GET /kv?prefix=&cursor=&limit=, GET /now');
  } catch (e) {
    return errorReply(bindingError(e));
  }
}

// What `GET /` says before the visit count.
const GREETING = 'Hello from {{name}}!';

// Counts one visit and resolves to the new count: read the count and its ETag, write count + 1 only
// if the ETag is still the same, and read again when another request wrote first.
async function visit(ns) {
  for (;;) {
    const entry = await ns.getEntry('visits');
    const count = entry === null ? 0 : Number.parseInt(new TextDecoder().decode(entry.value), 10) || 0;
    const precondition = entry === null ? { ifAbsent: true } : { ifMatch: entry.etag };
    try {
      await ns.putEntry('visits', String(count + 1), precondition);
      return count + 1;
    } catch (e) {
      if (e.code !== 'conflict') {
        throw e;
      }
    }
  }
}

async function entryRoute(ns, req, key) {
  switch (req.method) {
    case 'get':
      return get(ns, key);
    case 'put':
      return put(ns, req, key);
    case 'delete': {
      const deleted = await ns.deleteEntry(key, { ifMatch: req.header('if-match') ?? undefined });
      return Reply.json(200, `{"deleted":${deleted}}`);
    }
    default:
      return Reply.text(405, 'use GET, PUT or DELETE');
  }
}

async function get(ns, key) {
  const entry = await ns.getEntry(key);
  if (entry === null) {
    return Reply.json(404, '{"error":"not-found"}');
  }
  const contentType = entry.contentType ?? 'application/octet-stream';
  const reply = new Reply(200, entry.value).header('content-type', contentType).header('etag', entry.etag);
  if (entry.metadataJson !== null) {
    reply.header('x-metadata', entry.metadataJson);
  }
  if (entry.expiresAtMs !== null) {
    reply.header('x-expires-at-ms', String(entry.expiresAtMs));
  }
  return reply;
}

async function put(ns, req, key) {
  // Each is undefined (no header), null (not a whole number of seconds) or a BigInt.
  const number = (name) => {
    const v = req.header(name);
    return v === null ? undefined : parseUnsigned(rustTrim(v), 64);
  };
  const ttl = number('x-ttl');
  const at = number('x-expiration');
  const options = {
    metadataJson: req.header('x-metadata') ?? undefined,
    contentType: req.header('content-type') ?? undefined,
    ifMatch: req.header('if-match') ?? undefined,
    ifAbsent: req.header('if-none-match') === '*',
  };
  if (typeof ttl === 'bigint') {
    options.expirationTtl = ttl;
  } else if (ttl === undefined && typeof at === 'bigint') {
    options.expiration = at;
  } else if (ttl !== undefined || at !== undefined) {
    return Reply.text(400, 'x-ttl and x-expiration must be whole seconds');
  }
  const done = await ns.putEntry(key, req.body, options);
  const status = done.created ? 201 : 200;
  const body = `{"etag":${jsonString(done.etag)},"created":${done.created}}`;
  return Reply.json(status, body).header('etag', done.etag);
}

async function list(ns, query) {
  const param = (name) => {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      if (eq >= 0 && pair.slice(0, eq) === name) {
        return decode(pair.slice(eq + 1));
      }
    }
    return null;
  };
  const limitText = param('limit');
  let limit;
  if (limitText !== null) {
    const parsed = parseUnsigned(limitText, 32);
    if (parsed === null) {
      return Reply.text(400, 'limit must be a number');
    }
    limit = Number(parsed);
  }
  const page = await ns.listPage({ prefix: param('prefix') ?? '', cursor: param('cursor') ?? undefined, limit });
  const keys = page.keys.map(
    (k) =>
      `{"name":${jsonString(k.name)},` +
      `"expires_at_ms":${k.expiresAtMs === null ? 'null' : String(k.expiresAtMs)},` +
      `"metadata":${k.metadataJson ?? 'null'},` +
      `"size":${String(k.size)}}`,
  );
  const cursor = page.cursor === null ? 'null' : jsonString(page.cursor);
  return Reply.json(200, `{"keys":[${keys.join(',')}],"cursor":${cursor}}`);
}

// ---- errors ------------------------------------------------------------------------------------

/// The `edgekv:kv/store` error variant (`{tag, val}`) of a failed KV call (edgekv.js's errors carry
/// it as `code`, with the store's `reason` and a conflict's `currentEtag`); anything else is a bug
/// and is thrown on (the request then fails, as a panic would in the Rust guest).
function bindingError(e) {
  if (e && typeof e.code === 'string' && 'reason' in e) {
    return { tag: e.code, val: e.code === 'conflict' ? e.currentEtag : e.reason };
  }
  throw e;
}

const ERROR_STATUS = {
  'no-such-store': 404,
  'access-denied': 403,
  'invalid-key': 400,
  'value-too-large': 413,
  'metadata-too-large': 413,
  'invalid-expiration': 400,
  'quota-exceeded': 413,
  other: 400,
};

/// A binding error as a 4xx whose body names the variant.
function errorReply(error) {
  if (error.tag === 'conflict') {
    const current = error.val === undefined || error.val === null ? 'null' : jsonString(error.val);
    return Reply.json(412, `{"error":"conflict","current_etag":${current}}`);
  }
  const status = ERROR_STATUS[error.tag];
  if (status === undefined) {
    throw new Error(`unknown edgekv:kv error variant ${error.tag}`);
  }
  const message = typeof error.val === 'string' ? jsonString(error.val) : 'null';
  return Reply.json(status, `{"error":"${error.tag}","message":${message}}`);
}

// ---- text helpers (each mirrors what the Rust guest does) --------------------------------------

/// Percent-decodes `text` once (a `%` not followed by two hex digits stays as it is; `+` is not a
/// space) and returns the result if it is valid UTF-8, else null.
function decode(text) {
  const bytes = ENCODER.encode(text);
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[n++] = (hexValue(bytes[i + 1]) << 4) | hexValue(bytes[i + 2]);
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  return utf8(out.subarray(0, n));
}

function isHex(b) {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function hexValue(b) {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10;
}

function utf8(bytes) {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/// An unsigned integer of `bits` bits as Rust's `str::parse` reads it (optional `+`, ASCII digits,
/// no overflow), as a BigInt; null if it is not one.
function parseUnsigned(text, bits) {
  if (!/^\+?[0-9]+$/.test(text)) {
    return null;
  }
  const value = BigInt(text.startsWith('+') ? text.slice(1) : text);
  return value < 1n << BigInt(bits) ? value : null;
}

/// Rust's `str::trim`: strips Unicode White_Space (which differs from JavaScript's `trim` in U+0085
/// and U+FEFF).
const RUST_WHITESPACE = '[\\u0009-\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]';
const RUST_TRIM = new RegExp(`^${RUST_WHITESPACE}+|${RUST_WHITESPACE}+$`, 'g');
function rustTrim(text) {
  return text.replace(RUST_TRIM, '');
}

/// A JSON string literal: escapes `"`, `\` and control characters below U+0020 (as `\u00xx`) only.
function jsonString(s) {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      out += '\\"';
    } else if (c === 0x5c) {
      out += '\\\\';
    } else if (c < 0x20) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else {
      out += s[i];
    }
  }
  return out + '"';
}

// ---- wasi:http ---------------------------------------------------------------------------------

/// Reads a wasi:http request whole: method, path with query, headers and (for PUT and POST) the body.
function readRequest(request) {
  const headers = request.headers().entries();
  const method = request.method().tag;
  const pathWithQuery = request.pathWithQuery();
  const req = {
    method,
    path: pathWithQuery === undefined || pathWithQuery === null ? '/' : pathWithQuery,
    headers,
    body: new Uint8Array(0),
    /// Whether the body did not arrive whole (the client went away or sent a malformed chunk).
    bodyFailed: false,
    /// The first header named `name` (ASCII case-insensitive), if its value is UTF-8; else null.
    header(name) {
      const found = headers.find(([n]) => n.toLowerCase() === name);
      return found ? utf8(found[1]) : null;
    },
  };
  // Only writes carry a body; waiting for the end of an empty stream costs a host round trip.
  if (method === 'put' || method === 'post') {
    let body;
    try {
      body = request.consume();
    } catch {
      body = null;
    }
    if (body) {
      const read = readBody(body, sizeHint(req.header('content-length')));
      req.body = read.bytes;
      req.bodyFailed = read.failed;
    }
  }
  return req;
}

function sizeHint(contentLength) {
  const n = contentLength === null ? null : parseUnsigned(contentLength.trim(), 64);
  return n === null ? 64 * 1024 : Number(n < BigInt(PREALLOCATE_LIMIT) ? n : BigInt(PREALLOCATE_LIMIT));
}

/// Streams the body into one buffer until the stream closes. A read that fails (rather than finds
/// the stream closed) means the body did not arrive whole: `failed` is then true.
function readBody(body, capacity) {
  let buffer = new Uint8Array(Math.max(capacity, 1));
  let length = 0;
  let stream = null;
  let failed = false;
  try {
    stream = body.stream();
  } catch {
    stream = null;
  }
  if (stream) {
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(READ_CHUNK);
      } catch (e) {
        failed = !(e && e.payload && e.payload.tag === 'closed');
        break;
      }
      if (length + chunk.length > buffer.length) {
        const grown = new Uint8Array(Math.max(buffer.length * 2, length + chunk.length));
        grown.set(buffer.subarray(0, length));
        buffer = grown;
      }
      buffer.set(chunk, length);
      length += chunk.length;
    }
    stream[dispose]();
  }
  IncomingBody.finish(body)[dispose]();
  return { bytes: buffer.subarray(0, length), failed };
}

class Reply {
  constructor(status, body) {
    this.status = status;
    this.headers = [];
    this.body = body;
  }

  static text(status, text) {
    return new Reply(status, ENCODER.encode(`${text}\n`)).header('content-type', 'text/plain; charset=utf-8');
  }

  static json(status, json) {
    return new Reply(status, ENCODER.encode(json)).header('content-type', 'application/json');
  }

  header(name, value) {
    this.headers.push([name, ENCODER.encode(value)]);
    return this;
  }

  send(responseOut) {
    let headers;
    try {
      headers = Fields.fromList(this.headers);
    } catch {
      headers = new Fields();
    }
    const response = new OutgoingResponse(headers);
    response.setStatusCode(this.status);
    let body;
    try {
      body = response.body();
    } catch {
      return;
    }
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
    let stream = null;
    try {
      stream = body.write();
    } catch {
      stream = null;
    }
    if (stream) {
      try {
        for (let at = 0; at < this.body.length; at += WRITE_CHUNK) {
          stream.blockingWriteAndFlush(this.body.subarray(at, at + WRITE_CHUNK));
        }
      } catch {
        // the client went away
      }
      stream[dispose]();
    }
    try {
      OutgoingBody.finish(body, undefined);
    } catch {
      // as the Rust guest, a failed finish is ignored
    }
  }
}
