// Hello through the whole gateway (routing + worker + StarlingMonkey wasi:http guest) against a bare
// Hono hello, in the same run. Usage: npm run bench [-- --seconds 10 --runs 3 --connections 32]

import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import {
  bareHono,
  compareWithGateway,
  describePairs,
  STARLINGMONKEY_HELLO,
  WRK_FLAGS,
  wrkSettings,
} from "./common.ts";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);

const hello = await buildGuest("example", "hello");
describePairs(settings);

await bareHono((honoUrl, pid) =>
  compareWithGateway(
    {
      ...STARLINGMONKEY_HELLO,
      baseline: { name: "bare Hono hello", url: honoUrl, pid },
      guest: hello,
      // The 0.30x floor is the fast world's (npm run bench:fast); StarlingMonkey's target is
      // against jco serve (npm run bench:jco-serve).
      ratio: { label: "wasmgate / bare Hono" },
    },
    settings,
  ),
);
