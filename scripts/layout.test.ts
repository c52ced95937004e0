// The layout check passes on the repository, and fails on each kind of problem it exists for.

import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { check, importsOf, readGraph } from "./layout.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

test("the repository has no import cycle, no forbidden import, and enters each module by its entries", () => {
  const graph = readGraph(ROOT);
  assert.ok(graph.size > 100, `read ${graph.size} files`);
  assert.ok(graph.get("gateway/main.ts")?.length, "imports are read");
  assert.deepEqual(check(graph), []);
});

/** What the check finds once `file` imports `to` as well, beyond what it finds without. */
function addingImport(file: string, to: string): string[] {
  const graph = new Map(readGraph(ROOT));
  assert.ok(graph.has(file) && graph.has(to), `${file} and ${to} exist`);
  const before = new Set(check(graph));
  graph.set(file, [...graph.get(file)!, to]);
  return check(graph).filter((p) => !before.has(p));
}

test("an import cycle fails, named file by file", () => {
  const problems = addingImport("runtime/limits.ts", "runtime/index.ts");
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(
    problems[0]!,
    /^import cycle: runtime\/index\.ts → .*runtime\/limits\.ts → runtime\/index\.ts$/,
  );
});

test("runtime or kv importing the gateway fails", () => {
  assert.deepEqual(addingImport("runtime/stats.ts", "gateway/schemas.ts"), [
    "runtime/stats.ts imports gateway/schemas.ts: runtime/ never imports gateway/",
  ]);
  assert.deepEqual(addingImport("kv/limits.ts", "runtime/grants.ts"), [
    "kv/limits.ts imports runtime/grants.ts: kv/ never imports runtime/",
  ]);
});

test("importing a module's inside instead of its entry fails, for deploy-cli into the gateway too", () => {
  assert.deepEqual(addingImport("deploy-cli/client.ts", "gateway/auth/index.ts"), [
    "deploy-cli/client.ts imports gateway/auth/index.ts: gateway/ is imported through gateway/index.ts or gateway/schemas.ts only",
  ]);
  assert.deepEqual(addingImport("gateway/http.ts", "kv/redis.ts"), [
    "gateway/http.ts imports kv/redis.ts: kv/ is imported through kv/index.ts only",
  ]);
});

test("imports are read in every form, comments aside", () => {
  const source = `
    import { a } from "./a.ts";
    import type { B } from "../b.ts";
    export { c } from "./c.ts";
    export type * from "./d.ts";
    import "./e.ts";
    const f = await import("./f.ts");
    import {
      g,
      type G,
    } from "./g.ts";
    // import { no } from "./commented.ts";
    /* import { no } from "./block.ts"; */
    import { z } from "zod";
  `;
  assert.deepEqual(importsOf(source).sort(), [
    "../b.ts",
    "./a.ts",
    "./c.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
  ]);
});
