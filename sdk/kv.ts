// A Workers-style KV namespace on wasi:keyvalue and wasmgate:kv/ext. Each call is one host call
// (the guest is suspended while the store works), so the promises it returns are already settled.

import { increment as atomicIncrement } from "wasi:keyvalue/atomics@0.2.0-draft2";
import { type Bucket, open } from "wasi:keyvalue/store@0.2.0-draft2";
import { getWithMetadata, listPage, setWithOptions } from "wasmgate:kv/ext@0.1.0";
import type {
  KVError,
  KVNamespace,
  KVNamespaceListOptions,
  KVNamespaceListResult,
  KVNamespacePutOptions,
  KVValueType,
} from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A store failure (see KVError): the WIT error variant arrives as the thrown value's payload. */
function kvError(op: string, key: string | undefined, err: unknown): KVError {
  // Opening the bucket already failed with one.
  if ((err as Error)?.name === "KVError") return err as KVError;
  const e = (err as { payload?: { tag?: string; val?: unknown } })?.payload;
  const detail =
    e?.tag === "other" ? String(e.val) : (e?.tag ?? (err instanceof Error ? err.message : String(err)));
  const error = new Error(`KV ${op}${key === undefined ? "" : ` "${key}"`} failed: ${detail}`) as Error & {
    detail: string;
  };
  error.name = "KVError";
  error.detail = detail;
  return error as KVError;
}

function typeOf(arg: KVValueType | { type?: KVValueType } | undefined): KVValueType {
  const type = typeof arg === "string" ? arg : (arg?.type ?? "text");
  if (!["text", "json", "arrayBuffer", "stream"].includes(type)) {
    throw new TypeError(`unknown KV value type "${type}"; use text, json, arrayBuffer or stream`);
  }
  return type;
}

/** `bytes` is the SDK's own copy: the binding's array belongs to another realm. */
function decode(bytes: Uint8Array, type: KVValueType): unknown {
  switch (type) {
    case "json":
      return JSON.parse(decoder.decode(bytes));
    case "arrayBuffer":
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    case "stream":
      return new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      });
    default:
      return decoder.decode(bytes);
  }
}

async function encode(value: unknown): Promise<Uint8Array> {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ReadableStream) return new Uint8Array(await new Response(value).arrayBuffer());
  throw new TypeError("a KV value is a string, an ArrayBuffer, a typed array or a ReadableStream");
}

function parseMetadata(raw: string | undefined): unknown {
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw);
  } catch {
    // Written by something other than the SDK (deploy-cli kv put --metadata): give it as it is.
    return raw;
  }
}

/**
 * A namespace for one bucket. The bucket is opened on first use in a request and closed by
 * `release()` when the request ends, so the app's grants are checked again on every request even
 * though the namespace (env.KV) lives as long as the instance.
 */
export function createKVNamespace(bucketName: string): { namespace: KVNamespace; release(): void } {
  let bucket: Bucket | undefined;
  const handle = (): Bucket => {
    try {
      bucket ??= open(bucketName);
    } catch (err) {
      const e = kvError("open", undefined, err);
      e.message += ` (bucket "${bucketName}"; grant it with "buckets" in wasmgate.json or push --bucket)`;
      throw e;
    }
    return bucket;
  };

  const namespace = {
    async get(key: string, type?: KVValueType | { type?: KVValueType }) {
      const t = typeOf(type);
      let bytes: Uint8Array | undefined;
      try {
        bytes = handle().get(key);
      } catch (err) {
        throw kvError("get", key, err);
      }
      return bytes === undefined ? null : decode(new Uint8Array(bytes), t);
    },

    async getWithMetadata(key: string, type?: KVValueType | { type?: KVValueType }) {
      const t = typeOf(type);
      let entry: { value: Uint8Array; metadata?: string } | undefined;
      try {
        entry = getWithMetadata(handle(), key);
      } catch (err) {
        throw kvError("getWithMetadata", key, err);
      }
      if (entry === undefined) return { value: null, metadata: null };
      return { value: decode(new Uint8Array(entry.value), t), metadata: parseMetadata(entry.metadata) };
    },

    async put(key: string, value: unknown, options: KVNamespacePutOptions = {}) {
      const bytes = await encode(value);
      let ttlSeconds: number | undefined;
      if (options.expirationTtl !== undefined) ttlSeconds = Math.ceil(options.expirationTtl);
      else if (options.expiration !== undefined) {
        ttlSeconds = Math.max(1, Math.ceil(options.expiration - Date.now() / 1000));
      }
      const metadata = options.metadata === undefined ? undefined : JSON.stringify(options.metadata);
      try {
        if (ttlSeconds === undefined && metadata === undefined) handle().set(key, bytes);
        else {
          setWithOptions(handle(), key, bytes, {
            ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
            ...(metadata === undefined ? {} : { metadata }),
          });
        }
      } catch (err) {
        throw kvError("put", key, err);
      }
    },

    async delete(key: string) {
      try {
        handle().delete(key);
      } catch (err) {
        throw kvError("delete", key, err);
      }
    },

    async list(options: KVNamespaceListOptions = {}): Promise<KVNamespaceListResult> {
      let page: { keys: string[]; cursor?: string };
      try {
        page = listPage(handle(), {
          ...(options.prefix ? { prefix: options.prefix } : {}),
          ...(options.cursor ? { cursor: options.cursor } : {}),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
        });
      } catch (err) {
        throw kvError("list", undefined, err);
      }
      const keys = page.keys.map((name) => ({ name }));
      return page.cursor === undefined
        ? { keys, list_complete: true }
        : { keys, list_complete: false, cursor: page.cursor };
    },

    async increment(key: string, delta = 1) {
      if (!Number.isSafeInteger(delta)) throw new TypeError("increment takes a whole number");
      try {
        return Number(atomicIncrement(handle(), key, BigInt(delta)));
      } catch (err) {
        throw kvError("increment", key, err);
      }
    },
  };
  return {
    namespace: namespace as KVNamespace,
    release() {
      bucket?.[Symbol.dispose]();
      bucket = undefined;
    },
  };
}
