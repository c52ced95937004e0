// The component-type decoder against components wasm-tools builds: every kind of type renders as
// WIT-like text, resources keep their names across interfaces, a real guest's core code is
// skipped, and bytes it cannot walk are an error rather than a guess.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { componentEmbed, componentNew, parse } from "@bytecodealliance/jco";
import { buildGuest } from "../scripts/guests.ts";
import { ComponentTypesError, importedInterfaces } from "./component-types.ts";

/** A component importing everything in `world` of `witSource`, with a generated core module. */
async function dummy(witSource: string, world: string): Promise<Uint8Array> {
  return componentNew(await componentEmbed({ dummy: true, witSource, world }));
}

describe("importedInterfaces", () => {
  it("renders every kind of value type structurally, without parameter names", async () => {
    const bytes = await dummy(
      `package test:shapes@1.2.3;
      interface types {
        record point { x: s32, y: s32 }
        variant shape { circle(f64), square(point), none }
        enum color { red, green }
        flags perms { read, write }
        all: func(a: bool, b: u8, c: s64, d: char, e: list<u8>, f: tuple<string, u32>, g: option<point>) -> result<shape, color>;
        none: func(p: perms);
        empty: func() -> result;
        ok-only: func() -> result<string>;
        err-only: func() -> result<_, string>;
      }
      world w { import types; }`,
      "w",
    );
    const [types, ...rest] = importedInterfaces(bytes);
    assert.equal(rest.length, 0);
    assert.equal(types?.name, "test:shapes/types@1.2.3");
    assert.equal(types?.unversioned, "test:shapes/types");
    assert.equal(types?.version, "1.2.3");
    assert.deepEqual(Object.fromEntries(types!.functions), {
      all:
        "func(bool, u8, s64, char, list<u8>, tuple<string, u32>, option<record { x: s32, y: s32 }>) -> " +
        "result<variant { circle(f64), square(record { x: s32, y: s32 }), none }, enum { red, green }>",
      none: "func(flags { read, write })",
      empty: "func() -> result",
      "ok-only": "func() -> result<string>",
      "err-only": "func() -> result<_, string>",
    });
  });

  it("names resources, also where another interface uses them", async () => {
    const bytes = await dummy(
      `package test:res;
      interface a {
        resource thing { constructor(name: string); name: func() -> string; make: static func() -> thing; }
      }
      interface b {
        use a.{thing};
        takes: func(t: borrow<thing>, o: thing) -> list<thing>;
      }
      world w { import a; import b; }`,
      "w",
    );
    const byName = new Map(importedInterfaces(bytes).map((i) => [i.name, Object.fromEntries(i.functions)]));
    assert.deepEqual(byName.get("test:res/a"), {
      "[constructor]thing": "func(string) -> own<thing>",
      "[method]thing.name": "func(borrow<thing>) -> string",
      "[static]thing.make": "func() -> own<thing>",
    });
    assert.deepEqual(byName.get("test:res/b"), {
      takes: "func(borrow<thing>, own<thing>) -> list<own<thing>>",
    });
    const unversioned = importedInterfaces(bytes).find((i) => i.name === "test:res/a");
    assert.equal(unversioned?.version, undefined);
    assert.equal(unversioned?.unversioned, "test:res/a");
  });

  it("reads a built guest's imports past its core module", async () => {
    const bytes = new Uint8Array(await readFile(await buildGuest("fixture", "hello-p020")));
    const types = importedInterfaces(bytes).find((i) => i.name === "wasi:http/types@0.2.0");
    assert.equal(
      types?.functions.get("[constructor]outgoing-response"),
      "func(own<fields>) -> own<outgoing-response>",
    );
    assert.equal(
      types?.functions.get("[method]outgoing-response.body"),
      "func(borrow<outgoing-response>) -> result<own<outgoing-body>>",
    );
  });

  it("refuses what is not a component, and bytes cut short", async () => {
    const core = await parse("(module)");
    assert.throws(() => importedInterfaces(core), ComponentTypesError);
    assert.throws(() => importedInterfaces(new TextEncoder().encode("not wasm")), ComponentTypesError);
    const bytes = await dummy(
      "package test:cut; interface i { f: func(a: string) -> u32; } world w { import i; }",
      "w",
    );
    assert.throws(() => importedInterfaces(bytes.subarray(0, 40)), ComponentTypesError);
  });
});
