// A small admin API client on undici. Every failure becomes a CliError with a hint.

import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { request } from "undici";
import type { ErrorBody } from "../gateway/schemas.ts";
import { CliError } from "./errors.ts";
import { hintFor } from "./hints.ts";

export interface ClientOptions {
  gateway: string;
  token: string | undefined;
  /** Added as `?tenant=` to calls on apps: which tenant's app an operator's call means. */
  tenant?: string | undefined;
}

/** `path` with `?tenant=` added when it is a call on apps and a tenant is named. */
export function withTenant(path: string, tenant: string | undefined): string {
  if (tenant === undefined || !/^\/v1\/apps(?:[/?]|$)/.test(path)) return path;
  return `${path}${path.includes("?") ? "&" : "?"}tenant=${encodeURIComponent(tenant)}`;
}

const UPLOAD_CHUNK = 256 * 1024;

async function* chunked(bytes: Uint8Array, onProgress: (sent: number, total: number) => void) {
  for (let sent = 0; sent < bytes.byteLength; ) {
    const chunk = bytes.subarray(sent, sent + UPLOAD_CHUNK);
    yield chunk;
    sent += chunk.byteLength;
    onProgress(sent, bytes.byteLength);
  }
}

/** One part of a multipart/form-data body: a text field, or a file when it has a filename. */
export interface FormPart {
  name: string;
  data: Uint8Array | string;
  filename?: string;
  type?: string;
}

/** A multipart/form-data body (RFC 7578) and its Content-Type, for uploads of several components. */
export function multipartBody(parts: readonly FormPart[]): { bytes: Uint8Array; type: string } {
  const boundary = `wasmgate-${randomBytes(12).toString("hex")}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ""}`;
    const type = part.type ?? (part.filename ? "application/wasm" : "text/plain; charset=utf-8");
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\nContent-Type: ${type}\r\n\r\n`),
    );
    chunks.push(typeof part.data === "string" ? Buffer.from(part.data) : Buffer.from(part.data));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { bytes: new Uint8Array(Buffer.concat(chunks)), type: `multipart/form-data; boundary=${boundary}` };
}

export function createClient(options: ClientOptions) {
  const base = gatewayBase(options.gateway);

  async function call<T>(
    method: "GET" | "PUT" | "POST" | "DELETE",
    path: string,
    body?: Uint8Array | string | Readable,
    type?: string,
    extra: Record<string, string> = {},
    raw = false,
  ) {
    const headers: Record<string, string> = { ...extra };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (type) headers["content-type"] = type;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(`${base}${withTenant(path, options.tenant)}`, {
        method,
        headers,
        body,
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
    } catch (err) {
      throw new CliError(
        "ERR_GATEWAY_UNREACHABLE",
        `cannot reach the gateway at ${base}: ${(err as Error).message}`,
        {
          hint: "start it (`wasmgate serve`; `deploy-cli dev` for local work), or point --gateway, WASMGATE_URL or `deploy-cli login` at it",
          cause: err,
        },
      );
    }
    if (raw && res.statusCode < 400) {
      return { bytes: new Uint8Array(await res.body.arrayBuffer()), headers: res.headers } as T;
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(
        "ERR_BAD_RESPONSE",
        `the gateway answered ${res.statusCode} with a body that is not JSON`,
        {
          hint: "check that --gateway points at the admin API (default port 8788), not the data plane",
        },
      );
    }
    if (res.statusCode >= 400) {
      const error = (json as Partial<ErrorBody> | undefined)?.error;
      const code = error?.code ?? `HTTP_${res.statusCode}`;
      throw new CliError(
        { gateway: code },
        `${error?.message ?? `the gateway answered ${res.statusCode}`} (${code})`,
        {
          exitCode: res.statusCode >= 500 ? 2 : 1,
          hint: hintFor(code, error?.message),
        },
      );
    }
    return json as T;
  }

  return {
    get: <T>(path: string) => call<T>("GET", path),
    putJson: <T>(path: string, body: unknown) =>
      call<T>("PUT", path, JSON.stringify(body), "application/json"),
    postJson: <T>(path: string, body: unknown) =>
      call<T>("POST", path, JSON.stringify(body), "application/json"),
    /**
     * Uploads `bytes` (a component, unless `type` says otherwise); `onProgress` hears how many have
     * been sent as the upload goes.
     */
    postBytes: <T>(
      path: string,
      bytes: Uint8Array,
      onProgress?: (sent: number, total: number) => void,
      type = "application/wasm",
    ) =>
      onProgress
        ? call<T>("POST", path, Readable.from(chunked(bytes, onProgress)), type, {
            "content-length": String(bytes.byteLength),
          })
        : call<T>("POST", path, bytes, type),
    putBytes: (path: string, bytes: Uint8Array, headers: Record<string, string> = {}) =>
      call<undefined>("PUT", path, bytes, "application/octet-stream", headers),
    getBytes: (path: string) =>
      call<{ bytes: Uint8Array; headers: Record<string, string | string[] | undefined> }>(
        "GET",
        path,
        undefined,
        undefined,
        {},
        true,
      ),
    delete: <T = undefined>(path: string) => call<T>("DELETE", path),
  };
}

/**
 * The admin API's URL as given, without trailing slashes; `host:port` alone (no scheme) means
 * http, as curl reads it. Anything else that is no URL is a usage error, not "cannot reach".
 */
export function gatewayBase(given: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  const protocol = URL.parse(url)?.protocol;
  if (protocol !== "http:" && protocol !== "https:") {
    throw new CliError("ERR_USAGE", `--gateway ${given} is not a URL`, {
      hint: "give the admin API's URL, e.g. --gateway http://127.0.0.1:8788",
    });
  }
  return url.replace(/\/+$/, "");
}
