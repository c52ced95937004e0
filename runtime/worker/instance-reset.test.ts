import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "@bytecodealliance/jco";
import { exposeState, STATE_EXPORT_PREFIX } from "./expose-state.ts";
import { InstanceImage } from "./instance-reset.ts";

// State the module keeps to itself (a memory, mutable globals of each JS-visible type, a table),
// one thing it already exports, and functions that change each.
const STATEFUL = `(module
  (memory 1 4)
  (data (i32.const 16) "start")
  (global $count (mut i32) (i32.const 7))
  (global $big (mut i64) (i64.const 1))
  (global $ratio (mut f64) (f64.const 0.5))
  (global $fixed i32 (i32.const 3))
  (global $shared (export "shared") (mut i32) (i32.const 9))
  (table $t 2 funcref)
  (elem (i32.const 0) $bump)
  (func $bump (export "bump")
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.set $big (i64.add (global.get $big) (i64.const 1)))
    (global.set $ratio (f64.const 2.5))
    (global.set $shared (i32.const 10))
    (i32.store8 (i32.const 16) (i32.const 88))
    (i32.store (i32.const 1000) (i32.const 12345)))
  (func (export "count") (result i32) (global.get $count))
  (func (export "big") (result i64) (global.get $big))
  (func (export "ratio") (result f64) (global.get $ratio))
  (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "word") (result i32) (i32.load (i32.const 1000)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  (func (export "grow-table") (result i32) (table.grow $t (ref.null func) (i32.const 1))))`;

type Stateful = {
  bump(): void;
  count(): number;
  big(): bigint;
  ratio(): number;
  byte(at: number): number;
  word(): number;
  grow(): number;
  "grow-table"(): number;
};

async function instantiate(wat: string): Promise<{ core: WebAssembly.Instance; exports: Stateful }> {
  const exposed = exposeState(await parse(wat));
  assert.equal(exposed.resettable, true);
  const core = new WebAssembly.Instance(new WebAssembly.Module(exposed.bytes as Uint8Array<ArrayBuffer>));
  return { core, exports: core.exports as unknown as Stateful };
}

describe("exposeState", () => {
  it("exports what a module keeps to itself, and nothing it already exports or cannot change", async () => {
    const { core } = await instantiate(STATEFUL);
    const added = Object.keys(core.exports)
      .filter((name) => name.startsWith(STATE_EXPORT_PREFIX))
      .sort();
    // Globals 0-2 are mutable and unexported; 3 is immutable, 4 exported as "shared".
    assert.deepEqual(
      added,
      ["global:0", "global:1", "global:2", "memory:0", "table:0"].map((n) => `${STATE_EXPORT_PREFIX}${n}`),
    );
  });

  it("adds an export section to a module that has none, where the format wants it", async () => {
    const bytes = await parse(`(module (memory 1) (global (mut i32) (i32.const 1)) (func) (start 0))`);
    const exposed = exposeState(bytes);
    const names = WebAssembly.Module.exports(
      new WebAssembly.Module(exposed.bytes as Uint8Array<ArrayBuffer>),
    );
    assert.deepEqual(names.map((e) => e.name).sort(), [
      `${STATE_EXPORT_PREFIX}global:0`,
      `${STATE_EXPORT_PREFIX}memory:0`,
    ]);
  });

  it("counts imported globals, memories and tables in the index spaces", async () => {
    const bytes = await parse(`(module
      (import "env" "g" (global i32)) (import "env" "m" (memory 1)) (import "env" "t" (table 1 funcref))
      (global (mut i32) (i32.const 0)) (table 1 funcref))`);
    const names = WebAssembly.Module.exports(
      new WebAssembly.Module(exposeState(bytes).bytes as Uint8Array<ArrayBuffer>),
    ).map((e) => e.name);
    assert.deepEqual(names.sort(), [`${STATE_EXPORT_PREFIX}global:1`, `${STATE_EXPORT_PREFIX}table:1`]);
  });

  it("leaves a module whose state JS cannot hold alone, and says it cannot be reset", async () => {
    const bytes = await parse(`(module (global (mut v128) (v128.const i32x4 0 0 0 0)))`);
    const exposed = exposeState(bytes);
    assert.equal(exposed.resettable, false);
    assert.equal(exposed.bytes, bytes);
  });
});

describe("InstanceImage", () => {
  it("puts memory and every mutable global back as they were when it was taken", async () => {
    const { core, exports } = await instantiate(STATEFUL);
    const image = new InstanceImage([core], []);
    exports.bump();
    exports.bump();
    assert.equal(exports.count(), 9);
    assert.equal(exports.byte(16), 88);
    assert.equal(image.restore(), true);
    assert.equal(exports.count(), 7);
    assert.equal(exports.big(), 1n);
    assert.equal(exports.ratio(), 0.5);
    assert.equal((core.exports.shared as WebAssembly.Global).value, 9);
    assert.equal(String.fromCharCode(...[16, 17, 18, 19, 20].map((at) => exports.byte(at))), "start");
    assert.equal(exports.word(), 0);
  });

  it("refuses, changing nothing, once a memory or a table has grown", async () => {
    for (const grow of ["grow", "grow-table"] as const) {
      const { core, exports } = await instantiate(STATEFUL);
      const image = new InstanceImage([core], []);
      exports.bump();
      exports[grow]();
      assert.equal(image.restore(), false, grow);
      assert.equal(exports.count(), 8, `${grow}: the globals are left as they were`);
      assert.equal(exports.word(), 12345, `${grow}: so is the memory`);
    }
  });

  it("shares the memory image of an instance that started identical", async () => {
    const shared: Uint8Array<ArrayBuffer>[] = [];
    const first = await instantiate(STATEFUL);
    assert.equal(new InstanceImage([first.core], shared).ownBytes, 0);
    assert.equal(shared.length, 1);
    const second = await instantiate(STATEFUL);
    assert.equal(new InstanceImage([second.core], shared).ownBytes, 0);
    const third = await instantiate(STATEFUL);
    third.exports.bump();
    const own = new InstanceImage([third.core], shared);
    assert.equal(own.ownBytes, 65536, "one that started different keeps its own");
    third.exports.grow();
    assert.equal(own.restore(), false);
  });
});
