// On a Node.js older than 24 both commands say so in one line and exit 1, before loading any of
// the TypeScript sources (which such a Node cannot read). The old version is simulated by
// overriding process.versions.node before the bin file runs.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "./harness/gateway.ts";

const run = promisify(execFile);
const PRETEND = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.1"})';

for (const bin of ["deploy-cli.js", "wasmgate.js"]) {
  it(`${bin} on Node 20 says it needs Node 24 and exits 1`, async () => {
    const failed = await run(process.execPath, ["--import", PRETEND, join(ROOT, "bin", bin), "--help"]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    assert.ok(failed, "it did not exit with an error");
    assert.equal(failed.code, 1);
    assert.equal(failed.stderr.split("\n")[0], "wasmgate needs Node.js 24 or newer; you have 20.11.1.");
    assert.match(failed.stderr, /hint: install Node\.js 24/);
    assert.doesNotMatch(failed.stderr, /ERR_UNKNOWN_FILE_EXTENSION|at .*:\d+:\d+/);
  });
}
