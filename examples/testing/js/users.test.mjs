// A test suite for an edge function that keeps users and sessions in KV (here rust-kv-api, which
// serves the `default` binding at /kv/{key}), with node:test and nothing to install. One edgekv
// server for the suite, on a manual clock, with the `users` namespace seeded from
// ../fixtures/users.json; each test starts from a snapshot of it. Set EDGEKV_BIN (default: `edgekv`
// on PATH) and EDGEKV_APP (default: the repository's built rust-kv-api).
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.EDGEKV_BIN ?? 'edgekv';
const app = process.env.EDGEKV_APP ?? resolve(here, '../../../target/guests/rust-kv-api.wasm');
const token = 'example-token';
let server;
let url;

async function admin(method, path, body) {
  const r = await fetch(`${url}/_edgekv/api/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

before(async () => {
  const home = mkdtempSync(join(tmpdir(), 'edgekv-'));
  const config = join(home, 'edgekv.toml');
  writeFileSync(config, `
[[namespaces]]
binding = "default"
name = "users"
seed = ${JSON.stringify(resolve(here, '../fixtures/users.json'))}

[[apps]]
route = "/"
component = ${JSON.stringify(app)}
bindings = ["default"]
`);
  server = spawn(bin, ['serve', '--config', config, '--data-dir', join(home, 'data'),
    '--listen', '127.0.0.1:0', '--clock', 'manual', '--start-time', '2030-01-01T00:00:00Z'],
    { env: { ...process.env, EDGEKV_API_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: server.stdout })) {
    const m = line.match(/^edgekv listening on (http:\/\/\S+)/);
    if (m) { url = m[1]; break; }
  }
  assert.ok(url, 'edgekv did not start');
  server.stdout.resume(); // keep the pipe drained
  await admin('POST', 'snapshots', { name: 'clean' });
});

afterEach(() => admin('POST', 'snapshots/clean/restore'));

after(() => server.kill());

test('a session expires after its TTL', async () => {
  let r = await fetch(`${url}/kv/session/abc`, { method: 'PUT', body: 'ada', headers: { 'x-ttl': '60' } });
  assert.equal(r.status, 201);
  assert.equal(await (await fetch(`${url}/kv/session/abc`)).text(), 'ada');
  await admin('POST', 'clock', { advance: '61s' }); // a minute passes at once
  r = await fetch(`${url}/kv/session/abc`);
  assert.equal(r.status, 404);
});

test('the seeded users are there', async () => {
  const ada = await fetch(`${url}/kv/user/1`);
  assert.equal(await ada.text(), 'Ada');
  assert.equal(ada.headers.get('x-metadata'), '{"role":"admin"}');
  const r = await fetch(`${url}/kv/user/1`, { method: 'DELETE' });
  assert.deepEqual(await r.json(), { deleted: true });
});

test('each test starts from the snapshot', async () => {
  // The test before deleted user/1; the restore after it brought it back.
  assert.equal(await (await fetch(`${url}/kv/user/1`)).text(), 'Ada');
});

test('a fork is a private copy of the fixture', async () => {
  const fork = await admin('POST', 'namespaces/users/fork', { name: `users-${Date.now()}` });
  const value = `namespaces/${fork.id}/values/user/1`;
  const { etag } = await admin('GET', value);
  const r = await fetch(`${url}/_edgekv/api/${value}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'if-match': etag, 'content-type': 'application/json' },
    body: JSON.stringify({ value: 'Ada Lovelace' }),
  });
  assert.equal(r.status, 200);
  assert.equal((await admin('GET', value)).text, 'Ada Lovelace');
  assert.equal(await (await fetch(`${url}/kv/user/1`)).text(), 'Ada'); // the fixture is untouched
});
