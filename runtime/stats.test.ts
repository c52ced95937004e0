// The worker's store counters: every call a guest makes counted by operation and every failure
// by its code, through the suspending calls and through the plain ones of an embedded store.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createSqliteKvStore } from "../kv/index.ts";
import { countingKvStore, createStatsBuffer, StatsTotals, WorkerStats } from "./stats.ts";

const ns = { tenant: "acme", bucket: "cache" };

function counted() {
  const buffer = createStatsBuffer();
  const store = countingKvStore(createSqliteKvStore({ path: ":memory:" }), new WorkerStats(buffer));
  const totals = () => new StatsTotals().sum([{ buffer, retired: false }]);
  return { store, totals };
}

describe("countingKvStore", () => {
  test("counts the suspending calls and their failures", async () => {
    const { store, totals } = counted();
    assert.equal(await store.increment(ns, "n", 2n), 2n);
    assert.equal(await store.get(ns, "missing"), undefined);
    await assert.rejects(store.increment(ns, "", 1n), { code: "ERR_KV_KEY_INVALID" });
    const { kvOperations, kvErrors } = totals();
    assert.equal(kvOperations.increment, 2);
    assert.equal(kvOperations.get, 1);
    assert.equal(kvErrors.ERR_KV_KEY_INVALID, 1);
    await store.close();
  });

  test("counts the plain calls of an embedded store, whose call table is frozen", async () => {
    const { store, totals } = counted();
    const sync = store.sync!;
    assert.ok(Object.isFrozen(sync));
    assert.equal(sync.increment(ns, "n", 1n), 1n);
    assert.equal(sync.increment(ns, "n", 1n), 2n);
    assert.throws(() => sync.get(ns, ""), { code: "ERR_KV_KEY_INVALID" });
    const { kvOperations, kvErrors } = totals();
    assert.equal(kvOperations.increment, 2);
    assert.equal(kvOperations.get, 1);
    assert.equal(kvErrors.ERR_KV_KEY_INVALID, 1);
    await store.close();
  });
});
