// Spin's sqlite interface on node:sqlite: one file per app and granted label, Spin's values both
// ways, errors as the interface's variant, and a connection confined to its file. A component
// built against the interface runs it through a real gateway in test/spin-app.test.ts.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { createSqliteImports, databaseFile, type SqliteApp, SqliteFiles, spinSqlite } from "./index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "wasmgate-spin-sqlite-"));
const files = new SqliteFiles({ maxOpen: 2, maxBytes: 64 * 1024 });
after(() => {
  files.close();
  rmSync(dir, { recursive: true, force: true });
});

async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    assert.ok(err && typeof err === "object" && "payload" in err, `not a WIT error: ${err}`);
    return err.payload;
  }
  assert.fail("expected an error");
}

function connect(app: SqliteApp, dataDir: () => string | undefined = () => dir) {
  return createSqliteImports(() => app, dataDir, files)["fermyon:spin/sqlite"].Connection;
}

const shop: SqliteApp = { tenant: "acme", app: "shop", databases: ["default", "orders"] };

describe("fermyon:spin/sqlite@2.0.0", () => {
  it("opens granted labels, one file per app and label; anything else is access-denied", async () => {
    const Connection = connect(shop);
    Connection.open("default").execute("CREATE TABLE IF NOT EXISTS t (x)", []);
    Connection.open("orders").execute("CREATE TABLE IF NOT EXISTS t (x)", []);
    assert.ok(existsSync(path.join(dir, "spin-sqlite", "acme", "shop", "default.db")));
    assert.ok(existsSync(path.join(dir, "spin-sqlite", "acme", "shop", "orders.db")));
    for (const label of ["carts", "Default", "../default", ""]) {
      assert.deepEqual(await errorOf(() => Connection.open(label)), { tag: "access-denied" }, label);
    }
  });

  it("runs statements with Spin's values as parameters and answers rows in column order", () => {
    const db = connect(shop).open("default");
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, price REAL, name TEXT, photo BLOB, note)", []);
    const big = 9_007_199_254_740_993n;
    const inserted = db.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?)", [
      { tag: "integer", val: big },
      { tag: "real", val: 2.5 },
      { tag: "text", val: "tea" },
      { tag: "blob", val: new Uint8Array([1, 2, 3]) },
      { tag: "null" },
    ]);
    assert.deepEqual(inserted, { columns: [], rows: [] });
    const result = db.execute("SELECT id, price, name, photo, note, name AS again FROM items WHERE id = ?", [
      { tag: "integer", val: big },
    ]);
    assert.deepEqual(result.columns, ["id", "price", "name", "photo", "note", "again"]);
    assert.deepEqual(result.rows, [
      {
        values: [
          { tag: "integer", val: big },
          { tag: "real", val: 2.5 },
          { tag: "text", val: "tea" },
          { tag: "blob", val: new Uint8Array([1, 2, 3]) },
          { tag: "null" },
          { tag: "text", val: "tea" },
        ],
      },
    ]);
  });

  it("keeps apps apart: the same label of another app is another file", () => {
    const other = connect({ tenant: "acme", app: "blog", databases: ["default"] }).open("default");
    assert.deepEqual(other.execute("SELECT name FROM sqlite_schema WHERE name = 'items'", []).rows, []);
  });

  it("answers SQL errors as io, never a trap; runs one statement per call, making no huge value", async () => {
    const db = connect(shop).open("default");
    const bad = (await errorOf(() => db.execute("SELEKT 1", []))) as { tag: string; val: string };
    assert.equal(bad.tag, "io");
    assert.match(bad.val, /syntax error/);
    const two = (await errorOf(() => db.execute("SELECT 1; DROP TABLE items", []))) as { tag: string };
    assert.equal(two.tag, "io");
    assert.equal(db.execute("SELECT count(*) AS n FROM items", []).rows.length, 1, "items is still there");
    assert.deepEqual(db.execute("SELECT 1 AS one; -- a comment\n", []).columns, ["one"]);
    const huge = (await errorOf(() => db.execute("SELECT zeroblob(17000000)", []))) as {
      tag: string;
      val: string;
    };
    assert.deepEqual([huge.tag, huge.val], ["io", "string or blob too big"], "no 17 MB value is made");
    const endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n";
    const many = (await errorOf(() => db.execute(endless, []))) as { tag: string; val: string };
    assert.equal(many.tag, "io");
    assert.match(many.val, /more than 100000 rows/);
    assert.equal(db.execute(`${endless} LIMIT 3`, []).rows.length, 3);
  });

  it("confines a connection to its file: no ATTACH, VACUUM INTO or TEMP table, no pragma that reaches outside", async () => {
    const db = connect(shop).open("default");
    const outside = path.join(dir, "outside.db");
    for (const sql of [
      `ATTACH DATABASE '${outside}' AS other`,
      `VACUUM INTO '${outside}'`,
      "PRAGMA max_page_count = 100000000",
      "ATTACH DATABASE '' AS scratch",
      "ATTACH DATABASE ':memory:' AS scratch",
      "CREATE TEMP TABLE scratch (x)",
      "CREATE TABLE temp.scratch (x)",
      "PRAGMA writable_schema = ON",
      "PRAGMA journal_mode = OFF",
      "PRAGMA page_size = 65536",
    ]) {
      const payload = (await errorOf(() => db.execute(sql, []))) as { tag: string; val: string };
      assert.equal(payload.tag, "io", sql);
      assert.match(payload.val, /not authorized|authorization denied/, sql);
    }
    assert.equal(existsSync(outside), false);
    db.execute("VACUUM", []);
    assert.deepEqual(db.execute("PRAGMA user_version", []).columns, ["user_version"]);
    assert.equal(
      ((await errorOf(() => db.execute("SELECT load_extension('x')", []))) as { tag: string }).tag,
      "io",
    );
  });

  it("answers database-full past the size cap", async () => {
    const db = connect(shop).open("orders");
    db.execute("CREATE TABLE IF NOT EXISTS blobs (b BLOB)", []);
    const payload = await errorOf(() => {
      for (let i = 0; i < 100; i++) {
        db.execute("INSERT INTO blobs VALUES (?)", [{ tag: "blob", val: new Uint8Array(8 * 1024) }]);
      }
    });
    assert.deepEqual(payload, { tag: "database-full" });
  });

  it("reopens a connection the worker closed to stay under its open files", () => {
    const apps = ["a1", "a2", "a3"].map((app) => connect({ tenant: "acme", app, databases: ["default"] }));
    const dbs = apps.map((Connection) => Connection.open("default"));
    for (const db of dbs) db.execute("CREATE TABLE IF NOT EXISTS t (x)", []);
    dbs[0]!.execute("INSERT INTO t VALUES (1)", []);
    assert.equal(dbs[0]!.execute("SELECT x FROM t", []).rows.length, 1);
  });

  it("refuses a label taken away since the connection was opened", async () => {
    const app: SqliteApp = { ...shop, databases: ["default"] };
    const db = connect(app).open("default");
    app.databases = [];
    assert.deepEqual(await errorOf(() => db.execute("SELECT 1", [])), { tag: "access-denied" });
  });

  it("keeps no files on a Redis-backed gateway, and refuses such components at deploy there", async () => {
    const payload = (await errorOf(() => connect(shop, () => undefined).open("default"))) as { tag: string };
    assert.equal(payload.tag, "io");
    const imports = ["wasi:cli/stdout", "fermyon:spin/sqlite"];
    assert.match(spinSqlite.refuse!(imports, { kv: "redis" })!, /fermyon:spin\/sqlite needs/);
    assert.equal(spinSqlite.refuse!(imports, { kv: "sqlite" }), undefined);
    assert.equal(spinSqlite.refuse!(["fermyon:spin/key-value"], { kv: "redis" }), undefined);
  });

  it("never builds a path outside the data folder", () => {
    assert.equal(databaseFile(dir, { ...shop, tenant: ".." }, "default"), undefined);
    assert.equal(databaseFile(dir, { ...shop, app: "a/b" }, "default"), undefined);
    assert.equal(databaseFile(dir, shop, "x.db"), undefined);
    assert.equal(
      databaseFile(dir, shop, "default"),
      path.join(dir, "spin-sqlite", "acme", "shop", "default.db"),
    );
  });
});
