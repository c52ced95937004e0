// wasi:keyvalue@0.2.0-draft2 (store, atomics with compare-and-swap, batch) and our
// wasmgate:kv/ext, in the two shapes draft2 has been published in. They differ in one function:
// `batch.get-many` returned `list<option<tuple<string, list<u8>>>>` (none for a missing key) until
// WebAssembly/wasi-keyvalue#55 made it `list<tuple<string, option<list<u8>>>>` (one pair per key,
// the value none when missing). Spin vendored the first in `wit/deps/keyvalue-2024-10-17`
// (commit 470a264, 2024-10-31) and ships the second today.

import type { KvNamespace } from "../../../kv/index.ts";
import { after, ERROR, type KvHost, type KvRevision, reject, result, type StoreError } from "./host.ts";

const STORE = {
  open: `func(string) -> ${result("own<bucket>")}`,
  "[method]bucket.get": `func(borrow<bucket>, string) -> ${result("option<list<u8>>")}`,
  "[method]bucket.set": `func(borrow<bucket>, string, list<u8>) -> ${result("_")}`,
  "[method]bucket.delete": `func(borrow<bucket>, string) -> ${result("_")}`,
  "[method]bucket.exists": `func(borrow<bucket>, string) -> ${result("bool")}`,
  "[method]bucket.list-keys": `func(borrow<bucket>, option<string>) -> ${result("record { keys: list<string>, cursor: option<string> }")}`,
};

const ATOMICS = {
  "[static]cas.new": `func(borrow<bucket>, string) -> ${result("own<cas>")}`,
  "[method]cas.current": `func(borrow<cas>) -> ${result("option<list<u8>>")}`,
  increment: `func(borrow<bucket>, string, s64) -> ${result("s64")}`,
  swap: `func(own<cas>, list<u8>) -> result<_, variant { store-error(${ERROR}), cas-failed(own<cas>) }>`,
};

const BATCH_REST = {
  "set-many": `func(borrow<bucket>, list<tuple<string, list<u8>>>) -> ${result("_")}`,
  "delete-many": `func(borrow<bucket>, list<string>) -> ${result("_")}`,
};

type GetMany = "pairs" | "options";

function draft2Imports(host: KvHost, shape: GetMany): Record<string, object> {
  const { op } = host;

  class Bucket {
    readonly ns: KvNamespace;
    constructor(ns: KvNamespace) {
      this.ns = ns;
    }
    get(key: string) {
      return op((s) => s.get(this.ns, key));
    }
    set(key: string, value: Uint8Array) {
      return op((s) => s.set(this.ns, key, value));
    }
    delete(key: string) {
      return op((s) => s.delete(this.ns, key));
    }
    exists(key: string) {
      return op((s) => s.exists(this.ns, key));
    }
    listKeys(cursor: string | undefined) {
      return op((s) => s.listKeys(this.ns, { cursor }));
    }
  }

  class Cas {
    readonly bucket: Bucket;
    readonly key: string;
    readonly value: Uint8Array | undefined;
    constructor(bucket: Bucket, key: string, value: Uint8Array | undefined) {
      this.bucket = bucket;
      this.key = key;
      this.value = value;
    }
    static new(bucket: Bucket, key: string) {
      return after(
        op((s) => s.get(bucket.ns, key)),
        (value) => new Cas(bucket, key, value),
      );
    }
    current(): Uint8Array | undefined {
      return this.value;
    }
  }

  return {
    "wasi:keyvalue/store": { open: (identifier: string) => new Bucket(host.open(identifier)), Bucket },
    "wasi:keyvalue/atomics": {
      Cas,
      increment(bucket: Bucket, key: string, delta: bigint) {
        return op((s) => s.increment(bucket.ns, key, delta));
      },
      async swap(cas: Cas, value: Uint8Array): Promise<void> {
        let swapped: boolean;
        try {
          swapped = await op((s) => s.compareAndSwap(cas.bucket.ns, cas.key, cas.value, value));
        } catch (err) {
          const payload = (err as { payload?: StoreError }).payload;
          if (payload) reject({ tag: "store-error", val: payload });
          throw err;
        }
        if (!swapped) {
          const fresh = new Cas(cas.bucket, cas.key, await op((s) => s.get(cas.bucket.ns, cas.key)));
          reject({ tag: "cas-failed", val: fresh });
        }
      },
    },
    "wasi:keyvalue/batch": {
      getMany(bucket: Bucket, keys: string[]) {
        return after(
          op((s) => s.getMany(bucket.ns, keys), Math.max(1, keys.length)),
          (values) =>
            shape === "pairs"
              ? keys.map((key, i) => [key, values[i]] as [string, Uint8Array | undefined])
              : keys.map((key, i) => {
                  const value = values[i];
                  return value === undefined ? undefined : ([key, value] as [string, Uint8Array]);
                }),
        );
      },
      setMany(bucket: Bucket, entries: [string, Uint8Array][]) {
        return op((s) => s.setMany(bucket.ns, entries), Math.max(1, entries.length));
      },
      deleteMany(bucket: Bucket, keys: string[]) {
        return op((s) => s.deleteMany(bucket.ns, keys), Math.max(1, keys.length));
      },
    },
    "wasmgate:kv/ext": {
      setWithOptions(
        bucket: Bucket,
        key: string,
        value: Uint8Array,
        options: { ttlSeconds?: number; metadata?: string },
      ) {
        return op((s) =>
          s.set(bucket.ns, key, value, {
            ...(options.ttlSeconds !== undefined ? { ttlSeconds: options.ttlSeconds } : {}),
            ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
          }),
        );
      },
      getWithMetadata(bucket: Bucket, key: string) {
        return after(
          op((s) => s.getWithMetadata(bucket.ns, key)),
          (entry) => entry && { value: entry.value, metadata: entry.metadata },
        );
      },
      listPage(bucket: Bucket, options: { prefix?: string; cursor?: string; limit?: number }) {
        return op((s) =>
          s.listKeys(bucket.ns, {
            ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
            ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
            ...(options.limit !== undefined ? { limit: options.limit } : {}),
          }),
        );
      },
    },
  };
}

/** draft2 as Spin ships it today and upstream has it since #55: one pair per key. */
export const draft2: KvRevision = {
  id: "0.2.0-draft2",
  version: "0.2.0-draft2",
  origin: "WebAssembly/wasi-keyvalue main, as Spin ships it",
  functions: {
    store: STORE,
    atomics: ATOMICS,
    batch: {
      "get-many": `func(borrow<bucket>, list<string>) -> ${result("list<tuple<string, option<list<u8>>>>")}`,
      ...BATCH_REST,
    },
  },
  imports: (host) => draft2Imports(host, "pairs"),
};

/** draft2 before #55, as Spin first vendored it: none in place of a missing key's pair. */
export const draft2Early: KvRevision = {
  id: "0.2.0-draft2-early",
  version: "0.2.0-draft2",
  origin: "WebAssembly/wasi-keyvalue before #55, as Spin vendored it on 2024-10-31",
  functions: {
    store: STORE,
    atomics: ATOMICS,
    batch: {
      "get-many": `func(borrow<bucket>, list<string>) -> ${result("list<option<tuple<string, list<u8>>>>")}`,
      ...BATCH_REST,
    },
  },
  imports: (host) => draft2Imports(host, "options"),
};
