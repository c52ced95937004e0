// The parts of the WIT imports the SDK calls, as ComponentizeJS binds them: a `result` error is
// thrown (its value in `payload`), an `option` is the value or undefined, a u64 is a bigint.
// World `sdk-guest` in wit/guest.wit; the guest's bundler leaves `wasi:` modules to the engine.

declare module "wasi:io/streams@0.2.10" {
  export class Pollable {
    block(): void;
    [Symbol.dispose](): void;
  }
  export class InputStream {
    blockingRead(len: bigint): Uint8Array;
    [Symbol.dispose](): void;
  }
  export class OutputStream {
    checkWrite(): bigint;
    write(contents: Uint8Array): void;
    blockingWriteAndFlush(contents: Uint8Array): void;
    blockingFlush(): void;
    subscribe(): Pollable;
    [Symbol.dispose](): void;
  }
}

declare module "wasi:http/types@0.2.10" {
  import type { InputStream, OutputStream } from "wasi:io/streams@0.2.10";

  export type Method = { tag: string; val?: string };
  export type Scheme = { tag: "HTTP" | "HTTPS" } | { tag: "other"; val: string };

  export class Fields {
    static fromList(entries: [string, Uint8Array][]): Fields;
    entries(): [string, Uint8Array][];
  }
  export class IncomingRequest {
    method(): Method;
    pathWithQuery(): string | undefined;
    scheme(): Scheme | undefined;
    authority(): string | undefined;
    headers(): Fields;
    consume(): IncomingBody;
  }
  export class IncomingBody {
    stream(): InputStream;
    static finish(body: IncomingBody): unknown;
    [Symbol.dispose](): void;
  }
  export class OutgoingResponse {
    constructor(headers: Fields);
    setStatusCode(status: number): void;
    body(): OutgoingBody;
  }
  export class OutgoingBody {
    write(): OutputStream;
    static finish(body: OutgoingBody, trailers: Fields | undefined): void;
    [Symbol.dispose](): void;
  }
  // biome-ignore lint/complexity/noStaticOnlyClass: a WIT resource whose only function is static
  export class ResponseOutparam {
    static set(out: ResponseOutparam, response: { tag: "ok"; val: OutgoingResponse }): void;
  }
}

declare module "wasi:keyvalue/store@0.2.0-draft2" {
  export class Bucket {
    get(key: string): Uint8Array | undefined;
    set(key: string, value: Uint8Array): void;
    delete(key: string): void;
    [Symbol.dispose](): void;
  }
  export function open(identifier: string): Bucket;
}

declare module "wasi:keyvalue/atomics@0.2.0-draft2" {
  import type { Bucket } from "wasi:keyvalue/store@0.2.0-draft2";
  export function increment(bucket: Bucket, key: string, delta: bigint): bigint;
}

declare module "wasmgate:kv/ext@0.1.0" {
  import type { Bucket } from "wasi:keyvalue/store@0.2.0-draft2";
  export function setWithOptions(
    bucket: Bucket,
    key: string,
    value: Uint8Array,
    options: { ttlSeconds?: number; metadata?: string },
  ): void;
  export function getWithMetadata(
    bucket: Bucket,
    key: string,
  ): { value: Uint8Array; metadata?: string } | undefined;
  export function listPage(
    bucket: Bucket,
    options: { prefix?: string; cursor?: string; limit?: number },
  ): { keys: string[]; cursor?: string };
}

declare module "wasi:config/store@0.2.0-draft" {
  export function get(key: string): string | undefined;
  export function getAll(): [string, string][];
}
