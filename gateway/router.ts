// Host → app resolution for the data plane, cached in memory. Any change to apps or deployments
// calls `invalidate()`; the cache never answers from an older state version.

import { candidatePatterns } from "./hostnames.ts";
import type { Route, StateStore } from "./state/store.ts";

export interface Router {
  lookup(host: string): Promise<Route | undefined>;
  invalidate(): void;
}

const MAX_CACHED = 10_000;

export function createRouter(state: StateStore): Router {
  let cache = new Map<string, Promise<Route | undefined>>();

  async function resolve(host: string): Promise<Route | undefined> {
    for (const pattern of candidatePatterns(host)) {
      const route = await state.routeFor(pattern);
      if (route) return route;
    }
    return undefined;
  }

  return {
    lookup(host) {
      let hit = cache.get(host);
      if (!hit) {
        if (cache.size >= MAX_CACHED) cache = new Map();
        hit = resolve(host);
        const mine = cache;
        mine.set(host, hit);
        hit.catch(() => mine.delete(host));
      }
      return hit;
    },
    invalidate() {
      cache = new Map();
    },
  };
}
