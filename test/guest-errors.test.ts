// A guest's uncaught error as its developer reads it: the error's name and message and a stack in
// the project's own sources (mapped through the source map the build embeds), in the gateway's log
// record, in `deploy-cli logs` and in `deploy-cli dev`; the client gets a generic 500. A project
// made by `deploy-cli init`, its handler replaced by one whose helper throws, built and pushed by
// the real CLI to a real gateway.

import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { startDev } from "./harness/dev.ts";
import { type GatewayProcess, get, runCli, startGateway, tempDir } from "./harness/gateway.ts";
import { waitFor } from "./harness/ops.ts";

const SOURCE = `// A guest whose helper throws.
interface Thing {
  n: number;
}

function helper(thing: Thing): number {
  if (thing.n > 1) {
    throw new TypeError("something broke in helper");
  }
  return thing.n;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const n = helper({ n: new URL(request.url).pathname.length });
    return new Response(\`n=\${n}\\n\`);
  },
};
`;
/** The line of the throw, 1-based, and of the call in fetch. */
const THROW_LINE = SOURCE.split("\n").findIndex((l) => l.includes("throw new TypeError")) + 1;
const CALL_LINE = SOURCE.split("\n").findIndex((l) => l.includes("helper({")) + 1;
const HEAD = "TypeError: something broke in helper";

const work = tempDir("wasmgate-guest-errors-");
const project = join(work, "oops");
let gw: GatewayProcess;

before(async () => {
  const init = await runCli(["init", "oops"], {}, undefined, work);
  assert.equal(init.code, 0, init.stderr);
  writeFileSync(join(project, "src", "index.ts"), SOURCE);
  gw = await startGateway();
});

after(async () => {
  await gw?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("an uncaught guest error", () => {
  it("answers a generic 500 and logs the error's name, message and src/index.ts lines", async () => {
    const push = await runCli(
      ["push", "--gateway", gw.adminUrl],
      { WASMGATE_TOKEN: gw.token },
      undefined,
      project,
    );
    assert.equal(push.code, 0, push.stderr);
    assert.equal((await get(gw, "oops.localhost", "/")).text, "n=1\n");

    const res = await get(gw, "oops.localhost", "/broken");
    assert.equal(res.status, 500);
    assert.equal(res.text, "Internal Server Error\n");
    assert.doesNotMatch(res.text, /something broke|src\/index/);
    const id = res.headers.get("x-request-id")!;

    await waitFor(
      () => gw.logs.some((l) => l.requestId === id && l.msg === "uncaught error in the guest"),
      5000,
      "the error record",
    );
    const record = gw.logs.find((l) => l.requestId === id && l.msg === "uncaught error in the guest")!;
    assert.equal(record.level, 50);
    assert.equal(record.app, "oops");
    assert.equal(record.name, "TypeError");
    assert.equal(record.message, "something broke in helper");
    const stack = record.stack as string[];
    assert.match(stack[0]!, new RegExp(`^at helper \\(src/index\\.ts:${THROW_LINE}:\\d+\\)$`));
    assert.match(stack[1]!, new RegExp(`^at fetch \\(src/index\\.ts:${CALL_LINE}:\\d+\\)$`));
    // Nothing of the bundle or of the machine that built it.
    assert.doesNotMatch(stack.join("\n"), /entry\.js|initializer\.js|\(\//);
    // The structured line itself is not logged as output as well.
    assert.ok(!gw.logs.some((l) => l.requestId === id && String(l.line).startsWith("wasmgate:error")));

    const logs = await runCli(["logs", "--app", "oops", "--gateway", gw.adminUrl], {
      WASMGATE_TOKEN: gw.token,
    });
    assert.equal(logs.code, 0, logs.stderr);
    const lines = logs.stdout.split("\n");
    const at = lines.findIndex((l) => l.endsWith(` ${id}`));
    assert.ok(at !== -1, logs.stdout);
    const shown = lines.slice(at + 1, at + 3);
    assert.equal(shown[0], `  stderr: ${HEAD}`);
    assert.match(shown[1]!, new RegExp(`^ {10} {4}at helper \\(src/index\\.ts:${THROW_LINE}:\\d+\\)$`));
  });

  it("shows the same in deploy-cli dev", async () => {
    const dev = startDev(project, ["--json"]);
    try {
      const ready = await dev.waitForEvent((e) => e.event === "ready");
      assert.equal(ready.live, true, dev.stderr());
      const res = await request(`http://127.0.0.1:${ready.port}/broken`, {
        headers: { host: "oops.localhost" },
      });
      assert.equal(res.statusCode, 500);
      await res.body.text();
      const event = await dev.waitForEvent(
        (e) =>
          (e.event === "request" && e.logs.some((l: { line: string }) => l.line.startsWith(HEAD))) ||
          (e.event === "log" && String(e.line).startsWith(HEAD)),
        30_000,
      );
      const line =
        event.event === "log"
          ? event.line
          : event.logs.find((l: { line: string }) => l.line.startsWith(HEAD)).line;
      assert.match(line, new RegExp(`\\n {4}at helper \\(src/index\\.ts:${THROW_LINE}:\\d+\\)\\n`));
    } finally {
      await dev.stop();
    }
  });
});
