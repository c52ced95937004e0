// Keeps a gateway in step with changes other gateways make to the shared state: drop what is cached,
// then prepare and warm the components that became active, so the first request after a push on
// another gateway does not wait for a compile here.

import type { Runtime } from "../../runtime/index.ts";
import type { Components } from "../components.ts";
import { effectiveLimits, type LimitDefaults } from "../limits.ts";
import type { Logger } from "../logger.ts";
import { appKey, componentsOf, type StateStore } from "./store.ts";

export interface FollowDeps {
  state: StateStore;
  components: Components;
  runtime: Runtime;
  limits: LimitDefaults;
  logger: Logger;
  invalidate(): void;
}

/** Starts following; returns the function that stops it. */
export function followExternalChanges(deps: FollowDeps): () => void {
  const { state, logger } = deps;
  /** The active deployment of each app, as last seen; undefined until the first change. */
  let seen: Map<string, string | undefined> | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  async function refresh(): Promise<void> {
    const apps = await state.listApps();
    const previous = seen;
    seen = new Map(apps.map((a) => [appKey(a), a.activeDeployment]));
    // The first time there is nothing to compare with: apps load when first requested.
    if (!previous) return;
    for (const app of apps) {
      if (!app.activeDeployment || previous.get(appKey(app)) === app.activeDeployment) continue;
      const deployment = await state.getDeployment(app, app.activeDeployment);
      if (!deployment) continue;
      for (const { digest } of componentsOf(deployment)) {
        const info = await deps.components.ensure(digest);
        void deps.runtime.warm({ digest, info }, effectiveLimits(app.limits, deps.limits).guest, {
          tenant: app.tenant,
          app: app.name,
        });
      }
      logger.debug(
        { tenant: app.tenant, app: app.name, deployment: deployment.id },
        "prepared a deployment made elsewhere",
      );
    }
  }

  function run() {
    if (running) {
      again = true;
      return;
    }
    running = refresh()
      .catch((err: unknown) => logger.warn({ err }, "could not prepare deployments made elsewhere"))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  }

  run();
  return state.onExternalChange(() => {
    deps.invalidate();
    run();
  });
}
