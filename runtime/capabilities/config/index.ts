// wasi:config/store@0.2.0-draft: the app's variables and secrets, merged (a name is either a
// variable or a secret, never both: the gateway refuses the second), as they were when the
// request started. They travel with each request, so a change is seen by the next request.

import type { Capability } from "../types.ts";

/** What the running request may read; set by the worker before each call. */
export interface ConfigGrant {
  entries: ReadonlyMap<string, string>;
}

export const EMPTY_CONFIG: ConfigGrant = Object.freeze({ entries: new Map<string, string>() });

/**
 * @example
 * const imports = { ...createConfigImports(() => instance.config) };
 */
export function createConfigImports(grant: () => ConfigGrant) {
  return {
    // Typed by what jco generates from the WIT (sdk/generated), so a WIT change breaks the build.
    "wasi:config/store": {
      get(key: string): string | undefined {
        return grant().entries.get(key);
      },
      getAll(): [string, string][] {
        return [...grant().entries];
      },
    } satisfies typeof import("wasi:config/store@0.2.0-draft"),
  };
}

/** wasi:config/store@0.2.0-draft on the app's variables and secrets. */
export const config: Capability<ConfigGrant, ConfigGrant> = {
  name: "config",
  docs: "docs/guides/vars-and-secrets.md",
  asyncImports: [],
  imports: ({ current }) => createConfigImports(current),
  forApp: (access) => (access.config.length === 0 ? EMPTY_CONFIG : { entries: new Map(access.config) }),
  begin: (app) => app,
  idle: EMPTY_CONFIG,
};
