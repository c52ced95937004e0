import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { linkDirectly } from "./direct.ts";

/** A core module that reads the clock twice, as a component's core module imports it. */
async function clockReader(version: string): Promise<WebAssembly.Module> {
  const { parse } = await import("@bytecodealliance/jco");
  const wat = `(module
    (import "wasi:clocks/monotonic-clock@${version}" "now" (func $now (result i64)))
    (func (export "elapsed") (result i64)
      (local $first i64)
      (local.set $first (call $now))
      (i64.sub (call $now) (local.get $first))))`;
  return WebAssembly.compile((await parse(wat)) as Uint8Array<ArrayBuffer>);
}

const glue = () => {
  throw new Error("went through the glue");
};

describe("linkDirectly", () => {
  for (const version of ["0.2.0", "0.2.10", "0.2.12"]) {
    it(`gives a core module importing monotonic-clock@${version} the host clock itself`, async () => {
      const imports = { [`wasi:clocks/monotonic-clock@${version}`]: { now: glue } };
      linkDirectly(imports);
      const instance = await WebAssembly.instantiate(await clockReader(version), imports);
      const elapsed = (instance.exports.elapsed as () => bigint)();
      assert.ok(elapsed >= 0n && elapsed < 1_000_000_000n, `elapsed ${elapsed} ns`);
    });
  }

  it("leaves everything else to the glue", () => {
    const imports = {
      "wasi:clocks/monotonic-clock@0.3.0": { now: glue },
      "wasi:clocks/wall-clock@0.2.10": { now: glue },
      "wasi:clocks/monotonic-clock@0.2.10": { resolution: glue, "subscribe-duration": glue },
    };
    linkDirectly(imports);
    assert.equal(imports["wasi:clocks/monotonic-clock@0.3.0"].now, glue);
    assert.equal(imports["wasi:clocks/wall-clock@0.2.10"].now, glue);
    assert.deepEqual(Object.values(imports["wasi:clocks/monotonic-clock@0.2.10"]), [glue, glue]);
    linkDirectly(undefined);
  });
});
