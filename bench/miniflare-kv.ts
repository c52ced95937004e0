// miniflare's local KV, as Workers users run it (`wrangler dev` runs miniflare): a worker that
// reads a key and writes it back, one get and one put per request, on a KV namespace of its own
// (in memory). Prints its port as JSON once it listens. The peer of the key-value counters in
// bench/counter.ts.

import { ensurePeers } from "./peers.ts";

const WORKER = `
export default {
  async fetch(request, env) {
    const key = "visits:" + new URL(request.url).pathname;
    const count = Number((await env.KV.get(key)) ?? "0") + 1;
    await env.KV.put(key, String(count));
    return new Response(key + " has been visited " + count + " times\\n", {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
`;

const { miniflare } = await ensurePeers();
/** What this script uses of miniflare's API (it is not a dependency, so its types are not here). */
interface MiniflareApi {
  Miniflare: new (options: Record<string, unknown>) => { ready: Promise<URL>; dispose(): Promise<void> };
}
const { Miniflare } = (await import(miniflare)) as MiniflareApi;
const mf = new Miniflare({
  modules: true,
  script: WORKER,
  kvNamespaces: ["KV"],
  compatibilityDate: "2026-07-30",
  host: "127.0.0.1",
  port: 0,
});
const url = await mf.ready;
process.stdout.write(`${JSON.stringify({ port: Number(url.port) })}\n`);
process.on("SIGTERM", () => {
  void mf.dispose().then(() => process.exit(0));
});
