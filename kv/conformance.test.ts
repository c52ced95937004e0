/**
 * One set of cases run against every backend: whatever passes here behaves the same for guests on
 * Redis and on SQLite. Redis runs as a real server (test/harness); SQLite in a temp directory with
 * a fake clock.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster } from "ioredis";
import { startRedisCluster, startRedisServer } from "../test/harness/redis-server.ts";
import { startRedisSentinel } from "../test/harness/redis-topologies.ts";
import {
  createRedisKvStore,
  createSqliteKvStore,
  DEFAULT_KV_LIMITS,
  defineKvLimits,
  KvError,
  type KvErrorCode,
  type KvLimits,
  type KvNamespace,
  type KvStore,
  type KvSyncStore,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
} from "./index.ts";

type Subject = {
  /** A store with the default limits. */
  store: KvStore;
  /** A second store object over the same data (another connection). */
  peer: KvStore;
  /** A store over the same data with other limits. */
  open(limits: KvLimits): KvStore;
  /** Lets `ms` pass for TTLs: a fake clock for SQLite, real time for Redis. */
  elapse(ms: number): Promise<void>;
  /** Whether listKeys pages in key order. */
  ordered: boolean;
  teardown(): Promise<void>;
};

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

let namespaceCounter = 0;
/** A namespace no other test uses. */
function freshNamespace(bucket = "bucket"): KvNamespace {
  namespaceCounter += 1;
  return { tenant: `tenant-${process.pid}-${namespaceCounter}`, bucket };
}

async function rejectsWithCode(promise: Promise<unknown>, code: KvErrorCode): Promise<KvError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof KvError, `expected KvError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** Every key of a listing, page by page, checking each page against `limit`. */
async function listAll(
  store: KvStore,
  ns: KvNamespace,
  options: { prefix?: string; limit?: number } = {},
): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.listKeys(ns, cursor === undefined ? options : { ...options, cursor });
    pages += 1;
    assert.ok(page.keys.length <= (options.limit ?? DEFAULT_KV_LIMITS.maxListLimit), "page exceeds limit");
    keys.push(...page.keys);
    cursor = page.cursor;
    assert.ok(pages < 100_000, "listing does not end");
  } while (cursor !== undefined);
  return { keys, pages };
}

function assertSameKeys(actual: string[], expected: string[]): void {
  assert.equal(new Set(actual).size, actual.length, "a key was listed twice");
  assert.deepEqual([...actual].sort(), [...expected].sort());
}

/** UTF-8 byte order, the order SQLite pages in. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function setManyInChunks(store: KvStore, ns: KvNamespace, keys: string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += 1000) {
    await store.setMany(
      ns,
      keys.slice(start, start + 1000).map((key) => [key, bytes(key)] as const),
    );
  }
}

/** Names meant to break a naive key layout (`tenant:bucket:key`, unescaped globs, NUL, …). */
const HOSTILE_NAMES = [
  "a",
  "b",
  "a:b",
  "b:c",
  ":",
  "::",
  "{",
  "}",
  "{}",
  "{t:a:b}",
  "*",
  "?",
  "[",
  "]",
  "[a-z]",
  "\\",
  "\0",
  "a\0b",
  "%3A",
  "%",
  "v:",
  "m:",
  "🦀",
  "e\u0301",
  "é",
  "\uFFFD",
  "x".repeat(DEFAULT_KV_LIMITS.maxNameBytes),
];

const HOSTILE_KEYS = [
  "k",
  "*",
  "?",
  "[",
  "]",
  "[*]",
  "{",
  "}",
  "{t:a:b}v:k",
  ":",
  "a:b",
  "\\",
  "\\*",
  "\0",
  "k\0",
  "m:k",
  "v:k",
  "🦀",
  "\uFFFD",
  "\u{10FFFF}",
  "é".repeat(MAX_KEY_BYTES / 2),
];

function conformance(name: string, setup: () => Promise<Subject>): void {
  describe(`KvStore conformance: ${name}`, () => {
    let subject: Subject;
    let store: KvStore;
    before(async () => {
      subject = await setup();
      store = subject.store;
    });
    after(async () => {
      await subject?.teardown();
    });

    test("set, get, exists, overwrite and delete", async () => {
      const ns = freshNamespace();
      assert.equal(await store.get(ns, "greeting"), undefined);
      assert.equal(await store.exists(ns, "greeting"), false);
      await store.set(ns, "greeting", bytes("hello"));
      const value = await store.get(ns, "greeting");
      assert.ok(value instanceof Uint8Array);
      assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype, "values are plain Uint8Arrays");
      assert.equal(text(value), "hello");
      assert.equal(await store.exists(ns, "greeting"), true);
      await store.set(ns, "greeting", bytes("bye"));
      assert.equal(text(await store.get(ns, "greeting")), "bye");
      await store.delete(ns, "greeting");
      assert.equal(await store.get(ns, "greeting"), undefined);
      assert.equal(await store.exists(ns, "greeting"), false);
      await store.delete(ns, "greeting"); // deleting a missing key is fine
    });

    test("values are bytes: empty values and every byte value round-trip", async () => {
      const ns = freshNamespace();
      const all = Uint8Array.from({ length: 256 }, (_, index) => index);
      await store.set(ns, "all", all);
      await store.set(ns, "empty", new Uint8Array(0));
      // A view into a larger buffer must store only its own bytes.
      await store.set(ns, "view", new Uint8Array(all.buffer, 10, 5));
      assert.deepEqual(await store.get(ns, "all"), all);
      assert.deepEqual(await store.get(ns, "empty"), new Uint8Array(0));
      assert.equal(await store.exists(ns, "empty"), true);
      assert.deepEqual(await store.get(ns, "view"), Uint8Array.of(10, 11, 12, 13, 14));
    });

    test("a second store object sees the same data", async () => {
      const ns = freshNamespace();
      await store.set(ns, "shared", bytes("one"));
      assert.equal(text(await subject.peer.get(ns, "shared")), "one");
      await subject.peer.delete(ns, "shared");
      assert.equal(await store.exists(ns, "shared"), false);
    });

    test("metadata round-trips with the value and is replaced by every set", async () => {
      const ns = freshNamespace();
      await store.set(ns, "doc", bytes("v1"), { metadata: '{"type":"text","🦀":1}' });
      assert.deepEqual(await store.getWithMetadata(ns, "doc"), {
        value: bytes("v1"),
        metadata: '{"type":"text","🦀":1}',
      });
      await store.set(ns, "empty-metadata", bytes("x"), { metadata: "" });
      assert.deepEqual(await store.getWithMetadata(ns, "empty-metadata"), {
        value: bytes("x"),
        metadata: "",
      });
      // A set without metadata drops the old metadata.
      await store.set(ns, "doc", bytes("v2"));
      const entry = await store.getWithMetadata(ns, "doc");
      assert.deepEqual(entry, { value: bytes("v2") });
      assert.equal(entry !== undefined && "metadata" in entry, false);
      assert.equal(await store.getWithMetadata(ns, "missing"), undefined);
      await store.set(ns, "doc", bytes("v3"), { metadata: "m" });
      await store.delete(ns, "doc");
      assert.equal(await store.getWithMetadata(ns, "doc"), undefined);
      await store.set(ns, "doc", bytes("v4"));
      assert.deepEqual(await store.getWithMetadata(ns, "doc"), { value: bytes("v4") });
      // Metadata lives beside the value, never as a listed key of its own.
      assert.deepEqual((await listAll(store, ns)).keys.sort(), ["doc", "empty-metadata"]);
    });

    test("metadata limits: 1 KiB of UTF-8 at most, well-formed only", async () => {
      const ns = freshNamespace();
      const atLimit = "é".repeat(DEFAULT_KV_LIMITS.maxMetadataBytes / 2);
      await store.set(ns, "k", bytes("v"), { metadata: atLimit });
      assert.equal((await store.getWithMetadata(ns, "k"))?.metadata, atLimit);
      const error = await rejectsWithCode(
        store.set(ns, "k", bytes("v"), { metadata: `${atLimit}x` }),
        "ERR_KV_METADATA_TOO_LARGE",
      );
      assert.equal(error.kind, "user");
      assert.match(error.message, /1025 bytes.*1024 bytes/);
      await rejectsWithCode(
        store.set(ns, "k", bytes("v"), { metadata: "\uD800" }),
        "ERR_KV_METADATA_INVALID",
      );
      // Rejected writes change nothing.
      assert.equal((await store.getWithMetadata(ns, "k"))?.metadata, atLimit);
    });

    test("listKeys pages through 5,000 keys without missing or repeating one", async () => {
      const ns = freshNamespace();
      const keys = Array.from({ length: 5000 }, (_, index) => `key:${index}:${["é", "🦀"][index % 2]}`);
      await setManyInChunks(store, ns, keys);
      for (const limit of [undefined, 1000, 333, 7]) {
        const listed = await listAll(store, ns, limit === undefined ? {} : { limit });
        assertSameKeys(listed.keys, keys);
        if (limit !== undefined)
          assert.ok(listed.pages >= Math.ceil(5000 / limit), `too few pages at ${limit}`);
        if (subject.ordered) assert.deepEqual(listed.keys, [...keys].sort(byteOrder));
      }
      // A page of 1000 holds 1000 keys when that many remain.
      const first = await store.listKeys(ns, { limit: 1000 });
      if (subject.ordered) assert.equal(first.keys.length, 1000);
      assert.ok(first.cursor !== undefined);
      // The 5,000 keys stay: deleting them would let Redis shrink its key table while the next
      // tests list, and a shrink mid-SCAN may repeat keys across pages (as listKeys documents).
    });

    test("listKeys with a prefix full of glob and separator characters matches it literally", async () => {
      const ns = freshNamespace();
      const keys = [
        "a",
        "ab",
        "a*",
        "a*b",
        "a?c",
        "abc",
        "a[b]",
        "a[",
        "ab]",
        "a]",
        "a\\",
        "a\\*",
        "a{x}",
        "a:b",
        "a\0b",
        "a\0",
        "*",
        "*x",
        "?",
        "[",
        "[a-z]",
        "b",
        "\\",
        "🦀a",
        "🦀b",
      ];
      await store.setMany(
        ns,
        keys.map((key) => [key, bytes(key)]),
      );
      const prefixes = [
        "a",
        "a*",
        "a?",
        "a[",
        "a[b",
        "a]",
        "a\\",
        "a\\*",
        "a{",
        "a:",
        "a\0",
        "*",
        "?",
        "[",
        "[a",
      ];
      for (const prefix of [...prefixes, "\\", "🦀", "zz", ""]) {
        const expected = keys.filter((key) => key.startsWith(prefix));
        const listed = await listAll(store, ns, { prefix, limit: 2 });
        assertSameKeys(listed.keys, expected);
      }
      await rejectsWithCode(store.listKeys(ns, { prefix: "\uDC00" }), "ERR_KV_KEY_INVALID");
    });

    test("increment: missing key counts as 0, negative deltas, decimal ASCII storage, 64-bit exact", async () => {
      const ns = freshNamespace();
      assert.equal(await store.increment(ns, "n", 5n), 5n);
      assert.equal(await store.increment(ns, "n", -8n), -3n);
      assert.equal(await store.increment(ns, "n", 0n), -3n);
      assert.equal(text(await store.get(ns, "n")), "-3");
      assert.equal(await store.increment(ns, "fresh", -1n), -1n);
      await store.set(ns, "set-by-hand", bytes("41"));
      assert.equal(await store.increment(ns, "set-by-hand", 1n), 42n);
      // Past 2^53 a double would round; the store must not.
      await store.set(ns, "big", bytes("9007199254740993"));
      assert.equal(await store.increment(ns, "big", 2n), 9007199254740995n);
      assert.equal(text(await store.get(ns, "big")), "9007199254740995");
      await store.set(ns, "max", bytes((INT64_MAX - 1n).toString()));
      assert.equal(await store.increment(ns, "max", 1n), INT64_MAX);
      await store.set(ns, "min", bytes(INT64_MIN.toString()));
      assert.equal(await store.increment(ns, "min", 0n), INT64_MIN);
      await store.set(ns, "zero", bytes("0"));
      assert.equal(await store.increment(ns, "zero", INT64_MIN), INT64_MIN);
    });

    test("increment rejects values that are not 64-bit decimal integers and leaves them alone", async () => {
      const ns = freshNamespace();
      const notIntegers = [
        "abc",
        "1.5",
        "1e3",
        " 1",
        "1 ",
        "+1",
        "01",
        "-0",
        "",
        "-",
        "0x10",
        "9223372036854775808",
      ];
      for (const stored of notIntegers) {
        await store.set(ns, "v", bytes(stored));
        const error = await rejectsWithCode(store.increment(ns, "v", 1n), "ERR_KV_NOT_AN_INTEGER");
        assert.equal(error.kind, "user");
        assert.equal(text(await store.get(ns, "v")), stored, `value ${JSON.stringify(stored)} changed`);
      }
      await store.set(ns, "v", Uint8Array.of(0xff, 0x31));
      await rejectsWithCode(store.increment(ns, "v", 1n), "ERR_KV_NOT_AN_INTEGER");
    });

    test("increment refuses to leave the signed 64-bit range", async () => {
      const ns = freshNamespace();
      await store.set(ns, "max", bytes(INT64_MAX.toString()));
      await rejectsWithCode(store.increment(ns, "max", 1n), "ERR_KV_INTEGER_OVERFLOW");
      assert.equal(text(await store.get(ns, "max")), INT64_MAX.toString());
      await store.set(ns, "min", bytes(INT64_MIN.toString()));
      await rejectsWithCode(store.increment(ns, "min", -1n), "ERR_KV_INTEGER_OVERFLOW");
      await rejectsWithCode(store.increment(ns, "new", INT64_MAX + 1n), "ERR_KV_INTEGER_OVERFLOW");
      await rejectsWithCode(store.increment(ns, "new", INT64_MIN - 1n), "ERR_KV_INTEGER_OVERFLOW");
      assert.equal(await store.exists(ns, "new"), false);
    });

    test("concurrent increments from two store objects all count", async () => {
      const ns = freshNamespace();
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, index) =>
          (index % 2 === 0 ? store : subject.peer).increment(ns, "hits", 1n),
        ),
      );
      assert.equal(await store.increment(ns, "hits", 0n), 200n);
      // Each increment saw a distinct intermediate value.
      assert.deepEqual(
        results.sort((a, b) => (a < b ? -1 : 1)),
        Array.from({ length: 200 }, (_, index) => BigInt(index + 1)),
      );
    });

    test("compareAndSwap: must-not-exist, match, mismatch, empty values", async () => {
      const ns = freshNamespace();
      assert.equal(await store.compareAndSwap(ns, "lock", undefined, bytes("me")), true);
      assert.equal(await store.compareAndSwap(ns, "lock", undefined, bytes("you")), false);
      assert.equal(text(await store.get(ns, "lock")), "me");
      assert.equal(await store.compareAndSwap(ns, "lock", bytes("not me"), bytes("you")), false);
      assert.equal(await store.compareAndSwap(ns, "lock", bytes("m"), bytes("you")), false);
      assert.equal(await store.compareAndSwap(ns, "lock", bytes("me"), bytes("you")), true);
      assert.equal(text(await store.get(ns, "lock")), "you");
      assert.equal(await store.compareAndSwap(ns, "lock", bytes("you"), new Uint8Array(0)), true);
      // An empty value exists: it is not "missing".
      assert.equal(await store.compareAndSwap(ns, "lock", undefined, bytes("x")), false);
      assert.equal(await store.compareAndSwap(ns, "lock", new Uint8Array(0), bytes("x")), true);
      assert.equal(await store.compareAndSwap(ns, "missing", bytes(""), bytes("x")), false);
      assert.equal(await store.exists(ns, "missing"), false);
    });

    test("compareAndSwap replaces the whole entry: metadata and TTL are cleared", async () => {
      const ns = freshNamespace();
      await store.set(ns, "k", bytes("a"), { metadata: "meta", ttlSeconds: 1 });
      assert.equal(await store.compareAndSwap(ns, "k", bytes("a"), bytes("b")), true);
      assert.deepEqual(await store.getWithMetadata(ns, "k"), { value: bytes("b") });
      await subject.elapse(1100);
      assert.equal(text(await store.get(ns, "k")), "b", "the swapped value kept the old TTL");
    });

    test("50 concurrent compare-and-swap loops on two store objects count to exactly 50", async () => {
      const ns = freshNamespace();
      let conflicts = 0;
      const incrementByCas = async (kv: KvStore) => {
        for (;;) {
          const current = await kv.get(ns, "counter");
          const next = bytes(String(current === undefined ? 1 : Number(text(current)) + 1));
          if (await kv.compareAndSwap(ns, "counter", current, next)) return;
          conflicts += 1;
        }
      };
      await Promise.all(
        Array.from({ length: 50 }, (_, index) => incrementByCas(index % 2 ? store : subject.peer)),
      );
      assert.equal(text(await store.get(ns, "counter")), "50");
      assert.ok(conflicts > 0, "the loops never contended, so the test proved nothing");
    });

    test("getMany, setMany and deleteMany", async () => {
      const ns = freshNamespace();
      await store.set(ns, "old", bytes("old"), { metadata: "old-meta" });
      await store.setMany(ns, [
        ["a", bytes("1")],
        ["b", bytes("2")],
        ["old", bytes("new")],
        ["a", bytes("last wins")],
      ]);
      assert.deepEqual((await store.getMany(ns, ["a", "missing", "b", "old", "a"])).map(text), [
        "last wins",
        undefined,
        "2",
        "new",
        "last wins",
      ]);
      assert.deepEqual(
        await store.getWithMetadata(ns, "old"),
        { value: bytes("new") },
        "setMany keeps no metadata",
      );
      await store.deleteMany(ns, ["a", "missing", "old"]);
      assert.deepEqual((await store.getMany(ns, ["a", "b", "old"])).map(text), [undefined, "2", undefined]);
      assert.deepEqual(await store.getMany(ns, []), []);
      await store.setMany(ns, []);
      await store.deleteMany(ns, []);
      assert.deepEqual((await listAll(store, ns)).keys, ["b"]);
    });

    test("batches are limited in keys and bytes", async () => {
      const ns = freshNamespace();
      const tooMany = Array.from({ length: DEFAULT_KV_LIMITS.maxBatchKeys + 1 }, (_, index) => `k${index}`);
      const error = await rejectsWithCode(store.getMany(ns, tooMany), "ERR_KV_OP_LIMIT");
      assert.match(error.message, /1001 keys.*1000/);
      await rejectsWithCode(
        store.setMany(
          ns,
          tooMany.map((key) => [key, bytes("v")]),
        ),
        "ERR_KV_OP_LIMIT",
      );
      await rejectsWithCode(store.deleteMany(ns, tooMany), "ERR_KV_OP_LIMIT");
      const small = subject.open(defineKvLimits({ maxBatchBytes: 10 }));
      await rejectsWithCode(
        small.setMany(ns, [
          ["a", new Uint8Array(6)],
          ["b", new Uint8Array(5)],
        ]),
        "ERR_KV_OP_LIMIT",
      );
      await small.setMany(ns, [
        ["a", new Uint8Array(5)],
        ["b", new Uint8Array(5)],
      ]);
      await small.close();
      // One bad key fails the whole batch before anything is written.
      await rejectsWithCode(
        store.setMany(ns, [
          ["fine", bytes("x")],
          ["", bytes("x")],
        ]),
        "ERR_KV_KEY_INVALID",
      );
      assert.equal(await store.exists(ns, "fine"), false);
    });

    test("TTL: entries vanish with their metadata; plain sets clear TTL; increment keeps it", async () => {
      const ns = freshNamespace();
      await store.set(ns, "short", bytes("v"), { ttlSeconds: 1, metadata: "m" });
      await store.set(ns, "counter", bytes("10"), { ttlSeconds: 1 });
      assert.equal(await store.increment(ns, "counter", 1n), 11n);
      await store.set(ns, "renewed", bytes("v"), { ttlSeconds: 1 });
      await store.set(ns, "renewed", bytes("v2"));
      await store.set(ns, "long", bytes("v"), { ttlSeconds: 3600 });
      assert.deepEqual(await store.getWithMetadata(ns, "short"), { value: bytes("v"), metadata: "m" });
      assert.deepEqual((await listAll(store, ns)).keys.sort(), ["counter", "long", "renewed", "short"]);

      await subject.elapse(1100);

      assert.equal(await store.get(ns, "short"), undefined);
      assert.equal(await store.getWithMetadata(ns, "short"), undefined);
      assert.equal(await store.exists(ns, "short"), false);
      assert.deepEqual(await store.getMany(ns, ["short", "counter", "long"]).then((v) => v.map(text)), [
        undefined,
        undefined,
        "v",
      ]);
      assert.deepEqual((await listAll(store, ns)).keys.sort(), ["long", "renewed"]);
      assert.equal(text(await store.get(ns, "renewed")), "v2");
      // An expired key is missing for every operation.
      assert.equal(await store.increment(ns, "counter", 1n), 1n);
      assert.equal(await store.compareAndSwap(ns, "short", undefined, bytes("again")), true);
      assert.deepEqual(await store.getWithMetadata(ns, "short"), { value: bytes("again") });
    });

    test("TTL must be a whole number of seconds in range", async () => {
      const ns = freshNamespace();
      for (const ttlSeconds of [
        0,
        -1,
        1.5,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        DEFAULT_KV_LIMITS.maxTtlSeconds + 1,
      ]) {
        await rejectsWithCode(store.set(ns, "k", bytes("v"), { ttlSeconds }), "ERR_KV_TTL_INVALID");
      }
      await store.set(ns, "k", bytes("v"), { ttlSeconds: DEFAULT_KV_LIMITS.maxTtlSeconds });
      assert.equal(await store.exists(ns, "k"), true);
    });

    test("key limits: non-empty, well-formed, at most 512 bytes of UTF-8", async () => {
      const ns = freshNamespace();
      const atLimit = "é".repeat(MAX_KEY_BYTES / 2);
      await store.set(ns, atLimit, bytes("v"));
      assert.equal(text(await store.get(ns, atLimit)), "v");
      const tooLong = await rejectsWithCode(store.set(ns, `${atLimit}x`, bytes("v")), "ERR_KV_KEY_TOO_LONG");
      assert.match(tooLong.message, /513 bytes.*512 bytes/);
      await rejectsWithCode(store.get(ns, "🦀".repeat(129)), "ERR_KV_KEY_TOO_LONG");
      await rejectsWithCode(store.get(ns, ""), "ERR_KV_KEY_INVALID");
      for (const lone of ["\uD800", "\uDFFF", "a\uD83Db", "\uDE80\uD83E"]) {
        await rejectsWithCode(store.set(ns, lone, bytes("v")), "ERR_KV_KEY_INVALID");
      }
      await rejectsWithCode(store.get(ns, 42 as unknown as string), "ERR_KV_KEY_INVALID");
      // U+FFFD is a fine key; a lone surrogate must not be able to alias it.
      await store.set(ns, "\uFFFD", bytes("replacement"));
      await rejectsWithCode(store.get(ns, "\uD800"), "ERR_KV_KEY_INVALID");
      const small = subject.open(defineKvLimits({ maxKeyBytes: 4 }));
      await small.set(ns, "abcd", bytes("v"));
      await rejectsWithCode(small.set(ns, "abcde", bytes("v")), "ERR_KV_KEY_TOO_LONG");
      await small.close();
    });

    test("value limits: at most 25 MiB, configurable", async () => {
      const ns = freshNamespace();
      const atLimit = new Uint8Array(MAX_VALUE_BYTES).fill(7);
      await store.set(ns, "big", atLimit);
      const back = await store.get(ns, "big");
      assert.equal(back?.byteLength, MAX_VALUE_BYTES);
      assert.equal(back?.[MAX_VALUE_BYTES - 1], 7);
      await store.delete(ns, "big");
      const error = await rejectsWithCode(
        store.set(ns, "big", new Uint8Array(MAX_VALUE_BYTES + 1)),
        "ERR_KV_VALUE_TOO_LARGE",
      );
      assert.match(error.message, /26214401 bytes.*26214400 bytes/);
      await rejectsWithCode(
        store.compareAndSwap(ns, "big", undefined, new Uint8Array(MAX_VALUE_BYTES + 1)),
        "ERR_KV_VALUE_TOO_LARGE",
      );
      await rejectsWithCode(store.set(ns, "k", "text" as unknown as Uint8Array), "ERR_KV_VALUE_INVALID");
      const small = subject.open(defineKvLimits({ maxValueBytes: 8 }));
      await small.set(ns, "k", new Uint8Array(8));
      await rejectsWithCode(small.set(ns, "k", new Uint8Array(9)), "ERR_KV_VALUE_TOO_LARGE");
      await small.close();
      assert.equal(await store.exists(ns, "big"), false);
    });

    test("list limits and cursors are checked", async () => {
      const ns = freshNamespace();
      for (const limit of [0, -1, 1.5, DEFAULT_KV_LIMITS.maxListLimit + 1]) {
        await rejectsWithCode(store.listKeys(ns, { limit }), "ERR_KV_OP_LIMIT");
      }
      for (const cursor of ["", "garbage", "s1.", "r1.", "s1.!!!", "r1.e30", "r1.WyJ4IiwgW11d"]) {
        await rejectsWithCode(store.listKeys(ns, { cursor }), "ERR_KV_CURSOR_INVALID");
      }
      const small = subject.open(defineKvLimits({ maxListLimit: 2 }));
      await small.setMany(ns, [
        ["a", bytes("1")],
        ["b", bytes("2")],
        ["c", bytes("3")],
      ]);
      assert.ok((await small.listKeys(ns)).keys.length <= 2);
      await rejectsWithCode(small.listKeys(ns, { limit: 3 }), "ERR_KV_OP_LIMIT");
      assertSameKeys((await listAll(small, ns, { limit: 2 })).keys, ["a", "b", "c"]);
      await small.close();
    });

    test("errors say whether the caller or the system is at fault", async () => {
      const ns = freshNamespace();
      const user = await rejectsWithCode(store.get(ns, ""), "ERR_KV_KEY_INVALID");
      assert.equal(user.kind, "user");
      assert.equal(user.name, "KvError");
      const closing = subject.open(DEFAULT_KV_LIMITS);
      await closing.close();
      await closing.close();
      const closed = await rejectsWithCode(closing.get(ns, "k"), "ERR_KV_CLOSED");
      assert.equal(closed.kind, "system");
      await rejectsWithCode(closing.ping(), "ERR_KV_CLOSED");
      assert.match(String((await store.ping()).backend), /^(redis|sqlite)$/);
      // Closing one store object leaves the others working.
      await store.set(ns, "k", bytes("still here"));
      assert.equal(text(await store.get(ns, "k")), "still here");
    });

    test("tenant and bucket names are checked", async () => {
      const bad: [KvNamespace, KvErrorCode][] = [
        [{ tenant: "", bucket: "b" }, "ERR_KV_TENANT_INVALID"],
        [{ tenant: "t", bucket: "" }, "ERR_KV_BUCKET_INVALID"],
        [{ tenant: "\uD800", bucket: "b" }, "ERR_KV_TENANT_INVALID"],
        [{ tenant: "t", bucket: "x\uDC00" }, "ERR_KV_BUCKET_INVALID"],
        [{ tenant: "x".repeat(DEFAULT_KV_LIMITS.maxNameBytes + 1), bucket: "b" }, "ERR_KV_TENANT_INVALID"],
        [
          { tenant: "t", bucket: "é".repeat(DEFAULT_KV_LIMITS.maxNameBytes / 2 + 1) },
          "ERR_KV_BUCKET_INVALID",
        ],
        [{ tenant: 7, bucket: "b" } as unknown as KvNamespace, "ERR_KV_TENANT_INVALID"],
      ];
      for (const [ns, code] of bad) {
        await rejectsWithCode(store.get(ns, "k"), code);
        await rejectsWithCode(store.listKeys(ns), code);
        await rejectsWithCode(store.deleteBucket(ns), code);
      }
    });

    test("isolation: two tenants with the same bucket and key names never see each other", async () => {
      const base = freshNamespace("shared");
      const one: KvNamespace = { tenant: `${base.tenant}-one`, bucket: "shared" };
      const two: KvNamespace = { tenant: `${base.tenant}-two`, bucket: "shared" };
      await store.set(one, "config", bytes("one"), { metadata: "one-meta" });
      await store.set(two, "config", bytes("two"));
      await store.set(one, "only-one", bytes("x"));
      assert.equal(text(await store.get(one, "config")), "one");
      assert.deepEqual(await store.getWithMetadata(two, "config"), { value: bytes("two") });
      assert.equal(await store.exists(two, "only-one"), false);
      assert.deepEqual((await listAll(store, two)).keys, ["config"]);
      assert.equal(await store.compareAndSwap(two, "only-one", undefined, bytes("two")), true);
      assert.equal(text(await store.get(one, "only-one")), "x");
      await store.increment(two, "n", 5n);
      assert.equal(await store.exists(one, "n"), false);
      await store.deleteMany(two, ["config"]);
      assert.equal(text(await store.get(one, "config")), "one");
      await store.deleteBucket(two);
      assert.deepEqual((await listAll(store, two)).keys, []);
      assert.deepEqual((await listAll(store, one)).keys.sort(), ["config", "only-one"]);
    });

    test("isolation: hostile tenant, bucket and key names cannot collide, glob or overwrite", async () => {
      // Fresh servers and files per run, and no other test uses these names.
      const namespaces: KvNamespace[] = [];
      for (const tenant of HOSTILE_NAMES) {
        for (const bucket of ["b", "b:c", "{x}*", tenant]) namespaces.push({ tenant, bucket });
      }
      // The classic collision: tenant "a" + bucket "b:c" vs tenant "a:b" + bucket "c".
      namespaces.push({ tenant: "a:b", bucket: "c" }, { tenant: "a", bucket: "bb" });
      namespaces.push({ tenant: "{", bucket: "}" }, { tenant: "{}", bucket: "{}" });
      const unique = [...new Map(namespaces.map((ns) => [JSON.stringify(ns), ns])).values()];
      const label = (ns: KvNamespace) => JSON.stringify([ns.tenant, ns.bucket]);
      for (const ns of unique) {
        await store.setMany(
          ns,
          HOSTILE_KEYS.map((key) => [key, bytes(label(ns) + key)]),
        );
        await store.set(ns, "with-meta", bytes(label(ns)), { metadata: label(ns) });
      }
      const expectedKeys = [...HOSTILE_KEYS, "with-meta"];
      for (const ns of unique) {
        const values = await store.getMany(ns, HOSTILE_KEYS);
        assert.deepEqual(
          values.map(text),
          HOSTILE_KEYS.map((key) => label(ns) + key),
          `values of ${label(ns)}`,
        );
        assert.equal((await store.getWithMetadata(ns, "with-meta"))?.metadata, label(ns));
        assertSameKeys((await listAll(store, ns, { limit: 5 })).keys, expectedKeys);
        for (const prefix of ["*", "[", "\\", "m:"]) {
          assertSameKeys(
            (await listAll(store, ns, { prefix })).keys,
            expectedKeys.filter((key) => key.startsWith(prefix)),
          );
        }
      }
      // Purging one namespace leaves every other one whole.
      const [victim, ...others] = unique;
      assert.ok(victim !== undefined);
      await store.deleteBucket(victim);
      assert.deepEqual((await listAll(store, victim)).keys, []);
      assert.deepEqual(
        (await store.getMany(victim, HOSTILE_KEYS)).filter((v) => v !== undefined),
        [],
      );
      for (const ns of others) {
        assert.equal((await listAll(store, ns)).keys.length, expectedKeys.length, `keys of ${label(ns)}`);
        await store.deleteBucket(ns);
      }
    });

    test("deleteBucket removes every key of a large bucket, with its metadata", async () => {
      const ns = freshNamespace();
      const neighbour = { tenant: ns.tenant, bucket: `${ns.bucket}2` };
      const keys = Array.from({ length: 2500 }, (_, index) => `k${index}`);
      await setManyInChunks(store, ns, keys);
      await store.set(ns, "meta", bytes("v"), { metadata: "m" });
      await store.set(neighbour, "k1", bytes("stays"));
      await store.deleteBucket(ns);
      assert.deepEqual((await listAll(store, ns)).keys, []);
      assert.equal(await store.getWithMetadata(ns, "meta"), undefined);
      await store.set(ns, "meta", bytes("v2"));
      assert.deepEqual(await store.getWithMetadata(ns, "meta"), { value: bytes("v2") });
      assert.equal(text(await store.get(neighbour, "k1")), "stays");
    });
  });
}

conformance("redis", async () => {
  const server = await startRedisServer();
  const opened: KvStore[] = [];
  const open = (limits: KvLimits) => {
    const store = createRedisKvStore({ url: server.url, limits });
    opened.push(store);
    return store;
  };
  return {
    store: open(DEFAULT_KV_LIMITS),
    peer: open(DEFAULT_KV_LIMITS),
    open,
    elapse: (ms) => sleep(ms),
    ordered: false,
    async teardown() {
      await Promise.all(opened.map((store) => store.close()));
      await server.destroy();
    },
  };
});

/** The embedded store on one file, each store the tests open seen through `view`. */
function sqliteSubject(view: (store: KvStore) => KvStore) {
  return async (): Promise<Subject> => {
    const dir = await mkdtemp(join(tmpdir(), "wasmgate-kv-"));
    const path = join(dir, "kv.sqlite");
    let clock = Date.now();
    const now = () => clock;
    const opened: KvStore[] = [];
    const open = (limits: KvLimits) => {
      const store = createSqliteKvStore({ path, limits, now });
      opened.push(store);
      return view(store);
    };
    return {
      store: open(DEFAULT_KV_LIMITS),
      peer: open(DEFAULT_KV_LIMITS),
      open,
      async elapse(ms) {
        clock += ms;
      },
      ordered: true,
      async teardown() {
        await Promise.all(opened.map((store) => store.close()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

conformance(
  "sqlite",
  sqliteSubject((store) => store),
);

// The same store through its `sync` calls, which guests' host functions use on the embedded store:
// each call is made on `sync` and its result (or what it threw) handed back as a promise, so every
// check above runs against them too.
conformance(
  "sqlite, sync calls",
  sqliteSubject((store) => {
    const sync = store.sync;
    assert.ok(sync, "the embedded store offers sync calls");
    const viaSync = Object.create(store) as Record<string, unknown>;
    for (const name of Object.keys(sync) as (keyof KvSyncStore)[]) {
      const call = sync[name] as (...args: unknown[]) => unknown;
      viaSync[name] = (...args: unknown[]) => {
        try {
          const value = call(...args);
          assert.ok(!(value instanceof Promise), `sync.${name} answers at once`);
          return Promise.resolve(value);
        } catch (err) {
          return Promise.reject(err);
        }
      };
    }
    return viaSync as unknown as KvStore;
  }),
);

// A three-master Redis Cluster behind clients the caller owns (default ioredis options): buckets
// land on different nodes, and increment takes the path for clients without stringNumbers.
conformance("redis cluster", async () => {
  const cluster = await startRedisCluster(3);
  const clients: Cluster[] = [];
  const opened: KvStore[] = [];
  const open = (limits: KvLimits) => {
    const client = new Cluster(cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })));
    clients.push(client);
    const store = createRedisKvStore({ client, limits });
    opened.push(store);
    return store;
  };
  return {
    store: open(DEFAULT_KV_LIMITS),
    peer: open(DEFAULT_KV_LIMITS),
    open,
    elapse: (ms) => sleep(ms),
    ordered: false,
    async teardown() {
      await Promise.all(opened.map((store) => store.close()));
      for (const client of clients) client.disconnect();
      await cluster.destroy();
    },
  };
});

// The same cluster as the gateway opens it (`--redis-cluster`): the store's own client from the
// topology, with integers parsed as text, and a peer of its own.
conformance("redis cluster, own client", async () => {
  const cluster = await startRedisCluster(3);
  const topology = {
    kind: "cluster" as const,
    nodes: cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
  };
  const opened: KvStore[] = [];
  const open = (limits: KvLimits) => {
    const store = createRedisKvStore({ topology, limits });
    opened.push(store);
    return store;
  };
  return {
    store: open(DEFAULT_KV_LIMITS),
    peer: open(DEFAULT_KV_LIMITS),
    open,
    elapse: (ms) => sleep(ms),
    ordered: false,
    async teardown() {
      await Promise.all(opened.map((store) => store.close()));
      await cluster.destroy();
    },
  };
});

// The master a sentinel names (`--redis-sentinels`), with a replica beside it.
conformance("redis sentinel", async () => {
  const set = await startRedisSentinel();
  const topology = {
    kind: "sentinel" as const,
    sentinels: set.sentinels.map((sentinel) => ({ host: "127.0.0.1", port: sentinel.port })),
    masterName: set.masterName,
  };
  const opened: KvStore[] = [];
  const open = (limits: KvLimits) => {
    const store = createRedisKvStore({ topology, limits });
    opened.push(store);
    return store;
  };
  return {
    store: open(DEFAULT_KV_LIMITS),
    peer: open(DEFAULT_KV_LIMITS),
    open,
    elapse: (ms) => sleep(ms),
    ordered: false,
    async teardown() {
      await Promise.all(opened.map((store) => store.close()));
      await set.destroy();
    },
  };
});
