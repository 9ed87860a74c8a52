// Puts, gets, lists and deletes keys through the official telnyx Node SDK against edgekv.
// Reads EDGEKV_URL, EDGEKV_TOKEN and EDGEKV_NS; prints one JSON line with what it saw.
import Telnyx from 'telnyx';

const client = new Telnyx({ apiKey: process.env.EDGEKV_TOKEN, baseURL: `${process.env.EDGEKV_URL}/v2`, maxRetries: 0 });
const id = process.env.EDGEKV_NS;

await client.storage.kvs.keys.update('node/a', '{"from":"node"}', { id }, { headers: { 'Content-Type': 'application/json' } });
await client.storage.kvs.keys.update('node/b', 'b', { id });
const got = await client.storage.kvs.keys.retrieve('node/a', { id });
const value = await got.text();
const keys = [];
for await (const key of client.storage.kvs.keys.list(id, { prefix: 'node/', limit: 1 })) {
  keys.push(key.key);
}
await client.storage.kvs.keys.delete('node/a', { id });
let afterDelete = 200;
try {
  await client.storage.kvs.keys.retrieve('node/a', { id });
} catch (e) {
  afterDelete = e.status;
}
console.log(JSON.stringify({ value, contentType: got.headers.get('content-type'), keys, afterDelete }));
