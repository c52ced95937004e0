// Fresh instances per request. 1: the Spin JS hello (examples/spin-hello, built by Spin's own
// toolchain; a fetch-event guest, so every request gets a fresh instance) through wasmgate against
// `jco serve --isolate-requests instance` on the same component, one core each, in the same run.
// 2: the raw wasi:http hello (examples/hello) as an app with `instances: "per-request"` against
// the same component as an app that reuses its instances, on one gateway. Each side also gets
// the p50 latency of a single request at a time (one connection).
// Usage: npm run bench:spin [-- --seconds 10 --runs 3 --connections 32]

import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { get, push } from "../test/harness/gateway.ts";
import {
  describePairs,
  explainErrors,
  gatewayWith,
  jcoServe,
  measurePair,
  showRatio,
  showWrk,
  type Target,
  WRK_FLAGS,
  wrkSettings,
} from "./common.ts";
import { wrk } from "./wrk.ts";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);

/** The p50 latency of one request at a time, over a run as long as the others. */
async function singleRequestP50(t: Target): Promise<number> {
  const result = await wrk(t.url, { connections: 1, seconds: settings.seconds, headers: t.headers });
  return result.p50Ms;
}

function showLatency(name: string, p50Ms: number): void {
  process.stdout.write(`${name.padEnd(34)} one connection: p50 ${p50Ms.toFixed(2)} ms\n`);
}

const spin = await buildGuest("example", "spin-hello");
describePairs(settings);

await jcoServe(
  spin,
  async (jcoUrl, pid) => {
    const host = "spin-hello.localhost";
    const gw = await gatewayWith(spin, "spin-hello", host);
    try {
      const answer = await get(gw, host);
      assert.equal(answer.text, "Hello, Spin!", `the Spin hello answered ${answer.status} ${answer.text}`);
      const jco = { url: jcoUrl, pid };
      const ours = { url: gw.dataUrl, headers: { host }, pid: gw.process.pid };
      const result = await measurePair(jco, ours, settings);
      showWrk("jco serve --isolate-requests inst.", result.a);
      showWrk("wasmgate Spin JS hello", result.b);
      if (result.b.errors > 0) await explainErrors(gw);
      showRatio("wasmgate / jco serve --isolate-requests instance", result.ratio, 3, 10);
      showLatency("jco serve --isolate-requests inst.", await singleRequestP50(jco));
      showLatency("wasmgate Spin JS hello", await singleRequestP50(ours));
    } finally {
      await gw.dispose();
    }
  },
  ["--isolate-requests", "instance"],
);

{
  // Built (or found in the cache) only now: the cache keeps one build per guest, and another
  // checkout sharing it may have replaced it meanwhile.
  const hello = await buildGuest("example", "hello");
  const gw = await gatewayWith(hello, "hello", "hello.localhost");
  try {
    await push(gw, hello, "hello-fresh", ["--host", "hello-fresh.localhost", "--instances", "per-request"]);
    const reused = { url: gw.dataUrl, headers: { host: "hello.localhost" }, pid: gw.process.pid };
    const fresh = { url: gw.dataUrl, headers: { host: "hello-fresh.localhost" }, pid: gw.process.pid };
    const result = await measurePair(reused, fresh, settings);
    showWrk("hello, instances reused", result.a);
    showWrk('hello, instances: "per-request"', result.b);
    if (result.a.errors + result.b.errors > 0) await explainErrors(gw);
    showRatio("per-request / reused", result.ratio);
    showLatency("hello, instances reused", await singleRequestP50(reused));
    showLatency('hello, instances: "per-request"', await singleRequestP50(fresh));
  } finally {
    await gw.dispose();
  }
}
