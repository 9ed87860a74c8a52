// js-workers-kv: the test guest of guest-libs/js/edgekv.js. Its cases are written as a Worker's
// code is, against a Workers KV namespace binding (`KV`), and run a table of the binding's
// documented behaviours. `GET /?prefix=P` runs every case on keys under P and answers one JSON
// object: for each case, what the guest observed (values, shapes, error names and messages), for
// tests/test_guest_libraries.py to assert. A case that throws unexpectedly reports
// `{"unexpected": "<name>: <message>"}`.
//
// Instance routes, for tests of instance reuse with a large guest: `GET /count` answers how many
// requests this instance served through it (a global, which survives between requests only on a
// reused instance), `GET /spin` never returns, `GET /grow` allocates until memory runs out.
//
// The request is served through `wasi:http/incoming-handler` by hand (StarlingMonkey's fetch event
// targets another wasi:http version than edgekv's world); componentize-js runs the event loop until
// `handle`'s promise settles.

import { binding } from '../../../../guest-libs/js/edgekv.js';
import { Fields, OutgoingBody, OutgoingResponse, ResponseOutparam } from 'wasi:http/types@0.2.12';

// The one-line change from a Worker: `env.KV` becomes a binding opened on first use.
const KV = binding('default');

const dispose = Symbol.dispose || Symbol.for('dispose');

// Requests this instance served through `/count`.
let count = 0;

export const incomingHandler = {
  async handle(request, responseOut) {
    const [path, query = ''] = (request.pathWithQuery() ?? '/').split('?');
    if (path === '/count') {
      count += 1;
      return send(responseOut, JSON.stringify({ count }));
    }
    if (path === '/spin') {
      for (;;) {}
    }
    if (path === '/grow') {
      const hoard = [];
      for (;;) {
        hoard.push(new Uint8Array(1 << 20).fill(1));
      }
    }
    const prefix = new URLSearchParams(query).get('prefix') ?? 't-';
    const results = {};
    for (const [name, run] of Object.entries(CASES)) {
      try {
        results[name] = await run(`${prefix}${name}/`);
      } catch (e) {
        results[name] = { unexpected: `${e && e.name}: ${e && e.message}` };
      }
    }
    send(responseOut, JSON.stringify(results));
  },
};

function send(responseOut, json) {
  const response = new OutgoingResponse(Fields.fromList([['content-type', new TextEncoder().encode('application/json')]]));
  response.setStatusCode(200);
  const body = response.body();
  ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
  const stream = body.write();
  const bytes = new TextEncoder().encode(json);
  for (let at = 0; at < bytes.length; at += 4096) {
    stream.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
  }
  stream[dispose]();
  OutgoingBody.finish(body, undefined);
}

/// What a rejected promise carried: its error's class name, message and edgekv code.
async function rejection(promise) {
  try {
    const value = await promise;
    return { rejected: false, value: value === undefined ? 'undefined' : value };
  } catch (e) {
    return { rejected: true, name: e.name, message: e.message, code: e.code ?? null };
  }
}

const bytesOf = (buffer) => Array.from(new Uint8Array(buffer));

const CASES = {
  async returns_promises(k) {
    const pending = [KV.put(`${k}a`, 'x'), KV.get(`${k}a`), KV.list({ prefix: k }), KV.delete(`${k}b`)];
    const all = pending.every((p) => p instanceof Promise);
    await Promise.all(pending);
    return { all_promises: all };
  },

  async get_text(k) {
    await KV.put(`${k}greeting`, 'héllo');
    return {
      default: await KV.get(`${k}greeting`),
      option: await KV.get(`${k}greeting`, { type: 'text' }),
      shorthand: await KV.get(`${k}greeting`, 'text'),
    };
  },

  async get_json(k) {
    await KV.put(`${k}doc`, JSON.stringify({ a: 1, b: [true, null, 'x'] }));
    return {
      option: await KV.get(`${k}doc`, { type: 'json' }),
      shorthand: await KV.get(`${k}doc`, 'json'),
    };
  },

  async get_json_invalid(k) {
    await KV.put(`${k}doc`, 'not json');
    return rejection(KV.get(`${k}doc`, 'json'));
  },

  async get_array_buffer(k) {
    await KV.put(`${k}bin`, new Uint8Array([0, 1, 2, 254, 255]));
    const value = await KV.get(`${k}bin`, { type: 'arrayBuffer' });
    return { is_array_buffer: value instanceof ArrayBuffer, bytes: bytesOf(value) };
  },

  async get_stream(k) {
    await KV.put(`${k}s`, 'streamed value');
    const stream = await KV.get(`${k}s`, { type: 'stream' });
    return { is_stream: stream instanceof ReadableStream, text: await new Response(stream).text() };
  },

  async get_unknown_type(k) {
    return rejection(KV.get(`${k}x`, { type: 'xml' }));
  },

  async get_missing(k) {
    return {
      text: await KV.get(`${k}missing`),
      json: await KV.get(`${k}missing`, 'json'),
      array_buffer: await KV.get(`${k}missing`, 'arrayBuffer'),
      with_metadata: await KV.getWithMetadata(`${k}missing`),
    };
  },

  async get_with_metadata(k) {
    await KV.put(`${k}with`, 'v1', { metadata: { user: 'ada', n: 1, tags: ['a'] } });
    await KV.put(`${k}without`, 'v2');
    return {
      with: await KV.getWithMetadata(`${k}with`),
      without: await KV.getWithMetadata(`${k}without`),
      json: await KV.getWithMetadata(`${k}with`, { type: 'json' }).catch((e) => e.name),
      array_buffer: bytesOf((await KV.getWithMetadata(`${k}without`, 'arrayBuffer')).value),
    };
  },

  async put_value_types(k) {
    await KV.put(`${k}ab`, new Uint8Array([1, 2, 3]).buffer);
    await KV.put(`${k}u16`, new Uint16Array([0x0201, 0x0403]));
    const window = new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 4);
    await KV.put(`${k}view`, new DataView(window.buffer, window.byteOffset, window.byteLength));
    await KV.put(`${k}stream`, new Response('from a stream').body);
    await KV.put(`${k}empty`, '');
    return {
      array_buffer: bytesOf(await KV.get(`${k}ab`, 'arrayBuffer')),
      uint16: bytesOf(await KV.get(`${k}u16`, 'arrayBuffer')),
      data_view: bytesOf(await KV.get(`${k}view`, 'arrayBuffer')),
      stream: await KV.get(`${k}stream`),
      empty: await KV.get(`${k}empty`),
      number: await rejection(KV.put(`${k}n`, 42)),
    };
  },

  async put_overwrites(k) {
    await KV.put(`${k}key`, 'first', { metadata: { v: 1 } });
    const put = await KV.put(`${k}key`, 'second');
    return { put_resolves: put === undefined ? 'undefined' : put, after: await KV.getWithMetadata(`${k}key`) };
  },

  async put_expiration_ttl(k) {
    const before = Date.now();
    await KV.put(`${k}ttl`, 'v', { expirationTtl: 120, metadata: { m: true } });
    const listed = await KV.list({ prefix: k });
    return { before_ms: before, value: await KV.get(`${k}ttl`), keys: listed.keys };
  },

  async put_expiration_absolute(k) {
    const at = Math.floor(Date.now() / 1000) + 3600;
    await KV.put(`${k}at`, 'v', { expiration: at });
    return { at, keys: (await KV.list({ prefix: k })).keys };
  },

  async put_expiration_ttl_under_60(k) {
    return { ...(await rejection(KV.put(`${k}short`, 'v', { expirationTtl: 59 }))), after: await KV.get(`${k}short`) };
  },

  async put_expiration_ttl_not_positive(k) {
    return rejection(KV.put(`${k}zero`, 'v', { expirationTtl: 0 }));
  },

  async put_expiration_too_soon(k) {
    const at = Math.floor(Date.now() / 1000) + 10;
    return { at, ...(await rejection(KV.put(`${k}soon`, 'v', { expiration: at }))) };
  },

  async put_metadata_too_large(k) {
    return rejection(KV.put(`${k}m`, 'v', { metadata: { big: 'x'.repeat(1100) } }));
  },

  async key_names(k) {
    return {
      empty: await rejection(KV.get('')),
      dot: await rejection(KV.put('.', 'v')),
      dot_dot: await rejection(KV.delete('..')),
      too_long: await rejection(KV.put(`${k}${'k'.repeat(513)}`, 'v')),
    };
  },

  async list_shape(k) {
    await KV.put(`${k}a`, '1');
    await KV.put(`${k}b`, '2', { metadata: { n: 2 } });
    await KV.put(`${k}c`, '3');
    await KV.put(`${k.slice(0, -1)}-outside`, 'x');
    const first = await KV.list({ prefix: k, limit: 2 });
    const second = await KV.list({ prefix: k, limit: 2, cursor: first.cursor });
    return { first, second, all: await KV.list({ prefix: k }) };
  },

  async list_limit_zero(k) {
    return rejection(KV.list({ prefix: k, limit: 0 }));
  },

  async list_limit_over_1000(k) {
    return rejection(KV.list({ prefix: k, limit: 1001 }));
  },

  async delete(k) {
    await KV.put(`${k}gone`, 'v');
    const deleted = await KV.delete(`${k}gone`);
    return {
      resolves: deleted === undefined ? 'undefined' : deleted,
      after: await KV.get(`${k}gone`),
      missing: await rejection(KV.delete(`${k}never`)),
    };
  },

  async entry_level(k) {
    const created = await KV.putEntry(`${k}e`, 'v1', { contentType: 'text/plain', ifAbsent: true });
    const conflict = await rejection(KV.putEntry(`${k}e`, 'v2', { ifMatch: 'not-the-etag' }));
    const entry = await KV.getEntry(`${k}e`);
    const swapped = await KV.putEntry(`${k}e`, 'v2', { ifMatch: entry.etag });
    return {
      created: created.created,
      conflict,
      content_type: entry.contentType,
      etag_matches: entry.etag === created.etag,
      swapped_created: swapped.created,
      value: await KV.get(`${k}e`),
    };
  },
};
