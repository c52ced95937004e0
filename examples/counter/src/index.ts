// A per-path visit counter, written with the wasmgate SDK: every request atomically increments
// the counter of its path in the app's `default` bucket (env.KV) and answers with the new value.

import type { ExportedHandler, KVError, KVNamespace } from "wasmgate";

interface Env {
  KV: KVNamespace;
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    try {
      const count = await env.KV.increment(`visits:${path}`);
      return text(200, `${path} has been visited ${count} time${count === 1 ? "" : "s"}\n`);
    } catch (err) {
      // The store's own error (access-denied, ERR_KV_UNAVAILABLE: …), never a trap.
      const detail = (err as KVError).detail ?? String(err);
      // Goes to the gateway's log, tagged with this request's id.
      console.error(`counter ${path}: ${detail}`);
      return text(503, `the counter is unavailable: ${detail}\n`);
    }
  },
} satisfies ExportedHandler<Env>;
