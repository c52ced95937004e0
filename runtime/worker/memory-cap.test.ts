import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RuntimeError } from "../errors.ts";
import { capMemory, WASM_PAGE } from "./memory-cap.ts";

// (module (memory (export "m") <min> [max]) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))
function module(min: number, max?: number): Uint8Array {
  const limits = max === undefined ? [0x00, min] : [0x01, min, max];
  const mem = [0x05, 1 + limits.length, 0x01, ...limits];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    0x01,
    0x06,
    0x01,
    0x60,
    0x01,
    0x7f,
    0x01,
    0x7f, // type: (i32) -> i32
    0x03,
    0x02,
    0x01,
    0x00, // func 0 has type 0
    ...mem,
    0x07,
    0x0c,
    0x02,
    0x01,
    0x6d,
    0x02,
    0x00,
    0x04,
    0x67,
    0x72,
    0x6f,
    0x77,
    0x00,
    0x00, // exports m, grow
    0x0a,
    0x08,
    0x01,
    0x06,
    0x00,
    0x20,
    0x00,
    0x40,
    0x00,
    0x0b, // body: local.get 0; memory.grow 0
  ]);
}

function instantiate(bytes: Uint8Array) {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
  return instance.exports as { m: WebAssembly.Memory; grow(pages: number): number };
}

describe("capMemory", () => {
  it("adds a maximum to a memory that had none, and growth stops there", () => {
    const capped = capMemory(module(1), 4 * WASM_PAGE);
    assert.equal(capped.initialBytes, WASM_PAGE);
    const e = instantiate(capped.bytes);
    assert.equal(e.grow(3), 1);
    assert.equal(e.grow(1), -1, "growing past the cap fails");
    assert.equal(e.m.buffer.byteLength, 4 * WASM_PAGE);
  });

  it("lowers a larger declared maximum and keeps a smaller one", () => {
    assert.equal(instantiate(capMemory(module(1, 100), 2 * WASM_PAGE).bytes).grow(2), -1);
    const e = instantiate(capMemory(module(1, 2), 50 * WASM_PAGE).bytes);
    assert.equal(e.grow(1), 1);
    assert.equal(e.grow(1), -1);
  });

  it("refuses a module whose initial memory is over the cap", () => {
    assert.throws(
      () => capMemory(module(10), 4 * WASM_PAGE),
      (e: unknown) => e instanceof RuntimeError && e.code === "ERR_COMPONENT_MEMORY_TOO_LARGE",
    );
  });

  it("leaves a module without memory unchanged", () => {
    const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    assert.equal(capMemory(bytes, WASM_PAGE).bytes, bytes);
  });
});
