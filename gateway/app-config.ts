// What an app's guests read through wasi:config/store: its variables and its secrets (decrypted),
// merged. Names never collide (the state store refuses a variable named like a secret and the
// other way round). Cached per app and dropped whenever either changes, so the next request sees
// the change without a redeploy.

import type { SecretBox } from "./auth/secrets.ts";
import { isStateOutage } from "./errors.ts";
import { createStaleOnErrorCache } from "./promise-cache.ts";
import type { StateStore } from "./state/store.ts";

export interface AppConfig {
  get(app: string): Promise<readonly (readonly [string, string])[]>;
  /** The app's cached config, without waiting: undefined when it has to be loaded. */
  peek(app: string): readonly (readonly [string, string])[] | undefined;
  invalidate(app: string): void;
  invalidateAll(): void;
}

export function createAppConfig(state: StateStore, box: SecretBox): AppConfig {
  async function load(app: string) {
    const [vars, secrets] = await Promise.all([state.listVars(app), state.listSecrets(app)]);
    const merged: [string, string][] = [...vars];
    for (const s of secrets) merged.push([s.name, box.open(app, s.name, s.sealed)]);
    return Object.freeze(merged);
  }
  const cache = createStaleOnErrorCache(load, isStateOutage);
  return {
    get: (app) => cache.get(app),
    peek: (app) => cache.peek(app),
    invalidate: (app) => cache.delete(app),
    invalidateAll: () => cache.clear(),
  };
}
