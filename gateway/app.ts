/**
 * Builds the gateway's two Hono apps from their dependencies, with no side effects, so tests can
 * call `data.request()` / `admin.request()` in-process.
 *
 * @example
 * const { data, dataListener, admin, events } = createGateway({ state, runtime, auth, logger, limits, publicUrl });
 * events.on("request-finished", ({ status }) => count(status));
 * createServer(dataListener).listen(8787);
 */

import type { KvStore } from "../kv/index.ts";
import type { Runtime } from "../runtime/index.ts";
import { createAdminApi } from "./admin/index.ts";
import { createAppConfig } from "./app-config.ts";
import type { Auth } from "./auth/index.ts";
import type { SecretBox } from "./auth/secrets.ts";
import { createComponents } from "./components.ts";
import { createDataPlane } from "./data-plane/index.ts";
import { createRouter } from "./data-plane/router.ts";
import { createGatewayEvents, type GatewayEvents } from "./events.ts";
import type { LimitDefaults } from "./limits.ts";
import type { Logger } from "./logger.ts";
import { createOps } from "./ops/index.ts";
import { AppLimits } from "./schemas.ts";
import { followExternalChanges } from "./state/follow.ts";
import type { StateStore } from "./state/store.ts";

const MAX_MEMORY_BYTES = (AppLimits.shape.memoryMb.unwrap().maxValue ?? 4096) * 1024 * 1024;

export interface GatewayDeps {
  state: StateStore;
  /** The gateway's own key-value client, for the admin API (guests' workers open their own). */
  kv: KvStore;
  runtime: Runtime;
  auth: Auth;
  logger: Logger;
  limits: LimitDefaults;
  /** Seals and opens app secrets (AES-256-GCM under the gateway's key). */
  box: SecretBox;
  publicUrl(hostname: string): string;
  /** Where the data plane and the runtime publish what happens (default: a new emitter). */
  events?: GatewayEvents;
  /** A file for the last route table, served when the gateway starts during a state store outage. */
  routeSnapshot?: string;
  /** A file for what apps' variables and secrets were last loaded (secrets sealed), likewise. */
  configSnapshot?: string;
  /** The guest workers listen on the data port themselves (`--listen-in-workers`). */
  offerToWorkers?: boolean;
}

export function createGateway(deps: GatewayDeps) {
  const events = deps.events ?? createGatewayEvents();
  const router = createRouter(deps.state, {
    logger: deps.logger,
    ...(deps.routeSnapshot ? { snapshotFile: deps.routeSnapshot } : {}),
  });
  const components = createComponents(deps.runtime, deps.state, MAX_MEMORY_BYTES);
  const loaded = createAppConfig(deps.state, deps.box, deps.configSnapshot);
  // Hosts the workers answer themselves carry their app's variables: a change takes them back.
  const config: typeof loaded = {
    ...loaded,
    invalidate(app) {
      loaded.invalidate(app);
      data.forgetOffers();
    },
    invalidateAll() {
      loaded.invalidateAll();
      data.forgetOffers();
    },
  };
  const ops = createOps({
    ...deps,
    events,
    routes: async () => {
      await router.warm();
      return router.source();
    },
  });
  const data = createDataPlane({ ...deps, router, components, config, ops, events });
  /** Drops everything cached from the state store: after a change here or on another gateway. */
  const invalidate = () => {
    router.invalidate();
    config.invalidateAll();
  };
  const admin = createAdminApi({ ...deps, components, config, ops, invalidate });
  return {
    data: data.app,
    /** The data plane's Node request listener: `data` behind a shortcut for cached apps. */
    dataListener: data.listener,
    /** The same for what guest workers that listen themselves pass on (see DataPlane). */
    fallbackListener: data.fallbackListener,
    servedByWorker: data.servedByWorker,
    admin,
    router,
    ops,
    events,
    invalidate,
    /** Follows changes other gateways make to a shared state store; returns the stop function. */
    follow: () => followExternalChanges({ ...deps, components, invalidate }),
  };
}
