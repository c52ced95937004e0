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

function internalError(err: unknown): Response {
  // The guest's stderr is the gateway's log, tagged with this request's id.
  console.error(
    `uncaught error in fetch handler: ${err instanceof Error ? (err.stack ?? err.message) : err}`,
  );
  return new Response("Internal Server Error\n", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Wraps a Workers-style handler as the object to export as `incomingHandler`. */
export function serve<E = Env>(handler: ExportedHandler<E>, options: ServeOptions = {}) {
  if (typeof handler?.fetch !== "function") {
    throw new TypeError(
      "the guest module must default-export an object with a fetch(request, env, ctx) method",
    );
  }
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
