// Host → app resolution for the data plane, cached in memory. Any change to apps or deployments
// calls `invalidate()`; the cache never answers from an older state version.

import { isStateOutage } from "../errors.ts";
import { candidatePatterns } from "../hostnames.ts";
import { createStaleOnErrorCache } from "../promise-cache.ts";
import type { Route, StateStore } from "../state/store.ts";

export interface Router {
  lookup(host: string): Promise<Route | undefined>;
  /** What `lookup` last found for `host` if it is still cached, without waiting. */
  peek(host: string): Route | undefined;
  invalidate(): void;
}

const MAX_CACHED = 10_000;

export function createRouter(state: StateStore): Router {
  async function resolve(host: string): Promise<Route | undefined> {
    for (const pattern of candidatePatterns(host)) {
      const route = await state.routeFor(pattern);
      if (route) return route;
    }
    return undefined;
  }

  const cache = createStaleOnErrorCache(resolve, isStateOutage, MAX_CACHED);
  return {
    lookup: (host) => cache.get(host),
    peek: (host) => cache.peek(host),
    invalidate: () => cache.clear(),
  };
}
