// The two ways a store call runs (host.ts): as a plain call on the embedded store's `sync` calls,
// and suspending on its promises, as on Redis. A guest's arguments are hostile, so the property is
// checked on generated sequences of calls, not on cases picked by hand: for every revision, the
// same calls get the same answers and the same errors either way, on stores that end up holding
// the same, and whatever a call is given, it answers or fails as the WIT error variant (a
// `payload`), never with another exception a guest would see as a trap.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { createSqliteKvStore, type KvStore } from "../../../kv/index.ts";
import { createKvHost, type KvGrant } from "./host.ts";
import { KV_REVISIONS } from "./revisions.ts";

const stores: KvStore[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

const NOW = 1_700_000_000_000;
/** A fresh in-memory store on a fixed clock, seen with its sync calls or (`suspending`) without. */
function store(suspending: boolean): KvStore {
  const s = createSqliteKvStore({ path: ":memory:", now: () => NOW });
  stores.push(s);
  return suspending ? (Object.create(s, { sync: { value: undefined } }) as KvStore) : s;
}

type Outcome = { ok: unknown } | { err: unknown };

/** What a guest would get: the value, or the error variant's payload; anything else fails the test. */
async function outcome(call: () => unknown): Promise<Outcome> {
  try {
    return { ok: plain(await call()) };
  } catch (err) {
    assert.ok(
      err !== null && typeof err === "object" && "payload" in err,
      `not an error variant: ${String(err)}`,
    );
    return { err: plain((err as { payload: unknown }).payload) };
  }
}

/** Answers made comparable: a cas resource is its key and the value it read. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    if ("key" in value && "bucket" in value) {
      const cas = value as unknown as { key: string; value: unknown };
      return { cas: cas.key, value: plain(cas.value) };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

// Keys a guest may send: ordinary ones that collide, and ones the store must refuse.
const key = fc.oneof(
  fc.constantFrom("a", "b", "visits:/", "é", "🦀"),
  fc.constantFrom("", "\uD800", "x".repeat(513), "k\0"),
  fc.string({ maxLength: 6 }),
);
const value = fc.oneof(
  fc.uint8Array({ maxLength: 12 }),
  fc.constantFrom("0", "41", "-7", "9223372036854775807", "x").map((t) => new TextEncoder().encode(t)),
);
const delta = fc.oneof(
  fc.bigInt({ min: -100n, max: 100n }),
  fc.constantFrom(2n ** 63n, -(2n ** 63n) - 1n, 2n ** 63n - 1n),
);
const keys = fc.array(key, { maxLength: 4 });

/** One call of a revision's host functions, on bucket `b` of imports `i`. */
type Call = (i: any, b: any) => unknown;
const call: fc.Arbitrary<[string, Call]> = fc.oneof(
  key.map((k): [string, Call] => [`get ${k}`, (_i, b) => b.get(k)]),
  fc.tuple(key, value).map(([k, v]): [string, Call] => [`set ${k}`, (_i, b) => b.set(k, v)]),
  key.map((k): [string, Call] => [`delete ${k}`, (_i, b) => b.delete(k)]),
  key.map((k): [string, Call] => [`exists ${k}`, (_i, b) => b.exists(k)]),
  fc
    .tuple(key, delta)
    .map(([k, d]): [string, Call] => [
      `increment ${k} ${d}`,
      (i, b) => i["wasi:keyvalue/atomics"].increment(b, k, d),
    ]),
  keys.map((ks): [string, Call] => [`get-many ${ks}`, (i, b) => i["wasi:keyvalue/batch"].getMany(b, ks)]),
  fc
    .array(fc.tuple(key, value), { maxLength: 3 })
    .map((es): [string, Call] => [`set-many`, (i, b) => i["wasi:keyvalue/batch"].setMany(b, es)]),
  keys.map((ks): [string, Call] => [
    `delete-many ${ks}`,
    (i, b) => i["wasi:keyvalue/batch"].deleteMany(b, ks),
  ]),
  fc.constant<[string, Call]>(["list-keys", (_i, b) => b.listKeys(undefined)]),
  fc.tuple(key, value).map(([k, v]): [string, Call] => [
    `cas ${k}`,
    async (i, b) => {
      const atomics = i["wasi:keyvalue/atomics"];
      if (!atomics.Cas) return "no cas in this revision";
      const cas = await atomics.Cas.new(b, k);
      return { read: plain(cas.current()), swapped: await outcome(() => atomics.swap(cas, v)) };
    },
  ]),
  fc
    .tuple(key, value, fc.option(fc.integer({ min: -1, max: 3 }), { nil: undefined }))
    .map(([k, v, ttl]): [string, Call] => [
      `set-with-options ${k} ${ttl}`,
      (i, b) =>
        i["wasmgate:kv/ext"]
          ? i["wasmgate:kv/ext"].setWithOptions(b, k, v, { ttlSeconds: ttl, metadata: "m" })
          : "no ext",
    ]),
  key.map((k): [string, Call] => [
    `get-with-metadata ${k}`,
    (i, b) => (i["wasmgate:kv/ext"] ? i["wasmgate:kv/ext"].getWithMetadata(b, k) : "no ext"),
  ]),
);

describe("a store call answers the same as a plain call and suspending", () => {
  for (const revision of KV_REVISIONS) {
    it(`${revision.id}: generated calls, both ways, answer alike and only as values or error variants`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(call, { minLength: 1, maxLength: 25 }),
          fc.integer({ min: 1, max: 30 }),
          async (calls, ops) => {
            const sides = [false, true].map((suspending) => {
              const grant: KvGrant = {
                tenant: "acme",
                app: "shop",
                buckets: ["default"],
                sharedBuckets: [],
                opsLeft: ops,
              };
              const imports = revision.imports(
                createKvHost(
                  () => sideStore,
                  () => grant,
                ),
              ) as any;
              const sideStore = store(suspending);
              return { grant, imports, bucket: imports["wasi:keyvalue/store"].open("default") };
            });
            for (const [label, run] of calls) {
              const [plainCall, suspended] = [
                await outcome(() => run(sides[0]!.imports, sides[0]!.bucket)),
                await outcome(() => run(sides[1]!.imports, sides[1]!.bucket)),
              ];
              assert.deepEqual(plainCall, suspended, label);
              assert.equal(
                sides[0]!.grant.opsLeft,
                sides[1]!.grant.opsLeft,
                `${label}: the same budget left`,
              );
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});
