// Spin's key-value interface on a real store (the embedded SQLite one): labels are granted buckets,
// errors are the interface's variant, and store calls draw on the same budget as wasi:keyvalue's.
// test/spin-app.test.ts runs it from a component built with Spin's JS SDK, on both backends.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, it } from "node:test";
import { createSqliteKvStore } from "../../../kv/index.ts";
import { createKvHost } from "../keyvalue/host.ts";
import type { KvGrant } from "../keyvalue/index.ts";
import { DEFAULT_KV_REVISION } from "../keyvalue/revisions.ts";
import { createSpinKeyValueImports } from "./index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "wasmgate-spin-kv-"));
const store = createSqliteKvStore({ path: path.join(dir, "kv.db") });
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const text = new TextEncoder();

/** The `payload` jco turns into the WIT `err` case, or a failure when `run` did not throw one. */
async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    assert.ok(err && typeof err === "object" && "payload" in err, `not a WIT error: ${err}`);
    return err.payload;
  }
  assert.fail("expected an error");
}

/** A request's key-value state: the app shop of `tenant`, granted its own `buckets`. */
function grantOf(tenant: string, buckets: string[], opsLeft: number): KvGrant {
  return { tenant, app: "shop", buckets, sharedBuckets: [], opsLeft };
}

function imports(grant: KvGrant, onOpLimit = () => {}) {
  return createSpinKeyValueImports(
    () => store,
    () => grant,
    onOpLimit,
  )["fermyon:spin/key-value"];
}

it("opens only granted labels; anything else is access-denied, never a trap", async () => {
  const { Store } = imports(grantOf("acme", ["default", "carts"], 100));
  assert.ok(Store.open("default"));
  assert.ok(Store.open("carts"));
  for (const label of ["orders", "Default", "", "../default"]) {
    assert.deepEqual(await errorOf(() => Store.open(label)), { tag: "access-denied" }, label);
  }
});

it("gets, sets, deletes, checks and lists keys in the app's bucket", async () => {
  const { Store } = imports(grantOf("acme", ["default"], 100));
  const kv = Store.open("default");
  assert.equal(await kv.get("missing"), undefined);
  await kv.set("a", text.encode("1"));
  await kv.set("b", text.encode("2"));
  assert.deepEqual(await kv.get("a"), text.encode("1"));
  assert.equal(await kv.exists("b"), true);
  assert.deepEqual((await kv.getKeys()).sort(), ["a", "b"]);
  await kv.delete("a");
  await kv.delete("never-there");
  assert.equal(await kv.exists("a"), false);
  assert.deepEqual(await kv.getKeys(), ["b"]);

  // The same label of another tenant is another bucket.
  const other = imports(grantOf("globex", ["default"], 100)).Store.open("default");
  assert.deepEqual(await other.getKeys(), []);
});

it("reports the store's errors as `other` with the error code", async () => {
  const { Store } = imports(grantOf("acme", ["default"], 100));
  const payload = (await errorOf(() => Store.open("default").set("", text.encode("x")))) as {
    tag: string;
    val: string;
  };
  assert.equal(payload.tag, "other");
  assert.match(payload.val, /^ERR_KV_/);
});

it("shares the request's operation budget with wasi:keyvalue", async () => {
  const grant = grantOf("acme", ["default"], 3);
  let refused = 0;
  const spin = imports(grant, () => refused++).Store.open("default");
  const wasiStore = DEFAULT_KV_REVISION.imports(
    createKvHost(
      () => store,
      () => grant,
    ),
  )["wasi:keyvalue/store"] as { open(id: string): { get(key: string): Promise<unknown> } };
  const wasi = wasiStore.open("default");
  await spin.set("n", text.encode("1"));
  await wasi.get("n");
  await spin.exists("n");
  assert.equal(grant.opsLeft, 0);
  const payload = (await errorOf(() => spin.get("n"))) as { tag: string; val: string };
  assert.equal(payload.tag, "other");
  assert.match(payload.val, /^ERR_KV_OP_LIMIT/);
  assert.equal(refused, 1);
});
