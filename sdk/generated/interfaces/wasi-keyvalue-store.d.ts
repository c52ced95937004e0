declare module 'wasi:keyvalue/store@0.2.0-draft2' {
  /**
   * Get the bucket with the specified identifier.
   */
  export function open(identifier: string): Bucket;
  /**
   * The set of errors which may be raised by functions in this package.
   */
  export type Error = ErrorNoSuchStore | ErrorAccessDenied | ErrorOther;
  /**
   * The host does not recognize the store identifier requested.
   */
  export interface ErrorNoSuchStore {
    tag: 'no-such-store',
  }
  /**
   * The requesting component does not have access to the specified store.
   */
  export interface ErrorAccessDenied {
    tag: 'access-denied',
  }
  /**
   * Some implementation-specific error has occurred (e.g. I/O).
   */
  export interface ErrorOther {
    tag: 'other',
    val: string,
  }
  /**
   * A response to a `list-keys` operation.
   */
  export interface KeyResponse {
    /**
     * The list of keys returned by the query.
     */
    keys: Array<string>,
    /**
     * The continuation token to use to fetch the next page of keys; none when there are no more.
     */
    cursor?: string,
  }
  
  export class Bucket implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    get(key: string): Uint8Array | undefined;
    set(key: string, value: Uint8Array): void;
    'delete'(key: string): void;
    exists(key: string): boolean;
    listKeys(cursor: string | undefined): KeyResponse;
    [Symbol.dispose](): void;
  }
}
