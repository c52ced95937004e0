/// <reference path="./wasi-keyvalue-store.d.ts" />
declare module 'wasi:keyvalue/atomics@0.2.0-draft2' {
  /**
   * Atomically increment the value associated with the key by `delta`; returns the new value.
   */
  export function increment(bucket: Bucket, key: string, delta: bigint): bigint;
  /**
   * Perform the swap on a CAS operation. This consumes the CAS handle.
   */
  export function swap(cas: Cas, value: Uint8Array): void;
  export type Bucket = import('wasi:keyvalue/store@0.2.0-draft2').Bucket;
  export type Error = import('wasi:keyvalue/store@0.2.0-draft2').Error;
  /**
   * The error returned by a CAS operation.
   */
  export type CasError = CasErrorStoreError | CasErrorCasFailed;
  /**
   * A store error occurred when performing the operation.
   */
  export interface CasErrorStoreError {
    tag: 'store-error',
    val: Error,
  }
  /**
   * The value changed since the handle was made: here is a new handle to retry with.
   */
  export interface CasErrorCasFailed {
    tag: 'cas-failed',
    val: Cas,
  }
  
  export class Cas implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Construct a new CAS handle for `key`.
    */
    static 'new'(bucket: Bucket, key: string): Cas;
    /**
    * The current value of the key, as read when the handle was made.
    */
    current(): Uint8Array | undefined;
    [Symbol.dispose](): void;
  }
}
