// What every revision's host functions share: the app's grant, the request's operation budget,
// suspension through JSPI, and store failures as the WIT error variant (never a trap). A revision
// is only the shapes: which functions, which values in and out (see revisions.ts).
//
// On the embedded store a call answers on the worker's own thread, so it does not suspend: the
// host function returns the result itself, and the preparer transpiles such functions as plain
// calls (KV_ASYNC_IMPORTS_EMBEDDED), which spares each call a JSPI suspension and jco's bookkeeping
// for an async import. Host functions are written once for both: `op` answers with a value or a
// promise, and `after` carries on from either.

import { isKvError, type KvNamespace, type KvStore, type KvSyncStore } from "../../../kv/index.ts";
import { GuestStopped, suspend } from "../../worker/cpu-meter.ts";
import { type BucketScope, bucketNamespace } from "./grant.ts";

/** What the running request may do; set by the worker before each call. */
export interface KvGrant extends BucketScope {
  /** Store operations left for this request. */
  opsLeft: number;
}

/** `wasi:keyvalue/store.error`, the same in every revision. */
export type StoreError = { tag: "no-such-store" } | { tag: "access-denied" } | { tag: "other"; val: string };

/** What a host function's store call runs on: the store's promises, or its `sync` calls. */
export type KvCalls = KvStore | KvSyncStore;

/** The one host every revision's functions run on, for one instance. */
export interface KvHost {
  /**
   * Runs one store call for the guest: takes `ops` from the request's budget, and turns a failure
   * into the error variant (`error::other("<code>: …")`), thrown. On a store with `sync` calls it
   * answers at once; otherwise it suspends the guest while it waits and answers with a promise.
   */
  op<T>(fn: (store: KvCalls) => T | Promise<T>, ops?: number): T | Promise<T>;
  /** The namespace of a bucket the app was granted; `error::access-denied` for any other. */
  open(identifier: string): KvNamespace;
}

/**
 * One revision of `wasi:keyvalue`: what a component built against it imports, and the host
 * functions that serve it from the same store and grants as every other revision.
 */
export interface KvRevision {
  /** Recorded in ComponentInfo.revisions.keyvalue, e.g. `0.2.0-draft`. */
  readonly id: string;
  /** The package version in the component's import names. */
  readonly version: string;
  /** Who publishes it, for docs and refusals. */
  readonly origin: string;
  /**
   * Every function of the revision, by interface (`store`, `atomics`, `batch`) and name, as
   * component-types.ts renders a component's imports: a component is served this revision only
   * if every function it imports from `wasi:keyvalue` is here with exactly this shape.
   */
  readonly functions: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** The host functions of one instance, keyed by unversioned interface name as jco links them. */
  imports(host: KvHost): Record<string, object>;
}

/** `error`, as component-types.ts renders it. */
export const ERROR = "variant { no-such-store, access-denied, other(string) }";
/** `result<ok, error>`, rendered. */
export const result = (ok: string) => `result<${ok}, ${ERROR}>`;

export function reject(payload: unknown): never {
  throw { payload };
}

function storeError(err: unknown): StoreError {
  if (isKvError(err)) return { tag: "other", val: `${err.code}: ${err.message}` };
  return { tag: "other", val: `ERR_KV_INTERNAL: ${(err as Error)?.message ?? String(err)}` };
}

/** `then(value)`, at once for a value, once it settles for a promise. */
export function after<T, U>(value: T | Promise<T>, then: (value: T) => U | Promise<U>): U | Promise<U> {
  return value instanceof Promise ? value.then(then) : then(value);
}

export function createKvHost(
  store: () => KvStore,
  grant: () => KvGrant,
  /** Told when a call is refused for the request's operation budget (it never reaches the store). */
  onOpLimit: () => void = () => {},
): KvHost {
  async function waitFor<T>(call: () => T | Promise<T>): Promise<T> {
    try {
      return await suspend(Promise.resolve(call()));
    } catch (err) {
      // A stopped guest (deadline, CPU, client gone) must unwind, not carry on with an error value.
      if (err instanceof GuestStopped) throw err;
      reject(storeError(err));
    }
  }
  return {
    op(fn, ops = 1) {
      const g = grant();
      if (g.opsLeft < ops) {
        onOpLimit();
        reject({ tag: "other", val: "ERR_KV_OP_LIMIT: this request used up its key-value operations" });
      }
      g.opsLeft -= ops;
      const s = store();
      if (s.sync === undefined) return waitFor(() => fn(s));
      let answer: ReturnType<typeof fn>;
      try {
        answer = fn(s.sync);
      } catch (err) {
        reject(storeError(err));
      }
      // A call made of awaits (a u64 cursor's) is still a promise, though nothing in it waits.
      return answer instanceof Promise ? answer.catch((err: unknown) => reject(storeError(err))) : answer;
    },
    open(identifier) {
      return bucketNamespace(grant(), identifier) ?? reject({ tag: "access-denied" });
    },
  };
}
