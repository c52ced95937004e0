// Hello through the whole gateway (StarlingMonkey wasi:http guest, examples/hello) against
// `jco serve` running the same component, in the same run. Both are up; one is loaded at a time.
// Usage: npm run bench:jco-serve [-- --seconds 10 --runs 3 --connections 32]

import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import {
  compareWithGateway,
  describePairs,
  jcoServe,
  STARLINGMONKEY_HELLO,
  WRK_FLAGS,
  wrkSettings,
} from "./common.ts";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);

const hello = await buildGuest("example", "hello");
describePairs(settings);

await jcoServe(hello, (jcoUrl, pid) =>
  compareWithGateway(
    {
      ...STARLINGMONKEY_HELLO,
      baseline: { name: "jco serve hello (StarlingMonkey)", url: jcoUrl, pid },
      guest: hello,
      ratio: { label: "wasmgate / jco serve", floor: 3, goal: 5 },
    },
    settings,
  ),
);
