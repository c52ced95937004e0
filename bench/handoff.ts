// What one thread hand-off per request costs, without any guest: a Hono app that passes each
// request to a worker thread and answers with the worker's reply, against a bare Hono hello, in the
// same run. The fast world's ratio cannot beat this one on the same machine.
// Usage: node bench/handoff.ts [--seconds 5 --runs 5 --connections 32]

import { parseArgs } from "node:util";
import {
  bareHono,
  benchServer,
  describePairs,
  measurePair,
  showWrk,
  WRK_FLAGS,
  wrkSettings,
} from "./common.ts";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);
describePairs(settings);

await bareHono((honoUrl, honoPid) =>
  benchServer("handoff-server.ts", async (handoffUrl, pid) => {
    const { a, b, ratio } = await measurePair(
      { url: honoUrl, pid: honoPid },
      { url: handoffUrl, pid },
      settings,
    );
    showWrk("bare Hono hello", a);
    showWrk("Hono + one worker round trip", b);
    process.stdout.write(`ratio hand-off / bare Hono: ${ratio.toFixed(3)}x\n`);
  }),
);
