// Host → app resolution for the data plane, from the whole route table in memory: no request
// waits on the state store unless something changed. Any change to apps, hostnames or
// deployments (here, or on another gateway: the change feed) calls `invalidate()`, and the next
// lookup reloads the table first, so a request never answers from an older state after a change
// this gateway knows of. When the state store cannot be reached, the last table keeps serving;
// a gateway that starts during an outage serves the snapshot its last table left on disk.

import { isStateOutage } from "../errors.ts";
import { candidatePatterns } from "../hostnames.ts";
import type { Logger } from "../logger.ts";
import { snapshotFile } from "../state/snapshot-file.ts";
import { type Route, routeTable, type StateStore } from "../state/store.ts";

export interface Router {
  lookup(host: string): Promise<Route | undefined>;
  /** What `lookup` would find for `host` without waiting, or undefined when it has to wait. */
  peek(host: string): Route | undefined;
  invalidate(): void;
  /**
   * Loads the table (at start): from the state store, else, when it cannot be reached, from the
   * snapshot. Resolves either way; `source()` tells which.
   */
  warm(): Promise<void>;
  /** Where the table being served came from, and when it was loaded. */
  source(): { from: "state" | "snapshot" | "none"; loadedAt: string | undefined; routes: number };
}

export interface RouterOptions {
  /** A file to keep the last table in, for starting during a state store outage. */
  snapshotFile?: string;
  logger?: Pick<Logger, "warn">;
}

/** What the snapshot file holds. */
interface Snapshot {
  format: 1;
  loadedAt: string;
  routes: Route[];
}

const SNAPSHOT_FORMAT = 1;
/** After the state store failed, the last table serves this long before it is asked again. */
const OUTAGE_RETRY_MS = 1_000;

export function createRouter(state: StateStore, options: RouterOptions = {}): Router {
  let table: Map<string, Route> | undefined;
  let from: "state" | "snapshot" | "none" = "none";
  let loadedAt: string | undefined;
  /** Bumped by every invalidation: a load started before one does not count as fresh. */
  let generation = 0;
  let freshAt = -1;
  let loading: Promise<void> | undefined;
  let lastRoutes: Route[] = [];
  let failedAt = Number.NEGATIVE_INFINITY;

  function install(routes: Route[], source: "state" | "snapshot", at: string) {
    const next = new Map<string, Route>();
    for (const route of routes) next.set(route.pattern, route);
    table = next;
    from = source;
    loadedAt = at;
    lastRoutes = routes;
  }

  const snapshot =
    options.snapshotFile === undefined
      ? undefined
      : snapshotFile<Snapshot>(
          options.snapshotFile,
          () => ({ format: SNAPSHOT_FORMAT, loadedAt: loadedAt!, routes: lastRoutes }),
          (err) => options.logger?.warn({ err }, "could not write the route snapshot"),
        );

  async function readSnapshot(): Promise<boolean> {
    const saved = await snapshot?.read();
    if (saved?.format !== SNAPSHOT_FORMAT || !Array.isArray(saved.routes)) return false;
    install(saved.routes, "snapshot", saved.loadedAt);
    return true;
  }

  function load(): Promise<void> {
    loading ??= (async () => {
      try {
        const started = generation;
        const routes = await routeTable(state);
        install(routes, "state", new Date().toISOString());
        if (generation === started) freshAt = started;
        snapshot?.schedule();
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  }

  function find(host: string): Route | undefined {
    if (!table) return undefined;
    // Most requests name their app's host exactly: no list of patterns is made for them.
    const exact = table.get(host);
    if (exact) return exact;
    for (const pattern of candidatePatterns(host)) {
      const route = table.get(pattern);
      if (route) return route;
    }
    return undefined;
  }

  async function current(): Promise<void> {
    // Loads until a load that started after the last invalidation has finished.
    while (freshAt !== generation) {
      if (table && performance.now() - failedAt < OUTAGE_RETRY_MS) return;
      try {
        await load();
      } catch (err) {
        if (!isStateOutage(err)) throw err;
        failedAt = performance.now();
        // The state store is out: serve what was last known, from memory or from disk.
        if (!table && !(await readSnapshot())) throw err;
        return;
      }
    }
  }

  return {
    async warm() {
      await current().catch(() => {});
    },
    async lookup(host) {
      await current();
      return find(host);
    },
    peek(host) {
      return freshAt === generation ? find(host) : undefined;
    },
    invalidate() {
      generation++;
    },
    source: () => ({ from, loadedAt, routes: table?.size ?? 0 }),
  };
}
