/**
 * What only the SQLite backend has: its file settings, lazy purging of expired rows, and lock
 * timeouts between connections.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { createSqliteKvStore, defineKvLimits, KvError } from "./index.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const ns = { tenant: "acme", bucket: "cache" };

describe("sqlite backend", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wasmgate-kv-sqlite-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("a database file runs in WAL mode", async () => {
    const path = join(dir, "wal.sqlite");
    const store = createSqliteKvStore({ path });
    await store.set(ns, "k", bytes("v"));
    const raw = new DatabaseSync(path);
    assert.equal(raw.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    raw.close();
    await store.close();
  });

  test("expired rows are invisible at once and deleted for real a few writes later", async () => {
    const path = join(dir, "purge.sqlite");
    let clock = 1_000_000;
    const store = createSqliteKvStore({ path, now: () => clock });
    const raw = new DatabaseSync(path);
    const rows = () => Number(raw.prepare("SELECT count(*) AS n FROM kv_entries").get()?.n);
    await store.setMany(ns, [["stays", bytes("v")]]);
    for (let index = 0; index < 100; index++)
      await store.set(ns, `temp${index}`, bytes("v"), { ttlSeconds: 1 });
    assert.equal(rows(), 101);
    clock += 1000;
    assert.equal(await store.get(ns, "temp0"), undefined);
    assert.deepEqual((await store.listKeys(ns)).keys, ["stays"]);
    for (let index = 0; index < 64; index++) await store.set(ns, "stays", bytes(String(index)));
    assert.equal(rows(), 1);
    raw.close();
    await store.close();
  });

  test("a write blocked by another connection's lock fails with ERR_KV_TIMEOUT after the op timeout", async () => {
    const path = join(dir, "locked.sqlite");
    const store = createSqliteKvStore({ path, limits: defineKvLimits({ opTimeoutMs: 150 }) });
    await store.set(ns, "k", bytes("before"));
    const raw = new DatabaseSync(path);
    raw.exec("BEGIN IMMEDIATE");
    try {
      const started = performance.now();
      await assert.rejects(store.set(ns, "k", bytes("blocked")), (error) => {
        assert.ok(error instanceof KvError);
        assert.equal(error.code, "ERR_KV_TIMEOUT");
        assert.equal(error.kind, "system");
        return true;
      });
      const ms = performance.now() - started;
      assert.ok(ms >= 100 && ms < 1000, `gave up after ${Math.round(ms)} ms`);
      // WAL: readers are not blocked by the writer.
      assert.deepEqual(await store.get(ns, "k"), bytes("before"));
    } finally {
      raw.exec("ROLLBACK");
      raw.close();
    }
    await store.set(ns, "k", bytes("after"));
    assert.deepEqual(await store.get(ns, "k"), bytes("after"));
    await store.close();
  });

  test("in-memory stores are private to their object", async () => {
    const one = createSqliteKvStore({ path: ":memory:" });
    const two = createSqliteKvStore({ path: ":memory:" });
    await one.set(ns, "k", bytes("v"));
    assert.equal(await two.get(ns, "k"), undefined);
    assert.deepEqual(await one.get(ns, "k"), bytes("v"));
    await one.close();
    await two.close();
  });

  test("a database that cannot be opened is ERR_KV_UNAVAILABLE", () => {
    assert.throws(
      () => createSqliteKvStore({ path: join(dir, "no-such-dir", "kv.sqlite") }),
      (error) => error instanceof KvError && error.code === "ERR_KV_UNAVAILABLE" && error.kind === "system",
    );
  });
});
