// `npm test` names the folders it runs tests from, so that the slow suites in test/slow/ (which
// `npm run test:slow` runs, and CI after it) stay out of it: every test file must be run by
// exactly one of the two, or a new folder's tests would silently never run.

import assert from "node:assert/strict";
import { globSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";

const REPO = path.resolve(import.meta.dirname, "..");
const IGNORED = new Set(["node_modules", ".cache", ".git"]);

/** The quoted globs of an npm script's `node --test` command. */
function globsOf(script: string): string[] {
  const command = script.slice(script.lastIndexOf("node --test"));
  return [...command.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

test("every test file is run by exactly one of npm test and npm run test:slow", () => {
  const { scripts } = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8"));
  const runBy = new Map<string, string[]>();
  for (const name of ["test", "test:slow"]) {
    const globs = globsOf(scripts[name]);
    assert.ok(globs.length > 0, `${name} names the files it runs`);
    for (const file of globSync(globs, { cwd: REPO })) runBy.set(file, [...(runBy.get(file) ?? []), name]);
  }
  const all = globSync("**/*.test.ts", {
    cwd: REPO,
    exclude: (entry: string) => IGNORED.has(path.basename(entry)),
  });
  assert.ok(all.length > 50, `found ${all.length} test files`);
  for (const file of all)
    assert.equal(runBy.get(file)?.length, 1, `${file} is run by ${runBy.get(file) ?? "neither"}`);
  assert.ok(runBy.get(path.join("test", "slow", "redis-topologies.test.ts"))?.includes("test:slow"));
});
