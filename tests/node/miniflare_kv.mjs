// A Miniflare (Cloudflare's local Workers runtime, as `wrangler dev` runs it) worker that reads one
// KV key per request: the baseline for edgekv's KV GET. Seeds `bench` with a 1 KiB value, prints
// "miniflare listening on http://127.0.0.1:PORT", and serves until killed.
import { Miniflare } from "miniflare";

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  modules: true,
  script: `export default {
    async fetch(request, env) {
      const value = await env.KV.get("bench", "arrayBuffer");
      return value === null ? new Response("missing", { status: 404 }) : new Response(value);
    },
  };`,
  kvNamespaces: ["KV"],
});
const url = await mf.ready;
const kv = await mf.getKVNamespace("KV");
await kv.put("bench", "x".repeat(1024));
console.log(`miniflare listening on ${url.origin}`);
process.on("SIGTERM", async () => { await mf.dispose(); process.exit(0); });
