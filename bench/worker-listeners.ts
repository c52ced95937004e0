// The fast-world hello through the gateway's two request paths against a bare Hono hello, in one
// run: the main thread's listener handing each request to a guest worker (the default), and
// `--listen-in-workers on`, where each guest worker listens on the data port itself. Both at the
// default log level (info: a request line per request), every server pinned to the same core.
// Usage: npm run bench:worker-listeners [-- --seconds 5 --runs 5 --connections 32]

import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { get } from "../test/harness/gateway.ts";
import {
  bareHono,
  describePairs,
  gatewayWith,
  measureRounds,
  showRatio,
  showWrk,
  WRK_FLAGS,
  wrkSettings,
} from "./common.ts";

const HOST = "hello-fast.localhost";
/** DESIGN.md: p99 under this at 32 connections is part of the goal. */
const P99_GOAL_MS = 10;

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);
const guest = await buildGuest("example", "hello-fast");
describePairs(settings);

await bareHono(async (honoUrl, pid) => {
  const handOff = await gatewayWith(guest, "hello-fast", HOST);
  const inWorkers = await gatewayWith(guest, "hello-fast", HOST, {
    env: { WASMGATE_LISTEN_IN_WORKERS: "on" },
  });
  try {
    for (const gw of [handOff, inWorkers]) {
      const res = await get(gw, HOST, "/");
      if (res.status !== 200) throw new Error(`the fast-world guest answered ${res.status}: ${res.text}`);
    }
    const names = ["bare Hono hello", "wasmgate, main thread listens", "wasmgate, --listen-in-workers on"];
    const rounds = await measureRounds(
      [
        { name: names[0]!, url: honoUrl, pid },
        { name: names[1]!, url: handOff.dataUrl, headers: { host: HOST }, pid: handOff.process.pid },
        { name: names[2]!, url: inWorkers.dataUrl, headers: { host: HOST }, pid: inWorkers.process.pid },
      ],
      settings,
    );
    for (const r of rounds) showWrk(r.name, r.result);
    showRatio("main thread listens / bare Hono", rounds[1]!.ratios.get(names[0]!)!, 0.2, 0.4);
    showRatio("--listen-in-workers on / bare Hono", rounds[2]!.ratios.get(names[0]!)!, 0.2, 0.4);
    process.stdout.write(
      `p99 ${rounds[1]!.result.p99Ms.toFixed(2)} ms and ${rounds[2]!.result.p99Ms.toFixed(2)} ms (goal < ${P99_GOAL_MS} ms at ${settings.connections} connections)\n`,
    );
  } finally {
    await Promise.all([handOff.dispose(), inWorkers.dispose()]);
  }
});
