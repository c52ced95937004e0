// The Spin interfaces wasmgate does not back answer every call with their own error variant, never
// a trap. test/spin-app.test.ts deploys a component that calls each of them through a gateway.

import assert from "node:assert/strict";
import { it } from "node:test";
import { createUnsupportedImports } from "./index.ts";

function payloadOf(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    assert.ok(err && typeof err === "object" && "payload" in err, `not a WIT error: ${err}`);
    return err.payload;
  }
  assert.fail("expected an error");
}

const imports = createUnsupportedImports();

it("answers each connection's open with the interface's `other` error, naming the interface", () => {
  for (const name of ["redis", "mqtt", "postgres", "mysql"] as const) {
    const iface = `fermyon:spin/${name}` as const;
    const { Connection } = imports[iface];
    assert.deepEqual(
      payloadOf(() =>
        (Connection.open as (...args: unknown[]) => unknown)("redis://127.0.0.1", "u", "p", 10n),
      ),
      { tag: "other", val: `${iface} is not supported on this gateway` },
    );
  }
});

it("answers inferencing and embeddings with llm's `runtime-error`", () => {
  const llm = imports["fermyon:spin/llm"];
  const expected = { tag: "runtime-error", val: "fermyon:spin/llm is not supported on this gateway" };
  assert.deepEqual(
    payloadOf(() => llm.infer()),
    expected,
  );
  assert.deepEqual(
    payloadOf(() => llm.generateEmbeddings()),
    expected,
  );
});

it("links rdbms-types, which holds only types", () => {
  assert.deepEqual(imports["fermyon:spin/rdbms-types"], {});
});
