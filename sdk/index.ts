/**
 * The wasmgate guest SDK: turns a Workers-style module into a `wasi:http/incoming-handler`.
 *
 * A guest module default-exports a handler (or a Hono app, which has the same `fetch`):
 *
 * @example
 *   import type { ExportedHandler, KVNamespace } from "wasmgate";
 *   interface Env { KV: KVNamespace; GREETING?: string }
 *   export default {
 *     async fetch(request, env, ctx) {
 *       const n = await env.KV.increment("visits");
 *       return new Response(`${env.GREETING ?? "Hello"}! Visit ${n}\n`);
 *     },
 *   } satisfies ExportedHandler<Env>;
 *
 * `deploy-cli` builds it against world `sdk-guest` with an entry that calls {@link serve}, so the
 * component exports `incomingHandler` itself: the gateway reuses its instances, where a
 * `fetch`-event guest needs a fresh one per request.
 */

import { get as configGet, getAll as configGetAll } from "wasi:config/store@0.2.0-draft";
import type { IncomingRequest, ResponseOutparam } from "wasi:http/types@0.2.10";
import { sendResponse, toRequest } from "./http.ts";
import { createKVNamespace } from "./kv.ts";
import type { Env, ExecutionContext, ExportedHandler, KVNamespace } from "./types.ts";

export type * from "./types.ts";

export interface ServeOptions {
  /** Binding name → bucket name: `{ "KV": "default" }` makes `env.KV` the app's default bucket. */
  kv?: Record<string, string>;
}

/** A variable or secret, or undefined; the store's failure becomes an Error. */
function readConfig(name: string): string | undefined {
  try {
    return configGet(name);
  } catch (err) {
    const e = (err as { payload?: { val?: string } })?.payload;
    throw new Error(`reading the app's configuration failed: ${e?.val ?? String(err)}`);
  }
}

/**
 * `env` for one request: the KV bindings, then the app's variables and secrets by name. Values are
 * read when first used, so a change made with `deploy-cli vars set` shows on the next request.
 */
function createEnv(namespaces: ReadonlyMap<string, KVNamespace>): Env {
  const config = new Map<string, string | undefined>();
  const lookup = (name: string) => {
    if (!config.has(name)) config.set(name, readConfig(name));
    return config.get(name);
  };
  return new Proxy({} as Env, {
    get(_target, name) {
      if (typeof name !== "string") return undefined;
      return namespaces.get(name) ?? lookup(name);
    },
    has(_target, name) {
      return typeof name === "string" && (namespaces.has(name) || lookup(name) !== undefined);
    },
    ownKeys() {
      return [...namespaces.keys(), ...configGetAll().map(([name]) => name)];
    },
    getOwnPropertyDescriptor(_target, name) {
      if (typeof name !== "string") return undefined;
      const value = namespaces.get(name) ?? lookup(name);
      return value === undefined ? undefined : { value, enumerable: true, configurable: true };
    },
  });
}

/** How the gateway recognises the line for an uncaught error (runtime/guest-error.ts). */
const ERROR_LINE_PREFIX = "wasmgate:error ";

/**
 * Writes an error the handler did not catch as one stderr line the gateway turns into an error
 * record: its name, message and stack, which the gateway maps to the project's sources.
 */
function reportUncaught(err: unknown): void {
  let record: { name: string; message: string; stack: string };
  try {
    record =
      err instanceof Error
        ? { name: String(err.name), message: String(err.message), stack: String(err.stack ?? "") }
        : { name: "Error", message: `a non-Error value was thrown: ${String(err)}`, stack: "" };
  } catch {
    record = { name: "Error", message: "an error that cannot be described was thrown", stack: "" };
  }
  console.error(`${ERROR_LINE_PREFIX}${JSON.stringify(record)}`);
}

function internalError(err: unknown): Response {
  reportUncaught(err);
  return new Response("Internal Server Error\n", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

type ErrorHandler = (err: unknown, c: { text(body: string, status: number): Response }) => Response;

/**
 * A Hono app answers its handlers' errors itself: its default handler prints the error with
 * console.error (in StarlingMonkey, `(new Error("boom", "entry.js", 2416))`) and answers 500. For
 * an app that kept that default, errors are reported as the SDK reports its own instead. An app
 * with its own `onError` handles its errors as it says.
 */
function reportHonoErrors(app: unknown): void {
  const hono = app as {
    errorHandler?: unknown;
    onError?: (handler: ErrorHandler) => unknown;
    constructor?: new () => { errorHandler?: unknown };
  };
  if (typeof hono.onError !== "function" || typeof hono.errorHandler !== "function") return;
  let defaultHandler: unknown;
  try {
    // Hono's default handler is one function shared by every app made by the same Hono.
    defaultHandler = new (hono.constructor as new () => { errorHandler?: unknown })().errorHandler;
  } catch {
    return;
  }
  if (defaultHandler !== hono.errorHandler) return;
  const original = hono.errorHandler as ErrorHandler;
  hono.onError((err, c) => {
    // An HTTPException carries its own answer.
    if (typeof (err as { getResponse?: unknown })?.getResponse === "function") return original(err, c);
    reportUncaught(err);
    return c.text("Internal Server Error", 500);
  });
}

/** Wraps a Workers-style handler as the object to export as `incomingHandler`. */
export function serve<E = Env>(handler: ExportedHandler<E>, options: ServeOptions = {}) {
  if (typeof handler?.fetch !== "function") {
    throw new TypeError(
      "the guest module must default-export an object with a fetch(request, env, ctx) method",
    );
  }
  reportHonoErrors(handler);
  const kv = Object.entries(options.kv ?? {}).map(
    ([binding, bucket]) => [binding, createKVNamespace(bucket)] as const,
  );
  const namespaces = new Map(kv.map(([binding, { namespace }]) => [binding, namespace]));
  return {
    async handle(incoming: IncomingRequest, out: ResponseOutparam): Promise<void> {
      const pending: Promise<unknown>[] = [];
      const ctx: ExecutionContext = {
        waitUntil(promise) {
          pending.push(Promise.resolve(promise));
        },
        passThroughOnException() {},
      };
      try {
        let response: Response;
        try {
          response = await handler.fetch(toRequest(incoming), createEnv(namespaces) as E, ctx);
          if (!(response instanceof Response)) {
            throw new TypeError(
              `fetch must return a Response, not ${response === null ? "null" : typeof response}`,
            );
          }
        } catch (err) {
          response = internalError(err);
        }
        await sendResponse(response, out);
        for (const result of await Promise.allSettled(pending)) {
          if (result.status === "rejected") console.error(`waitUntil promise failed: ${result.reason}`);
        }
      } finally {
        for (const [, { release }] of kv) release();
      }
    },
  };
}
