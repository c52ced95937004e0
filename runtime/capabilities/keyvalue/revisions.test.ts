// The wasi:keyvalue revisions: each one's table of shapes is exactly what its published WIT gives
// (so a hand-copied shape cannot drift), a component is told apart by its own types and refused
// for a revision no table has, and each revision's host functions answer in its own shapes from
// the same store (SQLite in memory here; test/kv-revisions.test.ts runs real gateways on SQLite and
// Redis).

import assert from "node:assert/strict";
import path from "node:path";
import { after, describe, it } from "node:test";
import { componentEmbed, componentNew } from "@bytecodealliance/jco";
import { createSqliteKvStore, type KvStore } from "../../../kv/index.ts";
import { type ImportedInterface, importedInterfaces } from "../../component-types.ts";
import { RuntimeError } from "../../errors.ts";
import type { ComponentImports } from "../types.ts";
import { createKvHost, type KvGrant } from "./host.ts";
import { detectKvRevision, KV_REVISIONS, kvRevision } from "./revisions.ts";
import { cursorNamespace, cursorNumber } from "./u64-cursors.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");

/** Where each revision's WIT is as published, and a world of it that imports every function. */
const PUBLISHED: Record<string, { wit: string; world: string }> = {
  "0.2.0-draft2": { wit: "wit", world: "http-kv-guest" },
  "0.2.0-draft2-early": { wit: "test/fixtures/kv-draft2-early/wit", world: "guest" },
  "0.2.0-draft": { wit: "test/fixtures/kv-draft/wit", world: "guest" },
};

/** The wasi:keyvalue imports of a component that imports everything of `world`. */
async function importsOf(wit: string, world: string): Promise<ImportedInterface[]> {
  const bytes = await componentNew(
    await componentEmbed({ dummy: true, witPath: path.join(ROOT, wit), world }),
  );
  return importedInterfaces(bytes).filter((i) => i.unversioned.startsWith("wasi:keyvalue/"));
}

function component(interfaces: readonly ImportedInterface[]): ComponentImports {
  return { names: [...new Set(interfaces.map((i) => i.unversioned))], interfaces: () => interfaces };
}

function refusal(interfaces: readonly ImportedInterface[]): string {
  try {
    detectKvRevision(component(interfaces));
  } catch (err) {
    assert.ok(err instanceof RuntimeError);
    assert.equal(err.code, "ERR_COMPONENT_UNSUPPORTED_IMPORTS");
    return err.message;
  }
  assert.fail("the component was not refused");
}

describe("revisions of wasi:keyvalue", () => {
  for (const revision of KV_REVISIONS) {
    it(`${revision.id}: the table of shapes is the published WIT's, every function of it`, async () => {
      const published = PUBLISHED[revision.id]!;
      const imported = await importsOf(published.wit, published.world);
      assert.deepEqual(
        Object.fromEntries(
          imported.map((i) => [
            i.unversioned.slice("wasi:keyvalue/".length),
            Object.fromEntries(i.functions),
          ]),
        ),
        revision.functions,
      );
      for (const i of imported) assert.equal(i.version, revision.version, i.name);
      assert.equal(detectKvRevision(component(imported)), revision.id);
    });
  }

  it("records nothing for a component without wasi:keyvalue, and links it to today's draft2", () => {
    assert.equal(
      detectKvRevision({ names: ["wasi:http/types"], interfaces: () => assert.fail() }),
      undefined,
    );
    assert.equal(kvRevision(undefined).id, "0.2.0-draft2");
    assert.throws(() => kvRevision("0.9.9"), /prepared for wasi:keyvalue revision 0\.9\.9/);
  });

  it("serves a component that imports only some functions, by the revision they fit", async () => {
    const draft = await importsOf(PUBLISHED["0.2.0-draft"]!.wit, "guest");
    const store = draft.filter((i) => i.unversioned === "wasi:keyvalue/store");
    assert.equal(detectKvRevision(component(store)), "0.2.0-draft");
    const draft2 = await importsOf("wit", "http-kv-guest");
    const get = draft2
      .filter((i) => i.unversioned === "wasi:keyvalue/store")
      .map((i) => ({ ...i, functions: new Map([...i.functions].filter(([name]) => name === "open")) }));
    assert.equal(detectKvRevision(component(get)), "0.2.0-draft2", "the first of two that fit");
  });

  it("refuses a version it does not serve, naming the interface and version", () => {
    const message = refusal([
      {
        name: "wasi:keyvalue/store@0.3.0",
        unversioned: "wasi:keyvalue/store",
        version: "0.3.0",
        functions: new Map(),
      },
    ]);
    assert.match(message, /wasi:keyvalue\/store@0\.3\.0/);
    assert.match(message, /serves wasi:keyvalue@0\.2\.0-draft2 and wasi:keyvalue@0\.2\.0-draft/);
  });

  it("refuses a served version with a function of another shape, naming it", async () => {
    const [store, , batch] = await importsOf("wit", "http-kv-guest");
    assert.equal(batch?.unversioned, "wasi:keyvalue/batch");
    const madeUp = new Map(batch!.functions);
    madeUp.set("get-many", "func(borrow<bucket>, list<string>) -> result<list<list<u8>>, ?>");
    const message = refusal([store!, { ...batch!, functions: madeUp }]);
    assert.match(
      message,
      /wasi:keyvalue\/batch@0\.2\.0-draft2 `get-many: func\(borrow<bucket>, list<string>\) -> result<list<list<u8>>, \?>`/,
    );
    assert.match(
      message,
      /no revision of wasi:keyvalue@0\.2\.0-draft2 this gateway serves has that function/,
    );
  });

  it("refuses one component importing two revisions: jco would link both to one host", async () => {
    const [draftStore] = await importsOf(PUBLISHED["0.2.0-draft"]!.wit, "guest");
    const [, , draft2Batch] = await importsOf("wit", "http-kv-guest");
    const message = refusal([draftStore!, draft2Batch!]);
    assert.match(message, /wasi:keyvalue\/store@0\.2\.0-draft, wasi:keyvalue\/batch@0\.2\.0-draft2/);
  });

  it("refuses an interface of wasi:keyvalue no revision has", () => {
    const message = refusal([
      {
        name: "wasi:keyvalue/watcher@0.2.0-draft",
        unversioned: "wasi:keyvalue/watcher",
        version: "0.2.0-draft",
        functions: new Map([["on-set", "func(own<bucket>, string, list<u8>)"]]),
      },
    ]);
    assert.match(message, /wasi:keyvalue\/watcher@0\.2\.0-draft `on-set/);
  });
});

/** The embedded store as it is (its calls answer at once), and seen as a store that suspends (Redis). */
const MODES = {
  "sync calls": (store: KvStore) => store,
  "suspending calls": (store: KvStore): KvStore => Object.create(store, { sync: { value: undefined } }),
};

for (const [mode, view] of Object.entries(MODES))
  describe(`each revision's host functions on one store (${mode})`, () => {
    const stores: KvStore[] = [];
    after(async () => {
      for (const s of stores) await s.close();
    });

    /** The host imports of one instance of `id`, on `store`, for tenant acme sharing its bucket `default`. */
    function instance(id: string, store: KvStore, opsLeft = 100_000) {
      const grant: KvGrant = {
        tenant: "acme",
        app: "shop",
        buckets: [],
        sharedBuckets: ["default"],
        opsLeft,
      };
      const imports = kvRevision(id).imports(
        createKvHost(
          () => store,
          () => grant,
        ),
      ) as any;
      const bucket = imports["wasi:keyvalue/store"].open("default");
      return { imports, bucket, grant };
    }

    function fresh(): KvStore {
      const store = createSqliteKvStore({ path: ":memory:" });
      stores.push(store);
      return view(store);
    }

    const bytes = (text: string) => new TextEncoder().encode(text);
    /** What `call` failed with: thrown at once (sync calls) or as a rejection. */
    const payloadOf = async (call: () => unknown) => {
      try {
        await call();
      } catch (err) {
        return (err as { payload?: unknown }).payload;
      }
      assert.fail("the call did not fail");
    };

    /** Keys k00000… with values "v", `count` of them, in the store's batches. */
    async function seed(store: KvStore, count: number): Promise<string[]> {
      const keys = Array.from({ length: count }, (_, i) => `k${String(i).padStart(5, "0")}`);
      for (let i = 0; i < keys.length; i += 1000) {
        await store.setMany(
          { tenant: "acme", bucket: "default" },
          keys.slice(i, i + 1000).map((k) => [k, bytes("v")] as const),
        );
      }
      return keys;
    }

    it("get-many: a pair per key today, none for a missing key in the early draft2 and the draft", async () => {
      const store = fresh();
      await store.setMany({ tenant: "acme", bucket: "default" }, [
        ["a", bytes("1")],
        ["b", bytes("2")],
      ]);
      const keys = ["a", "missing", "b"];
      const draft2 = instance("0.2.0-draft2", store);
      assert.deepEqual(await draft2.imports["wasi:keyvalue/batch"].getMany(draft2.bucket, keys), [
        ["a", bytes("1")],
        ["missing", undefined],
        ["b", bytes("2")],
      ]);
      for (const id of ["0.2.0-draft2-early", "0.2.0-draft"]) {
        const { imports, bucket } = instance(id, store);
        assert.deepEqual(await imports["wasi:keyvalue/batch"].getMany(bucket, keys), [
          ["a", bytes("1")],
          undefined,
          ["b", bytes("2")],
        ]);
      }
    });

    it("draft: pages 5,000 keys with u64 cursors, each key once, and a cursor resolves on another instance", async () => {
      const store = fresh();
      const ns = { tenant: "acme", bucket: "default" };
      const all = await seed(store, 5000);
      const seen: string[] = [];
      let cursor: bigint | undefined;
      let pages = 0;
      do {
        // A new instance for every page: what one instance hands out, any other resolves.
        const page = await instance("0.2.0-draft", store).bucket.listKeys(cursor);
        seen.push(...page.keys);
        cursor = page.cursor;
        pages++;
        if (cursor !== undefined) {
          assert.equal(typeof cursor, "bigint");
          assert.ok(cursor > 0n && cursor < 2n ** 53n, `${cursor} fits a double exactly`);
        }
      } while (cursor !== undefined);
      assert.equal(pages, 5);
      assert.equal(new Set(seen).size, seen.length, "no key twice");
      assert.deepEqual([...seen].sort(), all, "every key");
      // The cursors are the store's, kept where the bucket's own listing does not show them.
      assert.equal((await store.listKeys(ns)).keys.length, 1000);
      assert.equal((await store.listKeys(cursorNamespace(ns))).keys.length, 4);
      // 0 is the start, as for SCAN.
      assert.deepEqual((await instance("0.2.0-draft", store).bucket.listKeys(0n)).keys, all.slice(0, 1000));
    });

    it("draft: a cursor never handed out, or handed out for another bucket, is the error variant", async () => {
      const store = fresh();
      const ns = { tenant: "acme", bucket: "default" };
      await seed(store, 1001);
      const { bucket } = instance("0.2.0-draft", store);
      const { cursor } = await bucket.listKeys(undefined);
      assert.equal(
        cursor,
        cursorNumber((await store.listKeys(ns)).cursor!),
        "the same position, the same number",
      );
      assert.deepEqual(await payloadOf(() => bucket.listKeys(12345n)), {
        tag: "other",
        val: "ERR_KV_CURSOR_INVALID: the list-keys cursor 12345 was not returned for this bucket, or is older than 3600 seconds",
      });
      const other = kvRevision("0.2.0-draft").imports(
        createKvHost(
          () => store,
          () => ({ tenant: "acme", app: "shop", buckets: ["other"], sharedBuckets: [], opsLeft: 100 }),
        ),
      ) as any;
      const payload = (await payloadOf(() =>
        other["wasi:keyvalue/store"].open("other").listKeys(cursor),
      )) as {
        val: string;
      };
      assert.match(payload.val, /^ERR_KV_CURSOR_INVALID: /);
    });

    it("draft: list-keys counts the store calls it makes against the request's budget", async () => {
      const store = fresh();
      await seed(store, 1001);
      const { bucket, grant } = instance("0.2.0-draft", store, 10);
      const first = await bucket.listKeys(undefined);
      assert.equal(grant.opsLeft, 8, "the page and keeping its cursor");
      await bucket.listKeys(first.cursor);
      assert.equal(grant.opsLeft, 6, "resolving the cursor and the page");
    });

    it("draft: increment takes and answers u64; what a u64 cannot hold is the error variant", async () => {
      const store = fresh();
      const { imports, bucket } = instance("0.2.0-draft", store);
      const increment = imports["wasi:keyvalue/atomics"].increment;
      assert.equal(await increment(bucket, "n", 5n), 5n);
      assert.equal(await increment(bucket, "n", 7n), 12n);
      assert.match(
        ((await payloadOf(() => increment(bucket, "n", 2n ** 63n))) as { val: string }).val,
        /^ERR_KV_INTEGER_OVERFLOW: /,
      );
      await store.set({ tenant: "acme", bucket: "default" }, "negative", bytes("-10"));
      assert.deepEqual(await payloadOf(() => increment(bucket, "negative", 3n)), {
        tag: "other",
        val: "ERR_KV_INTEGER_OVERFLOW: the value is now -7, which a u64 cannot hold (the increment was applied)",
      });
      // The same key, read by a draft2 guest: one store, one number.
      const draft2 = instance("0.2.0-draft2", store);
      assert.equal(await draft2.imports["wasi:keyvalue/atomics"].increment(draft2.bucket, "n", -2n), 10n);
    });

    it("every revision opens only granted buckets: access-denied otherwise", () => {
      for (const revision of KV_REVISIONS) {
        const imports = revision.imports(
          createKvHost(
            () => fresh(),
            () => ({ tenant: "acme", app: "shop", buckets: [], sharedBuckets: ["default"], opsLeft: 1 }),
          ),
        ) as any;
        assert.throws(
          () => imports["wasi:keyvalue/store"].open("secrets"),
          (err: any) => err.payload?.tag === "access-denied",
          revision.id,
        );
      }
    });
  });
