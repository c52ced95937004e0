/// <reference path="./wasi-keyvalue-store.d.ts" />
declare module 'wasi:keyvalue/batch@0.2.0-draft2' {
  /**
   * One entry per requested key, with none for a missing key.
   */
  export function getMany(bucket: Bucket, keys: Array<string>): Array<[string, Uint8Array | undefined]>;
  export function setMany(bucket: Bucket, keyValues: Array<[string, Uint8Array]>): void;
  export function deleteMany(bucket: Bucket, keys: Array<string>): void;
  export type Bucket = import('wasi:keyvalue/store@0.2.0-draft2').Bucket;
  export type Error = import('wasi:keyvalue/store@0.2.0-draft2').Error;
}
