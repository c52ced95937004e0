// Every host import of the guests we build, in every toolchain's glue, must be called without jco's
// task bookkeeping: a jco release that generates its trampolines differently would otherwise leave
// them as jco wrote them, correct but several times slower, and nothing else would notice.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { it } from "node:test";
import { Script } from "node:vm";
import fc from "fast-check";
import { buildGuest, type GuestKind } from "../../scripts/guests.ts";
import { tempDir } from "../../test/harness/gateway.ts";
import type { DeployHost } from "../component-info.ts";
import { LEAN_HELPERS, leanHostCalls } from "./lean-host-calls.ts";
import { prepareComponent } from "./prepare.ts";

const LIMITS = { maxBytes: 64 * 1024 * 1024, memoryBytes: 64 * 1024 * 1024 };

async function glueOf(kind: GuestKind, name: string, host: DeployHost): Promise<string> {
  const dir = join(tempDir(), name);
  await prepareComponent(new Uint8Array(await readFile(await buildGuest(kind, name))), dir, LIMITS, host);
  return readFile(join(dir, "component.js"), "utf8");
}

const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;

const GUESTS: [GuestKind, string, DeployHost][] = [
  ["fixture", "hello-p020", { kv: undefined }], // hand-written WAT
  ["fixture", "echo", { kv: undefined }], // WAT that streams both ways (imports that wait)
  ["fixture", "request-echo", { kv: undefined }], // bare rustc
  ["example", "hello", { kv: undefined }], // StarlingMonkey
  ["example", "spin-kv", { kv: "redis" }], // Spin's JS toolchain, Spin's key-value interface
  ["example", "hello-fast", { kv: undefined }], // QuickJS, the fast world
  ["example", "counter-fast", { kv: "redis" }], // store calls that wait
  ["example", "counter-fast", { kv: "sqlite" }], // store calls that answer at once
];

for (const [kind, name, host] of GUESTS) {
  it(`calls every host import of ${name} (${host.kv ?? "no store"}) directly`, async () => {
    const glue = await glueOf(kind, name, host);
    const trampolines = count(glue, /const hostProvided = true;/g);
    const waiting = count(glue, /^ {2}_trampoline\d+\.manuallyAsync = true;$/gm);
    assert.ok(trampolines > 0, "the glue has host-import trampolines");
    if (name === "echo" || host.kv === "redis") assert.ok(waiting > 0, "some imports may wait");

    const lean = leanHostCalls(glue);
    assert.equal(
      count(lean, /^ {2}_trampoline\d+\.lean = true;$/gm),
      trampolines,
      "every trampoline is lean",
    );
    assert.equal(
      count(lean, /= __maybeAsync\(function\*\(/g),
      waiting,
      "every import that may wait can go on at once",
    );
    assert.equal(count(lean, /const hostProvided = true;/g), 0);
    assert.equal(
      count(lean, /_lowerImportBackwardsCompat\.bind\(\n/g),
      0,
      "no import is lowered as jco wrote it",
    );
    // The rewritten glue still parses, with the helpers it uses in scope.
    const script = lean
      .replace(/^export function instantiate\(/m, "function instantiate(")
      .replace(/^"use components";/m, "");
    new Script(
      `(function () {${LEAN_HELPERS}\n${script.replace(/^export /gm, "").replace(/\bimport\.meta\.url\b/g, '""')}\n})`,
    );
  });
}

it("leaves a glue without the trampolines it knows as jco wrote it", () => {
  const glue =
    "export function instantiate() {\n  const _trampoline0 = function(a) {\n    return a;\n  }\n}\n";
  assert.equal(leanHostCalls(glue), glue);
});

// A trampoline that may wait runs as a generator (`yield` where jco's async function has `await`):
// whatever the host answers, the caller must see what the async function would have given it, and
// an answer made of plain values only must come back without a promise (no suspension).
type Step = { kind: "value" | "resolved" | "rejected" | "thenable"; v: number; rethrow: boolean };

function answer({ kind, v }: Step): unknown {
  if (kind === "resolved") return Promise.resolve(v);
  if (kind === "rejected") return Promise.reject(new Error(`no ${v}`));
  // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is the point here.
  if (kind === "thenable") return { then: (resolve: (x: number) => void) => resolve(v) };
  return v;
}

function* asGenerator(steps: Step[], log: unknown[]): Generator<unknown, number, unknown> {
  for (const step of steps) {
    try {
      log.push(["ok", yield answer(step)]);
    } catch (e) {
      log.push(["caught", (e as Error).message]);
      if (step.rethrow) throw e;
    }
  }
  return log.length;
}

async function asAsync(steps: Step[], log: unknown[]): Promise<number> {
  for (const step of steps) {
    try {
      log.push(["ok", await answer(step)]);
    } catch (e) {
      log.push(["caught", (e as Error).message]);
      if (step.rethrow) throw e;
    }
  }
  return log.length;
}

async function outcome(run: () => unknown): Promise<unknown[]> {
  try {
    return ["returned", await run()];
  } catch (e) {
    return ["threw", (e as Error).message];
  }
}

it("runs a trampoline that may wait as its async original would, without a promise when nothing waits", async () => {
  const maybeAsync = new Function(`${LEAN_HELPERS}\nreturn __maybeAsync;`)() as (
    g: typeof asGenerator,
  ) => (steps: Step[], log: unknown[]) => unknown;
  const lean = maybeAsync(asGenerator);
  const step = fc.record({
    kind: fc.constantFrom("value", "resolved", "rejected", "thenable"),
    v: fc.integer(),
    rethrow: fc.boolean(),
  }) as fc.Arbitrary<Step>;
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 8 }), async (steps) => {
      const leanLog: unknown[] = [];
      const asyncLog: unknown[] = [];
      const returned = lean(steps, leanLog);
      const waits = steps.some((s) => s.kind !== "value");
      assert.equal(returned instanceof Promise, waits, "a promise exactly when a step waited");
      assert.deepEqual(await outcome(() => returned), await outcome(() => asAsync(steps, asyncLog)));
      assert.deepEqual(leanLog, asyncLog);
    }),
    { numRuns: 500 },
  );
});
