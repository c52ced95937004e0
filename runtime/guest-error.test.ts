import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  formatGuestError,
  GUEST_ERROR_PREFIX,
  MAX_ERROR_MESSAGE,
  MAX_FRAMES,
  parseGuestError,
  SOURCE_MAP_FILE,
  type SourceLookup,
  SourceMaps,
  sourceLookup,
} from "./guest-error.ts";

const SOURCE = `interface Thing { n: number }

function helper(thing: Thing): number {
  if (thing.n > 1) {
    throw new TypeError("something broke in helper");
  }
  return thing.n;
}

export const run = (n: number) => helper({ n });
`;

const line = (record: unknown) => `${GUEST_ERROR_PREFIX}${JSON.stringify(record)}`;
const dir = mkdtempSync(join(tmpdir(), "wasmgate-guest-error-"));
/** A real bundle of SOURCE and its source map, as the build makes them. */
let bundle: { code: string; map: string };

before(async () => {
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "index.ts"), SOURCE);
  const { rolldown } = await import("rolldown");
  const build = await rolldown({ input: join(dir, "src", "index.ts"), cwd: dir, platform: "neutral" });
  const { output } = await build.generate({
    format: "esm",
    sourcemap: "hidden",
    sourcemapExcludeSources: true,
    dir: join(dir, "out"),
  });
  await build.close();
  const chunk = output.find((o) => o.type === "chunk")!;
  bundle = { code: chunk.code, map: JSON.stringify(chunk.map) };
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Where `text` is in the bundle, 1-based, as an engine reports it. */
function inBundle(text: string): { line: number; column: number } {
  const lines = bundle.code.split("\n");
  const at = lines.findIndex((l) => l.includes(text));
  assert.ok(at !== -1, `${text} is in the bundle`);
  return { line: at + 1, column: lines[at]!.indexOf(text) + 1 };
}

describe("parseGuestError", () => {
  it("maps a SpiderMonkey stack through a real bundle's source map to the source's lines", () => {
    const map = sourceLookup(bundle.map);
    assert.ok(map);
    const thrown = inBundle("new TypeError");
    const called = inBundle("helper({");
    const stack = [
      `helper@entry.js:${thrown.line}:${thrown.column}`,
      `run@entry.js:${called.line}:${called.column}`,
      "fn@/build/0123abcd/sources/initializer.js:14943:42",
      "",
    ].join("\n");
    const error = parseGuestError(
      line({ name: "TypeError", message: "something broke in helper", stack }),
      map,
    );
    assert.deepEqual(error, {
      name: "TypeError",
      message: "something broke in helper",
      stack: ["at helper (../src/index.ts:5:11)", "at run (../src/index.ts:10:35)"],
    });
    assert.equal(
      formatGuestError(error!),
      "TypeError: something broke in helper\n    at helper (../src/index.ts:5:11)\n    at run (../src/index.ts:10:35)",
    );
  });

  it("reads V8 and QuickJS frames, and keeps bundle positions without a map", () => {
    const error = parseGuestError(
      line({
        name: "Error",
        message: "x",
        stack: "Error: x\n    at helper (index.js:3:9)\n    at index.js:7:1",
      }),
    );
    assert.deepEqual(error?.stack, ["at helper (index.js:3:9)", "at index.js:7:1"]);
  });

  it("leaves other lines alone: no prefix, malformed JSON, not an object", () => {
    assert.equal(parseGuestError("uncaught error: boom"), undefined);
    assert.equal(parseGuestError(`${GUEST_ERROR_PREFIX}{"name":`), undefined);
    assert.equal(parseGuestError(`${GUEST_ERROR_PREFIX}[1,2]`), undefined);
    assert.equal(parseGuestError(`${GUEST_ERROR_PREFIX}null`), undefined);
    assert.equal(parseGuestError(`${GUEST_ERROR_PREFIX}${"x".repeat(70_000)}`), undefined);
  });

  it("bounds what a hostile guest writes: long fields, many frames, control characters", () => {
    const stack = Array.from({ length: 2000 }, (_, i) => `f${i}@entry.js:${i}:1`).join("\n");
    const error = parseGuestError(
      line({ name: "\u001b[31mEvil\nName", message: "m".repeat(20_000), stack }),
    )!;
    assert.equal(error.stack.length, MAX_FRAMES);
    assert.ok(error.message.length <= MAX_ERROR_MESSAGE + 1);
    assert.doesNotMatch(formatGuestError(error).split("\n")[0]!, /\p{Cc}/u);
    // Wrong types become defaults, not exceptions.
    assert.deepEqual(parseGuestError(line({ name: 1, message: {}, stack: 5 })), {
      name: "Error",
      message: "",
      stack: [],
    });
  });

  it("survives a map that throws or points nowhere", () => {
    const throwing: SourceLookup = {
      origin() {
        throw new Error("bad map");
      },
    };
    const error = parseGuestError(line({ name: "E", message: "m", stack: "f@entry.js:999999:1" }), throwing);
    assert.deepEqual(error?.stack, ["at f (entry.js:999999:1)"]);
    const map = sourceLookup(bundle.map)!;
    const far = parseGuestError(line({ name: "E", message: "m", stack: "f@entry.js:999999:99999" }), map);
    assert.equal(far?.stack.length, 1);
  });

  it("never throws and stays bounded, whatever the line (property)", () => {
    const map = sourceLookup(bundle.map)!;
    const frame = fc
      .tuple(fc.string(), fc.string(), fc.integer(), fc.integer())
      .map(([fn, file, l, c]) => `${fn}@${file}:${l}:${c}`);
    const record = fc.record({
      name: fc.oneof(fc.string(), fc.anything()),
      message: fc.oneof(fc.string({ maxLength: 5000 }), fc.anything()),
      stack: fc.oneof(
        fc.array(fc.oneof(frame, fc.string())).map((l) => l.join("\n")),
        fc.anything(),
      ),
    });
    fc.assert(
      fc.property(
        fc.oneof(
          record.map(line),
          fc.string().map((s) => GUEST_ERROR_PREFIX + s),
        ),
        (text) => {
          const error = parseGuestError(text, map);
          if (error) {
            assert.ok(formatGuestError(error).length < 20_000);
            assert.ok(error.stack.length <= MAX_FRAMES);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("sourceLookup and SourceMaps", () => {
  it("refuse what is no source map", () => {
    assert.equal(sourceLookup("not json"), undefined);
    assert.equal(sourceLookup('{"version":3}'), undefined);
    assert.equal(sourceLookup("null"), undefined);
  });

  it("read a prepared component's map once, and nothing where there is none", () => {
    const prepared = join(dir, "prepared");
    mkdirSync(prepared);
    const maps = new SourceMaps();
    assert.equal(maps.get(prepared), undefined);
    writeFileSync(join(prepared, SOURCE_MAP_FILE), bundle.map);
    // Remembered as absent until the deployment is prepared anew (a new directory).
    assert.equal(maps.get(prepared), undefined);
    const other = join(dir, "prepared-2");
    mkdirSync(other);
    writeFileSync(join(other, SOURCE_MAP_FILE), bundle.map);
    assert.ok(maps.get(other));
  });

  it("read at most two maps a second, so apps failing in turn cannot keep the main thread parsing", () => {
    let now = 10_000;
    const maps = new SourceMaps(() => now);
    const dirs = [1, 2, 3].map((i) => {
      const d = join(dir, `budget-${i}`);
      mkdirSync(d);
      writeFileSync(join(d, SOURCE_MAP_FILE), bundle.map);
      return d;
    });
    assert.ok(maps.get(dirs[0]!));
    assert.ok(maps.get(dirs[1]!));
    assert.equal(maps.get(dirs[2]!), undefined, "the third in the same second is not read");
    assert.ok(maps.get(dirs[0]!), "a map already read is still at hand");
    now += 1000;
    assert.ok(maps.get(dirs[2]!), "and the next second it is");
  });
});
