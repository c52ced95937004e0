import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPromiseCache, createStaleOnErrorCache } from "./promise-cache.ts";

/** A load whose promises the test settles by hand. */
function manualLoad() {
  const waiting = new Map<string, { resolve(v: string): void; reject(e: Error): void }>();
  const load = (key: string) =>
    new Promise<string>((resolve, reject) => {
      waiting.set(key, { resolve, reject });
    });
  return { load, waiting };
}

describe("promise cache peek", () => {
  it("gives a value only once its load has resolved, and until it is dropped", async () => {
    const { load, waiting } = manualLoad();
    const cache = createPromiseCache(load);
    const pending = cache.get("a");
    assert.equal(cache.peek("a"), undefined);
    waiting.get("a")!.resolve("A");
    assert.equal(await pending, "A");
    assert.equal(cache.peek("a"), "A");
    cache.delete("a");
    assert.equal(cache.peek("a"), undefined);
    const again = cache.get("a");
    waiting.get("a")!.resolve("A2");
    await again;
    assert.equal(cache.peek("a"), "A2");
    cache.clear();
    assert.equal(cache.peek("a"), undefined);
  });

  it("never gives a value whose load was dropped while it ran, or that failed", async () => {
    const { load, waiting } = manualLoad();
    const cache = createPromiseCache(load);
    const stale = cache.get("a");
    const first = waiting.get("a")!;
    cache.clear();
    first.resolve("old");
    await stale;
    assert.equal(cache.peek("a"), undefined);

    const failing = cache.get("b");
    waiting.get("b")!.reject(new Error("no"));
    await assert.rejects(failing);
    assert.equal(cache.peek("b"), undefined);
  });

  it("starts afresh past its bound, values included", async () => {
    const cache = createPromiseCache(async (key: string) => key.toUpperCase(), 2);
    await cache.get("a");
    await cache.get("b");
    await cache.get("c");
    assert.deepEqual(
      ["a", "b", "c"].map((k) => cache.peek(k)),
      [undefined, undefined, "C"],
    );
  });

  it("does not offer a stale-on-error cache's outage fallback as a cached value", async () => {
    const outage = new Error("outage");
    let fail = false;
    const cache = createStaleOnErrorCache(
      async (key: string) => {
        if (fail) throw outage;
        return key;
      },
      (err) => err === outage,
    );
    assert.equal(await cache.get("a"), "a");
    assert.equal(cache.peek("a"), "a");
    fail = true;
    cache.clear();
    assert.equal(await cache.get("a"), "a", "the last good value answers during the outage");
    assert.equal(cache.peek("a"), undefined, "but is not cached: the next call asks the store again");
  });
});
