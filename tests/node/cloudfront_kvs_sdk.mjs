// Drives edgekv's CloudFront KeyValueStore data plane with the JavaScript AWS SDK v3, set up exactly as
// the README's recipe says: `endpoint: http://localhost:PORT`, an HTTP agent whose lookup maps
// `<account>.localhost` to loopback, and the pure-JS SigV4A signer. Describes the store given by its
// ARN, then puts, gets, lists and deletes with the store's ETags, and prints what each call returned
// as one JSON object, with the signing algorithms used; the pytest suite asserts on it. Fails (exit 1)
// on the first error.
//
// Usage: node cloudfront_kvs_sdk.mjs ENDPOINT KVS_ARN
// Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.

import http from "node:http";
import "@aws-sdk/signature-v4a";
import {
  CloudFrontKeyValueStoreClient,
  DeleteKeyCommand,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  ListKeysCommand,
  PutKeyCommand,
} from "@aws-sdk/client-cloudfront-keyvaluestore";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const [endpoint, arn] = process.argv.slice(2);

// The SDK prefixes the account id to the endpoint host (123456789012.localhost): resolve any
// *.localhost name to loopback, as browsers and systemd-resolved do.
const agent = new http.Agent({
  lookup: (hostname, options, callback) => {
    const host = hostname.endsWith(".localhost") ? "127.0.0.1" : hostname;
    return options.all ? callback(null, [{ address: host, family: 4 }]) : callback(null, host, 4);
  },
});

const kvs = new CloudFrontKeyValueStoreClient({
  region: "us-east-1",
  endpoint,
  requestHandler: new NodeHttpHandler({ httpAgent: agent }),
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
  maxAttempts: 1,
});

// Records the signing algorithm of each request as sent (the deserialize step sees it signed).
const algorithms = new Set();
kvs.middlewareStack.add(
  (next) => async (args) => {
    algorithms.add(String(args.request.headers.authorization).split(" ")[0]);
    return next(args);
  },
  { step: "deserialize", name: "recordAlgorithm" },
);

const strip = ({ $metadata, ...rest }) => rest;
const out = {};
try {
  const described = await kvs.send(new DescribeKeyValueStoreCommand({ KvsARN: arn }));
  out.describe = strip(described);
  const put = await kvs.send(
    new PutKeyCommand({ KvsARN: arn, Key: "greeting", Value: "hello from v3", IfMatch: described.ETag }),
  );
  out.put = strip(put);
  const second = await kvs.send(new PutKeyCommand({ KvsARN: arn, Key: "other", Value: "2", IfMatch: put.ETag }));
  out.stalePut = await kvs
    .send(new PutKeyCommand({ KvsARN: arn, Key: "greeting", Value: "stale", IfMatch: put.ETag }))
    .then(() => "accepted", (e) => e.name);
  out.get = strip(await kvs.send(new GetKeyCommand({ KvsARN: arn, Key: "greeting" })));
  out.list = strip(await kvs.send(new ListKeysCommand({ KvsARN: arn, MaxResults: 50 })));
  out.delete = strip(await kvs.send(new DeleteKeyCommand({ KvsARN: arn, Key: "greeting", IfMatch: second.ETag })));
  out.missing = await kvs
    .send(new GetKeyCommand({ KvsARN: arn, Key: "greeting" }))
    .then(() => "found", (e) => e.name);
  out.after = strip(await kvs.send(new DescribeKeyValueStoreCommand({ KvsARN: arn })));
  out.algorithms = [...algorithms];
} catch (e) {
  console.error(`${e.name}: ${e.message}`);
  process.exit(1);
}
console.log(JSON.stringify(out, (_, v) => (v instanceof Date ? v.toISOString() : v)));
