// Habits users bring from wrangler and spin: --version, `help <command>`, `deploy` for push, and
// a did-you-mean for a mistyped command.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { ROOT, runCli } from "./harness/gateway.ts";

it("--version prints the package's version and exits 0", async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const res = await runCli(["--version"]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, `deploy-cli ${version} (wasmgate)\n`);
});

it("`help push` and `deploy --help` print what `push --help` prints", async () => {
  const push = await runCli(["push", "--help"]);
  assert.equal(push.code, 0);
  assert.match(push.stdout, /^Usage: deploy-cli push/);
  for (const args of [
    ["help", "push"],
    ["deploy", "--help"],
  ]) {
    const res = await runCli(args);
    assert.equal(res.code, 0, `${args.join(" ")}: ${res.stderr}`);
    assert.equal(res.stdout, push.stdout, args.join(" "));
  }
});

it("a mistyped command exits 1 and suggests the one meant", async () => {
  const res = await runCli(["pussh", "app.wasm"]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /unknown command "pussh/);
  assert.match(res.stderr, /did you mean `deploy-cli push`\?/);
  const far = await runCli(["zzzzzzzz"]);
  assert.equal(far.code, 1);
  assert.doesNotMatch(far.stderr, /did you mean/);
});
