// edgekv: the edgekv KV binding (`edgekv:kv/store`) for JavaScript guests built with
// componentize-js, with the API of a Cloudflare Workers KV namespace binding, so code written
// against `env.MY_KV` runs with a one-line change:
//
//   import { binding } from './edgekv.js';
//   const KV = binding('default');              // instead of env.KV
//   await KV.put('user:1', JSON.stringify({ name: 'Ada' }), { expirationTtl: 3600 });
//   const user = await KV.get('user:1', { type: 'json' });
//
// Every Workers method returns a Promise and rejects with the error Workers would throw, with the
// message Workers uses (e.g. `KV PUT failed: 400 Invalid expiration_ttl of 59. Expiration TTL must
// be at least 60.`). The rules themselves are the namespace's profile's, enforced by the edgekv
// store: this module checks only what the binding cannot carry (a negative TTL, a value of a
// type Workers refuses).
//
// edgekv has more than Workers KV: ETags for compare-and-swap, content types, expiry in
// milliseconds, value sizes. The `*Entry` methods and `listPage` expose them (see their docs).
//
// Errors are `KVError`s (key-name errors are `TypeError`s, as in Workers); both carry `code`, the
// edgekv:kv error variant (`invalid-key`, `value-too-large`, `conflict`, ...), `reason`, the
// store's own message, and for `conflict` `currentEtag`.
//
// Import it with a relative path (componentize-js resolves relative imports inside the directory
// it runs in), or depend on it with `"edgekv": "file:<path to guest-libs/js>"` and bundle.

import { Namespace } from 'edgekv:kv/store@0.1.0';

const ENCODER = new TextEncoder();
const TYPES = ['text', 'json', 'arrayBuffer', 'stream'];
const MAX_BULK_GET_KEYS = 100;

/// A failed KV operation. `code` is the edgekv:kv error variant, `reason` the store's message (or
/// null), `currentEtag` the entry's ETag when `code` is `conflict` (null when the key is absent).
export class KVError extends Error {
  constructor(message, code, reason = null, currentEtag = null) {
    super(message);
    this.name = 'KVError';
    this.code = code;
    this.reason = reason;
    this.currentEtag = currentEtag;
  }
}

/// A KV namespace with the Workers KV binding's methods (get, getWithMetadata, put, delete, list)
/// and edgekv's entry-level ones (getEntry, putEntry, deleteEntry, listPage).
export class KVNamespace {
  /// Use `KVNamespace.open` (opens now) or `binding` (opens on first use).
  constructor(bindingName, handle = null) {
    this.binding = bindingName;
    this.handle = handle;
  }

  /// Opens the namespace granted to this app under `bindingName` now; throws a `KVError`
  /// (`access-denied`, `no-such-store`) if it cannot be opened.
  static open(bindingName = 'default') {
    return new KVNamespace(bindingName, call('OPEN', () => Namespace.open(bindingName)));
  }

  // ---- the Workers KV binding -------------------------------------------------------------------

  /// The value at `key` (null if there is none), read as `type`: "text" (default), "json",
  /// "arrayBuffer" or "stream". `options` is `{type, cacheTtl}` or the type alone. With an array of
  /// keys (at most 100, type "text" or "json") resolves to a Map from each key to its value.
  async get(key, options) {
    const type = readType(options);
    if (Array.isArray(key)) {
      return this.getMany(key, type, false);
    }
    const entry = this.readEntry('GET', key, true);
    return entry === null ? null : decodeValue(entry.value, type);
  }

  /// `{value, metadata, cacheStatus}` for `key`: value as in `get`, metadata the parsed JSON
  /// written with it (null if none). Both are null when there is no entry. With an array of keys,
  /// a Map from each key to such an object (null for an absent key).
  async getWithMetadata(key, options) {
    const type = readType(options);
    if (Array.isArray(key)) {
      return this.getMany(key, type, true);
    }
    const entry = this.readEntry('GET', key, true);
    if (entry === null) {
      return { value: null, metadata: null, cacheStatus: null };
    }
    return { value: decodeValue(entry.value, type), metadata: parseMetadata(entry.metadata), cacheStatus: null };
  }

  /// Writes `value` (a string, ArrayBuffer, typed array, DataView or ReadableStream) at `key`.
  /// Options: `expirationTtl` (seconds from now), `expiration` (unix seconds), `metadata` (any
  /// JSON-serialisable value). Resolves to undefined.
  async put(key, value, options = {}) {
    const bytes = await valueBytes(value);
    const { expiration, expirationTtl, metadata } = options ?? {};
    const writeOptions = {
      metadata: metadata === undefined || metadata === null ? undefined : JSON.stringify(metadata),
      expiration: workersExpiration(expiration, expirationTtl),
    };
    checkKeyName(key);
    this.write('PUT', key, bytes, writeOptions, { expiration, expirationTtl });
  }

  /// Deletes `key` (nothing happens if it is absent). Resolves to undefined.
  async delete(key) {
    checkKeyName(key);
    this.remove('DELETE', key, undefined);
  }

  /// One page of keys in UTF-8 byte order: `{keys: [{name, expiration?, metadata?}],
  /// list_complete, cursor?, cacheStatus}`. Options: `prefix`, `cursor` (from the previous page),
  /// `limit` (1..1000, default 1000). `cursor` is present only while `list_complete` is false;
  /// `expiration` is in unix seconds.
  async list(options = {}) {
    const page = this.page('LIST', workersListOptions(options ?? {}));
    const keys = page.keys.map((k) => {
      const key = { name: k.name };
      if (k.expiresAtMs !== undefined && k.expiresAtMs !== null) {
        key.expiration = Math.floor(Number(k.expiresAtMs) / 1000);
      }
      if (k.metadata !== undefined && k.metadata !== null) {
        key.metadata = JSON.parse(k.metadata);
      }
      return key;
    });
    const complete = page.cursor === undefined || page.cursor === null;
    return complete
      ? { keys, list_complete: true, cacheStatus: null }
      : { keys, list_complete: false, cursor: page.cursor, cacheStatus: null };
  }

  // ---- edgekv's entry-level methods ---------------------------------------------------------------

  /// The live entry at `key`, or null: `{value: Uint8Array, metadata (parsed, or null),
  /// metadataJson (the stored JSON text, or null), contentType (or null), expiresAtMs (unix
  /// milliseconds, or null), etag}`.
  async getEntry(key) {
    const entry = this.readEntry('GET', key, false);
    if (entry === null) {
      return null;
    }
    const metadataJson = orNull(entry.metadata);
    return {
      value: entry.value,
      metadata: parseMetadata(metadataJson),
      metadataJson,
      contentType: orNull(entry.contentType),
      expiresAtMs: entry.expiresAtMs === undefined || entry.expiresAtMs === null ? null : Number(entry.expiresAtMs),
      etag: entry.etag,
    };
  }

  /// Writes `value` at `key` and resolves to `{etag, created}`. Options: `expirationTtl` or
  /// `expiration` (a number or a BigInt of seconds), `metadata` (a JSON-serialisable value) or
  /// `metadataJson` (JSON text, checked by the store), `contentType`, and a precondition:
  /// `ifMatch: etag` (compare-and-swap) or `ifAbsent: true` (create only). A failed precondition
  /// rejects with a `KVError` whose code is `conflict`; nothing is written then.
  async putEntry(key, value, options = {}) {
    const bytes = await valueBytes(value);
    const o = options ?? {};
    let metadata = o.metadataJson ?? undefined;
    if (metadata === undefined && o.metadata !== undefined && o.metadata !== null) {
      metadata = JSON.stringify(o.metadata);
    }
    let precondition;
    if (o.ifMatch !== undefined && o.ifMatch !== null) {
      precondition = { tag: 'if-match', val: String(o.ifMatch) };
    } else if (o.ifAbsent) {
      precondition = { tag: 'if-absent' };
    }
    const writeOptions = {
      metadata,
      contentType: o.contentType ?? undefined,
      expiration: entryExpiration(o.expiration, o.expirationTtl),
      precondition,
    };
    const done = this.write('PUT', key, bytes, writeOptions, o);
    return { etag: done.etag, created: done.created };
  }

  /// Deletes `key` and resolves to whether a live entry was there. With `{ifMatch: etag}`, only if
  /// the entry's ETag is `etag` (else rejects with code `conflict`).
  async deleteEntry(key, options = {}) {
    const ifMatch = options?.ifMatch;
    return this.remove('DELETE', key, ifMatch === undefined || ifMatch === null ? undefined : String(ifMatch));
  }

  /// One page of keys as the store has them: `{keys: [{name, expiresAtMs, metadataJson, size}],
  /// cursor}` (`cursor` null on the last page). Options `prefix`, `cursor`, `limit` as in `list`,
  /// passed to the store as they are: the profile sets the default and bounds of `limit`.
  async listPage(options = {}) {
    const { prefix, cursor, limit } = options ?? {};
    const page = this.page('LIST', {
      prefix: prefix === undefined || prefix === null ? '' : String(prefix),
      cursor: cursor === undefined || cursor === null ? undefined : String(cursor),
      limit: limit === undefined || limit === null ? undefined : Number(limit),
    });
    return {
      keys: page.keys.map((k) => ({
        name: k.name,
        expiresAtMs: k.expiresAtMs === undefined || k.expiresAtMs === null ? null : Number(k.expiresAtMs),
        metadataJson: orNull(k.metadata),
        size: Number(k.size),
      })),
      cursor: orNull(page.cursor),
    };
  }

  // ---- internals ------------------------------------------------------------------------------

  namespace(op) {
    if (this.handle === null) {
      this.handle = call(op, () => Namespace.open(this.binding));
    }
    return this.handle;
  }

  readEntry(op, key, workers) {
    if (workers) {
      checkKeyName(key);
    }
    const entry = call(op, () => this.namespace(op).get(String(key)));
    return entry === undefined || entry === null ? null : entry;
  }

  write(op, key, bytes, options, asked) {
    return call(op, () => this.namespace(op).put(String(key), bytes, options), asked);
  }

  remove(op, key, ifMatch) {
    return call(op, () => this.namespace(op).delete(String(key), ifMatch));
  }

  page(op, { prefix, cursor, limit }) {
    return call(op, () => this.namespace(op).list(prefix, cursor, limit));
  }

  getMany(keys, type, withMetadata) {
    if (type !== 'text' && type !== 'json') {
      throw new KVError(`"${type}" is not a valid type. Use "json" or "text"`, 'other');
    }
    if (keys.length > MAX_BULK_GET_KEYS) {
      throw new KVError('You can request a maximum of 100 keys', 'other');
    }
    if (keys.length === 0) {
      throw new KVError('You must request a minimum of 1 key', 'other');
    }
    const found = new Map();
    for (const key of keys) {
      const entry = this.readEntry('GET_BULK', key, true);
      if (entry === null) {
        found.set(key, null);
      } else {
        const value = decodeValue(entry.value, type);
        found.set(key, withMetadata ? { value, metadata: parseMetadata(entry.metadata) } : value);
      }
    }
    return found;
  }
}

/// The namespace granted to this app under `bindingName`, opened on first use: the counterpart of
/// Workers' `env.MY_KV`, safe to create at module top level (componentize-js runs top-level code at
/// build time, when no binding can be opened yet). An open that fails rejects that first call.
export function binding(bindingName = 'default') {
  return new KVNamespace(bindingName);
}

/// Workers' `list` options as the binding takes them: a missing or empty cursor starts at the
/// beginning, and `limit` is read as Workers reads it (`parseInt`, at least 1).
function workersListOptions({ prefix, cursor, limit }) {
  let count;
  if (limit !== undefined && limit !== null) {
    count = parseInt(String(limit), 10);
    if (!(count >= 1)) {
      throw new KVError(
        `KV LIST failed: 400 Invalid key_count_limit of ${limit}. Please specify an integer greater than 0.`,
        'other',
      );
    }
    count = Math.min(count, 0xffffffff); // the store refuses anything over its maximum
  }
  return {
    prefix: prefix === undefined || prefix === null ? '' : String(prefix),
    cursor: cursor === undefined || cursor === null || cursor === '' ? undefined : String(cursor),
    limit: count,
  };
}

// ---- values ---------------------------------------------------------------------------------------

function readType(options) {
  const type = typeof options === 'string' ? options : (options?.type ?? 'text');
  if (!TYPES.includes(type)) {
    throw new TypeError('Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".');
  }
  return type;
}

function decodeValue(bytes, type) {
  switch (type) {
    case 'json':
      return JSON.parse(new TextDecoder().decode(bytes));
    case 'arrayBuffer': {
      // A fresh ArrayBuffer of this realm, exactly the value's length.
      const buffer = new ArrayBuffer(bytes.byteLength);
      new Uint8Array(buffer).set(bytes);
      return buffer;
    }
    case 'stream':
      return new ReadableStream({
        start(controller) {
          controller.enqueue(bytes.slice());
          controller.close();
        },
      });
    default:
      return new TextDecoder().decode(bytes);
  }
}

/// The bytes of a value Workers accepts: a string (UTF-8), an ArrayBuffer, any ArrayBufferView or
/// a ReadableStream of bytes.
async function valueBytes(value) {
  if (typeof value === 'string') {
    return ENCODER.encode(value);
  }
  if (value instanceof ArrayBuffer) {
    return new Uint8Array(value);
  }
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream) {
    return new Uint8Array(await new Response(value).arrayBuffer());
  }
  throw new TypeError('KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.');
}

function parseMetadata(json) {
  return json === undefined || json === null ? null : JSON.parse(json);
}

function orNull(v) {
  return v === undefined ? null : v;
}

// ---- expiry ---------------------------------------------------------------------------------------

/// The binding's expiration for Workers' options (the TTL wins when both are set, as in the
/// store). Numbers are read as Workers reads them (`parseInt`); a BigInt is taken as it is.
function workersExpiration(expiration, expirationTtl) {
  if (expirationTtl !== undefined && expirationTtl !== null) {
    const ttl = seconds(expirationTtl);
    if (ttl === null || ttl <= 0n) {
      throw new KVError(
        `KV PUT failed: 400 Invalid expiration_ttl of ${expirationTtl}. Please specify integer greater than 0.`,
        'invalid-expiration',
      );
    }
    return { tag: 'ttl-seconds', val: ttl };
  }
  if (expiration !== undefined && expiration !== null) {
    const at = seconds(expiration);
    if (at === null || at <= 0n) {
      throw new KVError(
        `KV PUT failed: 400 Invalid expiration of ${expiration}. Please specify integer greater than the current number of seconds since the UNIX epoch.`,
        'invalid-expiration',
      );
    }
    return { tag: 'at-unix-seconds', val: at };
  }
  return undefined;
}

/// The binding's expiration for `putEntry`: any whole number of seconds within u64, checked by the
/// store alone (the TTL wins when both are set).
function entryExpiration(expiration, expirationTtl) {
  for (const [tag, value] of [['ttl-seconds', expirationTtl], ['at-unix-seconds', expiration]]) {
    if (value !== undefined && value !== null) {
      const val = seconds(value);
      if (val === null) {
        throw new TypeError(`${tag === 'ttl-seconds' ? 'expirationTtl' : 'expiration'} must be whole seconds within 0..2^64, not ${value}`);
      }
      return { tag, val };
    }
  }
  return undefined;
}

/// Whole seconds as a BigInt within u64, or null.
function seconds(value) {
  if (typeof value === 'bigint') {
    return value >= 0n && value < 1n << 64n ? value : null;
  }
  const n = parseInt(String(value), 10);
  return Number.isFinite(n) && n >= 0 && n < 2 ** 64 ? BigInt(n) : null;
}

// ---- errors ---------------------------------------------------------------------------------------

/// The HTTP status Workers' binding reports for each edgekv:kv error variant.
const STATUS = {
  'invalid-key': 400,
  'value-too-large': 413,
  'metadata-too-large': 413,
  'invalid-expiration': 400,
  'quota-exceeded': 413,
  conflict: 412,
  other: 400,
};

/// Workers' own checks of key names, made before anything reaches the store.
function checkKeyName(key) {
  if (Array.isArray(key)) {
    return;
  }
  const name = String(key);
  if (name === '') {
    throw typeError('Key name cannot be empty.');
  }
  if (name === '.' || name === '..') {
    throw typeError(`"${name}" is not allowed as a key name.`);
  }
}

function typeError(message) {
  const e = new TypeError(message);
  e.code = 'invalid-key';
  e.reason = null;
  e.currentEtag = null;
  return e;
}

/// Runs a binding call, turning its error variant into the error Workers throws.
function call(op, f, write) {
  try {
    return f();
  } catch (e) {
    const payload = e && e.payload;
    if (!payload || typeof payload !== 'object' || typeof payload.tag !== 'string') {
      throw e;
    }
    throw kvError(op, payload, write);
  }
}

function kvError(op, { tag, val }, write) {
  if (tag === 'no-such-store') {
    return new KVError('KV binding has no namespace configured behind it', tag);
  }
  if (tag === 'access-denied') {
    return new KVError('KV binding is not granted to this app', tag);
  }
  if (tag === 'conflict') {
    const current = val === undefined ? null : val;
    return new KVError(`KV ${op} failed: 412 precondition failed`, tag, null, current);
  }
  const reason = typeof val === 'string' ? val : null;
  const [status, text] = workersMessage(tag, reason, write?.asked ?? {});
  return new KVError(`KV ${op} failed: ${status} ${text}`, tag, reason);
}

/// The status and text Workers reports for the broken rule the store names in `reason`
/// (`<rule>: <details>`), or the store's own text where Workers has none.
function workersMessage(tag, reason, asked) {
  const text = reason ?? tag;
  const rule = text.split(':', 1)[0];
  const numbers = (text.match(/\d+/g) ?? []).map(Number);
  const status = STATUS[tag] ?? 500;
  switch (rule) {
    case 'key_too_large':
    case 'key_too_long':
      return [414, `UTF-8 encoded length of ${numbers[0]} exceeds key length limit of ${numbers[1]}.`];
    case 'value_too_large':
      return [413, `Value length of ${numbers[0]} exceeds limit of ${numbers[1]}.`];
    case 'metadata_too_large':
      return [413, `Metadata length of ${numbers[0]} exceeds limit of ${numbers[1]}.`];
    case 'ttl_too_short':
      return [400, `Invalid expiration_ttl of ${asked.expirationTtl ?? numbers[0]}. Expiration TTL must be at least ${numbers[1]}.`];
    case 'expiration_in_past':
      return [400, `Invalid expiration of ${asked.expiration ?? numbers[0]}. Please specify integer greater than the current number of seconds since the UNIX epoch.`];
    case 'expiration_too_soon':
      return [400, `Invalid expiration of ${asked.expiration ?? numbers[0]}. Expiration times must be at least ${numbers[1]} seconds in the future.`];
    case 'list_limit':
      return [400, `Invalid key_count_limit of ${numbers[0]}. Please specify an integer less than ${numbers[2] ?? numbers[1]}.`];
    default:
      return [status, text];
  }
}
