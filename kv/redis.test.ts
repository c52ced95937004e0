/**
 * What only the Redis backend has: its key layout, its own client's behaviour when Redis goes
 * away and comes back, and working with a client the caller owns.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, Redis } from "ioredis";
import { type RedisServer, startRedisCluster, startRedisServer } from "../test/harness/redis-server.ts";
import { createRedisKvStore, defineKvLimits, KvError, type KvStore } from "./index.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

/** Runs `call` and returns the KvError it failed with and how long that took. */
async function failure(call: () => Promise<unknown>): Promise<{ error: KvError; ms: number }> {
  const started = performance.now();
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof KvError, `expected a KvError, got ${String(error)}`);
    return { error, ms: performance.now() - started };
  }
  assert.fail("the call succeeded while Redis was down");
}

/** Retries `call` until it succeeds or `ms` pass. */
async function eventually<T>(call: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describe("redis backend: key layout", () => {
  let server: RedisServer;
  let raw: Redis;
  let store: KvStore;
  before(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url);
    store = createRedisKvStore({ url: server.url });
  });
  after(async () => {
    await store.close();
    raw.disconnect();
    await server.destroy();
  });

  test("keys are {t:<tenant>:<bucket>}v:<key>, names percent-encoded, metadata beside with the same TTL", async () => {
    await store.set({ tenant: "acme", bucket: "cache" }, "user:1", bytes("v"), {
      metadata: "m",
      ttlSeconds: 100,
    });
    assert.equal(await raw.get("{t:acme:cache}v:user:1"), "v");
    assert.equal(await raw.get("{t:acme:cache}m:user:1"), "m");
    const valueTtl = await raw.pttl("{t:acme:cache}v:user:1");
    assert.ok(valueTtl > 99_000 && valueTtl <= 100_000, `value TTL ${valueTtl}`);
    // Both keys carry the very same absolute expiry time.
    const [valueExpiry, metadataExpiry] = await Promise.all([
      raw.pexpiretime("{t:acme:cache}v:user:1"),
      raw.pexpiretime("{t:acme:cache}m:user:1"),
    ]);
    assert.ok(valueExpiry > Date.now());
    assert.equal(metadataExpiry, valueExpiry, "value and metadata expire together");

    await store.set({ tenant: "a:b", bucket: "{c}*" }, "k", bytes("hostile"));
    assert.equal(await raw.get("{t:a%3Ab:%7Bc%7D*}v:k"), "hostile");
    await store.set({ tenant: "a", bucket: "b:c" }, "k", bytes("other"));
    assert.equal(await raw.get("{t:a:b%3Ac}v:k"), "other");
  });

  test("a Redis restart that forgets the Lua scripts is invisible to callers", async () => {
    const ns = { tenant: "acme", bucket: "scripts" };
    await store.set(ns, "k", bytes("1"), { metadata: "before" });
    await raw.script("FLUSH");
    await store.set(ns, "k", bytes("2"), { metadata: "after" });
    assert.deepEqual(await store.getWithMetadata(ns, "k"), { value: bytes("2"), metadata: "after" });
    await raw.script("FLUSH");
    assert.equal(await store.compareAndSwap(ns, "k", bytes("2"), bytes("3")), true);
    await raw.script("FLUSH");
    assert.deepEqual((await store.listKeys(ns)).keys, ["k"]);
  });
});

describe("redis backend: a client the caller owns", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server.destroy();
  });

  test("increment stays exact past 2^53 on a client that parses integers as numbers", async (t) => {
    const client = new Redis(server.url);
    t.after(() => client.disconnect());
    const store = createRedisKvStore({ client });
    const ns = { tenant: "acme", bucket: "big" };
    assert.equal(await store.increment(ns, "n", 9007199254740993n), 9007199254740993n);
    assert.equal(await store.increment(ns, "n", 2n), 9007199254740995n);
    await store.set(ns, "text", bytes("x"));
    await assert.rejects(store.increment(ns, "text", 1n), { code: "ERR_KV_NOT_AN_INTEGER" });
    await store.set(ns, "max", bytes((2n ** 63n - 1n).toString()));
    await assert.rejects(store.increment(ns, "max", 1n), { code: "ERR_KV_INTEGER_OVERFLOW" });
    // close() leaves a client it did not create alone.
    await store.close();
    assert.equal(client.status, "ready");
    assert.equal(await client.get("{t:acme:big}v:n"), "9007199254740995");
  });

  test("a client keyPrefix applies to every key, listing and purge included", async (t) => {
    const client = new Redis(server.url, { keyPrefix: "app*[1]:" });
    const raw = new Redis(server.url);
    const store = createRedisKvStore({ client });
    t.after(() => {
      client.disconnect();
      raw.disconnect();
    });
    const ns = { tenant: "acme", bucket: "prefixed" };
    await store.setMany(ns, [
      ["a*", bytes("1")],
      ["b", bytes("2")],
    ]);
    await store.set(ns, "c", bytes("3"), { metadata: "m" });
    assert.equal(await raw.get("app*[1]:{t:acme:prefixed}v:a*"), "1");
    assert.equal(await raw.exists("{t:acme:prefixed}v:a*"), 0);
    assert.deepEqual((await store.listKeys(ns)).keys.sort(), ["a*", "b", "c"]);
    assert.deepEqual((await store.listKeys(ns, { prefix: "a*" })).keys, ["a*"]);
    await store.deleteBucket(ns);
    assert.deepEqual((await store.listKeys(ns)).keys, []);
    assert.equal(await raw.exists("app*[1]:{t:acme:prefixed}m:c"), 0);
  });
});

describe("redis backend: cluster", () => {
  test("each bucket lives in one slot, and buckets spread over the nodes", async () => {
    const cluster = await startRedisCluster(3);
    const client = new Cluster(cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })));
    const store = createRedisKvStore({ client });
    const raws = cluster.nodes.map((node) => new Redis(node.url));
    try {
      const tenants = Array.from({ length: 12 }, (_, index) => `tenant-${index}`);
      for (const tenant of tenants) {
        await store.set({ tenant, bucket: "b" }, "k{1}", bytes(tenant), { metadata: "m" });
        await store.set({ tenant, bucket: "b" }, "}{*", bytes(tenant));
      }
      const slotOf = async (key: string) => Number(await raws[0]!.call("CLUSTER", "KEYSLOT", key));
      for (const tenant of tenants) {
        const tag = `{t:${tenant}:b}`;
        const slots = new Set(await Promise.all([`${tag}v:k{1}`, `${tag}m:k{1}`, `${tag}v:}{*`].map(slotOf)));
        assert.equal(slots.size, 1, `${tenant}'s keys span slots ${[...slots]}`);
      }
      const sizes = await Promise.all(raws.map((raw) => raw.dbsize()));
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        tenants.length * 3,
      );
      assert.ok(sizes.filter((size) => size > 0).length >= 2, `all buckets on one node: ${sizes}`);
    } finally {
      await store.close();
      client.disconnect();
      for (const raw of raws) raw.disconnect();
      await cluster.destroy();
    }
  });
});

describe("redis backend: faults", () => {
  test("calls fail within the op timeout while Redis is down, and the same store recovers with its data", async () => {
    const server = await startRedisServer({ appendOnly: true });
    const warnings: string[] = [];
    const store = createRedisKvStore({
      url: server.url,
      logger: { warn: (_fields, message) => warnings.push(message) },
    });
    const ns = { tenant: "acme", bucket: "durable" };
    try {
      await store.set(ns, "kept", bytes("before the outage"), { metadata: "m" });
      assert.equal(await store.increment(ns, "n", 41n), 41n);

      await server.stop();
      const calls: [string, () => Promise<unknown>][] = [
        ["get", () => store.get(ns, "kept")],
        ["set", () => store.set(ns, "new", bytes("x"))],
        ["increment", () => store.increment(ns, "n", 1n)],
        ["compareAndSwap", () => store.compareAndSwap(ns, "kept", undefined, bytes("x"))],
        ["listKeys", () => store.listKeys(ns)],
        ["getMany", () => store.getMany(ns, ["kept"])],
        ["setMany", () => store.setMany(ns, [["new", bytes("x")]])],
        ["deleteBucket", () => store.deleteBucket(ns)],
        ["ping", () => store.ping()],
      ];
      for (const [name, call] of calls) {
        const { error, ms } = await failure(call);
        assert.ok(["ERR_KV_UNAVAILABLE", "ERR_KV_TIMEOUT"].includes(error.code), `${name}: ${error.code}`);
        assert.equal(error.kind, "system");
        assert.ok(ms < 1300, `${name} took ${Math.round(ms)} ms to fail`);
      }
      // The warning comes with the first failed reconnect, which may follow the failed calls.
      for (let waited = 0; warnings.length === 0 && waited < 2000; waited += 25) {
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(warnings.length, 1, "one warning per outage");

      await server.restart();
      assert.equal(text(await eventually(() => store.get(ns, "kept"))), "before the outage");
      await store.ping();
      assert.deepEqual(await store.getWithMetadata(ns, "kept"), {
        value: bytes("before the outage"),
        metadata: "m",
      });
      assert.equal(await store.increment(ns, "n", 1n), 42n);
      await store.set(ns, "after", bytes("x"));
      assert.deepEqual((await store.listKeys(ns)).keys.sort(), ["after", "kept", "n"]);

      // A crash (SIGKILL) loses nothing either: the append-only file is fsynced on every write.
      await server.kill();
      assert.equal((await failure(() => store.get(ns, "kept"))).error.code, "ERR_KV_UNAVAILABLE");
      await server.restart();
      assert.equal(await eventually(() => store.increment(ns, "n", 1n)), 43n);
    } finally {
      await store.close();
      await server.destroy();
    }
  });

  test("a Redis that stops answering fails calls with ERR_KV_TIMEOUT, then recovers", async () => {
    const server = await startRedisServer();
    const store = createRedisKvStore({ url: server.url });
    const ns = { tenant: "acme", bucket: "frozen" };
    try {
      await store.set(ns, "k", bytes("v"));
      server.pause();
      const { error, ms } = await failure(() => store.get(ns, "k"));
      assert.equal(error.code, "ERR_KV_TIMEOUT");
      assert.ok(ms >= 900 && ms < 1300, `timed out after ${Math.round(ms)} ms`);
      server.resume();
      assert.equal(text(await eventually(() => store.get(ns, "k"))), "v");
    } finally {
      server.resume();
      await store.close();
      await server.destroy();
    }
  });

  test("a store whose Redis never came up fails fast and honours a shorter op timeout", async () => {
    const server = await startRedisServer();
    await server.stop();
    const store = createRedisKvStore({ url: server.url, limits: defineKvLimits({ opTimeoutMs: 200 }) });
    try {
      const { error, ms } = await failure(() => store.set({ tenant: "t", bucket: "b" }, "k", bytes("v")));
      assert.equal(error.code, "ERR_KV_UNAVAILABLE");
      assert.ok(ms < 500, `took ${Math.round(ms)} ms`);
      // It connects by itself once Redis is there.
      await server.restart();
      await eventually(() => store.set({ tenant: "t", bucket: "b" }, "k", bytes("v")));
      assert.equal(text(await store.get({ tenant: "t", bucket: "b" }, "k")), "v");
    } finally {
      await store.close();
      await server.destroy();
    }
  });
});
