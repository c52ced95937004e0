// What an app's guests read through wasi:config/store: its variables and its secrets (decrypted),
// merged. Names never collide (the state store refuses a variable named like a secret and the
// other way round). Cached per app and dropped whenever either changes, so the next request sees
// the change without a redeploy.

import type { SecretBox } from "./auth/secrets.ts";
import { isStateOutage } from "./errors.ts";
import { createStaleOnErrorCache } from "./promise-cache.ts";
import { snapshotFile } from "./state/snapshot-file.ts";
import { type AppRef, appKey, type StateStore } from "./state/store.ts";

export interface AppConfig {
  get(app: AppRef): Promise<readonly (readonly [string, string])[]>;
  /** The app's cached config, without waiting: undefined when it has to be loaded. */
  peek(app: AppRef): readonly (readonly [string, string])[] | undefined;
  invalidate(app: AppRef): void;
  invalidateAll(): void;
}

/** What the snapshot keeps of an app (by its key, `<tenant>/<name>`): its variables, and its secrets still sealed. */
interface RawConfig {
  vars: [string, string][];
  secrets: { name: string; sealed: string }[];
}

/**
 * `snapshotPath`, when given, keeps what was last loaded for each app (secrets sealed, as in the
 * store) so that a gateway started during a state store outage can serve those apps.
 */
export function createAppConfig(state: StateStore, box: SecretBox, snapshotPath?: string): AppConfig {
  let raw = new Map<string, RawConfig>();
  let snapshotRead = false;
  const snapshot =
    snapshotPath === undefined
      ? undefined
      : snapshotFile<Record<string, RawConfig>>(
          snapshotPath,
          () => Object.fromEntries(raw),
          () => {},
        );

  function merge(app: AppRef, { vars, secrets }: RawConfig) {
    const merged: [string, string][] = [...vars];
    for (const s of secrets) merged.push([s.name, box.open(app, s.name, s.sealed)]);
    return Object.freeze(merged);
  }

  async function load(key: string) {
    const slash = key.indexOf("/");
    const app = { tenant: key.slice(0, slash), name: key.slice(slash + 1) };
    try {
      const [vars, secrets] = await Promise.all([state.listVars(app), state.listSecrets(app)]);
      const entry: RawConfig = { vars, secrets: secrets.map(({ name, sealed }) => ({ name, sealed })) };
      raw.set(key, entry);
      snapshot?.schedule();
      return merge(app, entry);
    } catch (err) {
      // Started during an outage: what the last run knew of the app, if anything.
      if (!isStateOutage(err) || !snapshot) throw err;
      if (!snapshotRead) {
        snapshotRead = true;
        const saved = await snapshot.read();
        if (saved) raw = new Map([...Object.entries(saved), ...raw]);
      }
      const entry = raw.get(key);
      if (!entry) throw err;
      return merge(app, entry);
    }
  }
  const cache = createStaleOnErrorCache(load, isStateOutage);
  return {
    get: (app) => cache.get(appKey(app)),
    peek: (app) => cache.peek(appKey(app)),
    invalidate: (app) => cache.delete(appKey(app)),
    invalidateAll: () => cache.clear(),
  };
}
