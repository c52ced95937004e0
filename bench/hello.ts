// Hello through the whole gateway (routing + worker + StarlingMonkey wasi:http guest) against a bare
// Hono hello, in the same run. Usage: npm run bench [-- --seconds 10 --runs 3 --connections 32]

import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { bareHono, gatewayWith, measurePair, showRatio, showWrk, WRK_FLAGS, wrkSettings } from "./common.ts";

const HOST = "hello.localhost";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);

const hello = await buildGuest("example", "hello");
process.stderr.write(
  `wrk -t1 -c${settings.connections} -d${settings.seconds}s, ${settings.runs} rounds, one run of each in turn\n`,
);

await bareHono(async (honoUrl) => {
  const gw = await gatewayWith(hello, "hello", HOST);
  try {
    const {
      a: baseline,
      b: gateway,
      ratio,
    } = await measurePair({ url: honoUrl }, { url: gw.dataUrl, headers: { host: HOST } }, settings);
    showWrk("bare Hono hello", baseline);
    showWrk("wasmgate hello (StarlingMonkey)", gateway);
    showRatio("wasmgate / bare Hono", ratio, 0.3, 0.4);
  } finally {
    await gw.dispose();
  }
});
