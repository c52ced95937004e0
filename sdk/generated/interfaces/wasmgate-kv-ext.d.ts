/// <reference path="./wasi-keyvalue-store.d.ts" />
declare module 'wasmgate:kv/ext@0.1.0' {
  export function setWithOptions(bucket: Bucket, key: string, value: Uint8Array, options: SetOptions): void;
  export function getWithMetadata(bucket: Bucket, key: string): Entry | undefined;
  export function listPage(bucket: Bucket, options: ListOptions): KeyPage;
  export type Bucket = import('wasi:keyvalue/store@0.2.0-draft2').Bucket;
  export type Error = import('wasi:keyvalue/store@0.2.0-draft2').Error;
  export interface SetOptions {
    /**
     * Seconds until the entry disappears; none keeps it.
     */
    ttlSeconds?: number,
    /**
     * A string stored with the value, at most 1 KiB (e.g. JSON).
     */
    metadata?: string,
  }
  export interface ListOptions {
    /**
     * Only keys starting with this text.
     */
    prefix?: string,
    /**
     * The cursor of the previous page.
     */
    cursor?: string,
    /**
     * Most keys on the page, 1 to 1000 (default 1000).
     */
    limit?: number,
  }
  export interface KeyPage {
    keys: Array<string>,
    /**
     * Present while more keys may follow.
     */
    cursor?: string,
  }
  export interface Entry {
    value: Uint8Array,
    metadata?: string,
  }
}
