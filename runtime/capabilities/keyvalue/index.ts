// wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) and our wasmgate:kv/ext, on a KvStore.
//
// A bucket identifier is scoped to the app's tenant, and an app may open only the buckets granted
// to it: anything else is `access-denied`. Every store call suspends the guest through JSPI (the
// wait is not charged as CPU and a deadline interrupts it), counts against the request's operation
// budget, and reports failures as the WIT error variant, never as a trap.

import { isKvError, type KvNamespace, type KvStore } from "../../../kv/index.ts";
import { GuestStopped, suspend } from "../../worker/cpu-meter.ts";
import { grantOf } from "../grants.ts";
import type { Capability } from "../types.ts";
import { bucketsGrant } from "./grant.ts";

/** What the running request may do; set by the worker before each call. */
export interface KvGrant {
  tenant: string;
  buckets: readonly string[];
  /** Store operations left for this request. */
  opsLeft: number;
}

type StoreError = { tag: "no-such-store" } | { tag: "access-denied" } | { tag: "other"; val: string };

/** Host imports that wait on the store: the transpile marks them async (JSPI). */
export const KV_ASYNC_IMPORTS = [
  "wasi:keyvalue/store#[method]bucket.get",
  "wasi:keyvalue/store#[method]bucket.set",
  "wasi:keyvalue/store#[method]bucket.delete",
  "wasi:keyvalue/store#[method]bucket.exists",
  "wasi:keyvalue/store#[method]bucket.list-keys",
  "wasi:keyvalue/atomics#increment",
  "wasi:keyvalue/atomics#swap",
  "wasi:keyvalue/atomics#[static]cas.new",
  "wasi:keyvalue/batch#get-many",
  "wasi:keyvalue/batch#set-many",
  "wasi:keyvalue/batch#delete-many",
  "wasmgate:kv/ext#set-with-options",
  "wasmgate:kv/ext#get-with-metadata",
  "wasmgate:kv/ext#list-page",
] as const;

function storeError(err: unknown): StoreError {
  if (isKvError(err)) return { tag: "other", val: `${err.code}: ${err.message}` };
  return { tag: "other", val: `ERR_KV_INTERNAL: ${(err as Error)?.message ?? String(err)}` };
}

function reject(payload: unknown): never {
  throw { payload };
}

export function createKeyValueImports(
  store: () => KvStore,
  grant: () => KvGrant,
  /** Told when a call is refused for the request's operation budget (it never reaches the store). */
  onOpLimit: () => void = () => {},
) {
  /** Runs one store operation for the guest: budget, suspension and error mapping. */
  async function op<T>(fn: () => Promise<T>, ops = 1): Promise<T> {
    const g = grant();
    if (g.opsLeft < ops) {
      onOpLimit();
      reject({ tag: "other", val: "ERR_KV_OP_LIMIT: this request used up its key-value operations" });
    }
    g.opsLeft -= ops;
    try {
      return await suspend(fn());
    } catch (err) {
      // A stopped guest (deadline, CPU, client gone) must unwind, not carry on with an error value.
      if (err instanceof GuestStopped) throw err;
      reject(storeError(err));
    }
  }

  class Bucket {
    readonly ns: KvNamespace;
    constructor(ns: KvNamespace) {
      this.ns = ns;
    }
    get(key: string) {
      return op(() => store().get(this.ns, key));
    }
    set(key: string, value: Uint8Array) {
      return op(() => store().set(this.ns, key, value));
    }
    delete(key: string) {
      return op(() => store().delete(this.ns, key));
    }
    exists(key: string) {
      return op(() => store().exists(this.ns, key));
    }
    listKeys(cursor: string | undefined) {
      return op(() => store().listKeys(this.ns, { cursor }));
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
    static async new(bucket: Bucket, key: string): Promise<Cas> {
      return new Cas(bucket, key, await op(() => store().get(bucket.ns, key)));
    }
    current(): Uint8Array | undefined {
      return this.value;
    }
  }

  function open(identifier: string): Bucket {
    const g = grant();
    if (!g.buckets.includes(identifier)) reject({ tag: "access-denied" });
    return new Bucket({ tenant: g.tenant, bucket: identifier });
  }

  return {
    "wasi:keyvalue/store": { open, Bucket },
    "wasi:keyvalue/atomics": {
      Cas,
      increment(bucket: Bucket, key: string, delta: bigint) {
        return op(() => store().increment(bucket.ns, key, delta));
      },
      async swap(cas: Cas, value: Uint8Array): Promise<void> {
        let swapped: boolean;
        try {
          swapped = await op(() => store().compareAndSwap(cas.bucket.ns, cas.key, cas.value, value));
        } catch (err) {
          const payload = (err as { payload?: StoreError }).payload;
          if (payload) reject({ tag: "store-error", val: payload });
          throw err;
        }
        if (!swapped) {
          const fresh = new Cas(cas.bucket, cas.key, await op(() => store().get(cas.bucket.ns, cas.key)));
          reject({ tag: "cas-failed", val: fresh });
        }
      },
    },
    "wasi:keyvalue/batch": {
      async getMany(bucket: Bucket, keys: string[]) {
        const values = await op(() => store().getMany(bucket.ns, keys), Math.max(1, keys.length));
        return keys.map((key, i) => [key, values[i]] as [string, Uint8Array | undefined]);
      },
      setMany(bucket: Bucket, entries: [string, Uint8Array][]) {
        return op(() => store().setMany(bucket.ns, entries), Math.max(1, entries.length));
      },
      deleteMany(bucket: Bucket, keys: string[]) {
        return op(() => store().deleteMany(bucket.ns, keys), Math.max(1, keys.length));
      },
    },
    "wasmgate:kv/ext": {
      setWithOptions(
        bucket: Bucket,
        key: string,
        value: Uint8Array,
        options: { ttlSeconds?: number; metadata?: string },
      ) {
        return op(() =>
          store().set(bucket.ns, key, value, {
            ...(options.ttlSeconds !== undefined ? { ttlSeconds: options.ttlSeconds } : {}),
            ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
          }),
        );
      },
      async getWithMetadata(bucket: Bucket, key: string) {
        const entry = await op(() => store().getWithMetadata(bucket.ns, key));
        return entry && { value: entry.value, metadata: entry.metadata };
      },
      listPage(bucket: Bucket, options: { prefix?: string; cursor?: string; limit?: number }) {
        return op(() =>
          store().listKeys(bucket.ns, {
            ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
            ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
            ...(options.limit !== undefined ? { limit: options.limit } : {}),
          }),
        );
      },
    },
  };
}

const NO_KV: KvGrant = Object.freeze({ tenant: "", buckets: Object.freeze([]), opsLeft: 0 });

/**
 * wasi:keyvalue@0.2.0-draft2 and wasmgate:kv/ext on the gateway's store: an app opens only the
 * buckets granted to it, each request has an operation budget (`kvOps`).
 */
export const keyValue: Capability<Pick<KvGrant, "tenant" | "buckets">, KvGrant> = {
  name: "keyvalue",
  docs: "docs/guides/key-value.md",
  asyncImports: KV_ASYNC_IMPORTS,
  imports: ({ current, services }) => createKeyValueImports(services.kvStore, current, services.onKvOpLimit),
  grant: bucketsGrant,
  forApp: (access) => ({ tenant: access.tenant, buckets: grantOf(bucketsGrant, access.grants) }),
  begin: (app, limits) => ({ tenant: app.tenant, buckets: app.buckets, opsLeft: limits.kvOps }),
  idle: NO_KV,
};
