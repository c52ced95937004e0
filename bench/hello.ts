// Hello through the whole gateway (routing + worker + StarlingMonkey wasi:http guest) against a bare
// Hono hello, in the same run. Usage: npm run bench [-- --seconds 10 --runs 3 --connections 32]

import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { bareHono, gatewayWith, measure, showRatio, showWrk, WRK_FLAGS, wrkSettings } from "./common.ts";

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);

const hello = await buildGuest("example", "hello");
process.stderr.write(
  `wrk -t1 -c${settings.connections} -d${settings.seconds}s, median of ${settings.runs} runs\n`,
);

const baseline = await bareHono((url) => measure(url, settings));
showWrk("bare Hono hello", baseline);

const gw = await gatewayWith(hello, "hello", "hello.localhost");
try {
  const gateway = await measure(gw.dataUrl, settings, { host: "hello.localhost" });
  showWrk("wasmgate hello (StarlingMonkey)", gateway);
  showRatio("wasmgate / bare Hono", gateway.rps / baseline.rps, 0.3, 0.4);
} finally {
  await gw.dispose();
}
