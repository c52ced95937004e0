// This checkout's gateway against another checkout's (an older commit, e.g. from `git worktree
// add ../old <commit>` with `npm ci` run there), serving the same example (the fast-world hello
// unless `--example` names another), both pinned to the same cores, in alternating rounds of one
// run: what a change did to a request's cost, without the drift between separate runs.
// Usage: npm run bench:ab -- <other checkout> [--example hello-fast|hello] [--log-level info]
//   [--seconds 5 --runs 5]

import path from "node:path";
import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import type * as Harness from "../test/harness/gateway.ts";
import * as here from "../test/harness/gateway.ts";
import { measureRounds, showRatio, showWrk, WRK_FLAGS, wrkSettings } from "./common.ts";
import { SERVER_CPUS } from "./pin.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    ...WRK_FLAGS,
    "log-level": { type: "string", default: "info" },
    example: { type: "string", default: "hello-fast" },
  },
});
const otherRoot = positionals[0];
if (otherRoot === undefined) {
  process.stderr.write("usage: npm run bench:ab -- <other checkout> [--log-level info]\n");
  process.exit(2);
}
// The other checkout's gateway is started by its own harness, from its own bin/.
const there: typeof Harness = await import(path.resolve(otherRoot, "test", "harness", "gateway.ts"));
const example = values.example!;
const HOST = `${example}.localhost`;
const guest = await buildGuest("example", example);
const start = async (harness: typeof Harness) => {
  const gw = await harness.startGateway({
    args: ["--log-level", values["log-level"]!],
    cpus: SERVER_CPUS,
    requestLogs: "drop",
  });
  await harness.push(gw, guest, example, ["--host", HOST]);
  return gw;
};
const names = ["this checkout", path.basename(path.resolve(otherRoot))];
const gateways = [await start(here), await start(there)];
try {
  const rounds = await measureRounds(
    gateways.map((gw, i) => ({
      name: names[i]!,
      url: gw.dataUrl,
      headers: { host: HOST },
      pid: gw.process.pid,
    })),
    wrkSettings(values),
  );
  for (const r of rounds) showWrk(r.name, r.result);
  showRatio(
    `${names[0]} / ${names[1]} (${example}, ${values["log-level"]} logs)`,
    rounds[0]!.ratios.get(names[1]!)!,
  );
} finally {
  await Promise.all(gateways.map((gw) => gw.dispose()));
}
