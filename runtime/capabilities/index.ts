// The registry: every capability guests can import, one line each. The worker builds each
// instance's imports from it, the preparer derives which imports a component may have and which
// of them suspend, and the docs link each capability's page. Adding a capability is a folder here
// and a line below.

import { ComponentTypesError, type ImportedInterface, importedInterfaces } from "../component-types.ts";
import { RuntimeError } from "../errors.ts";
import type { WireAccess, WireLimits } from "../protocol.ts";
import { config } from "./config/index.ts";
import { keyValue } from "./keyvalue/index.ts";
import { outboundHttp } from "./outbound-http/index.ts";
import { spinKeyValue } from "./spin-key-value/index.ts";
import { spinSqlite } from "./spin-sqlite/index.ts";
import { spinUnsupported } from "./spin-unsupported/index.ts";
import { spinVariables } from "./spin-variables/index.ts";
import type { Capability, ComponentImports, DeployHost, HostServices, InstanceContext } from "./types.ts";
import { GuestOutput } from "./wasi/cli.ts";
import { wasi } from "./wasi/index.ts";

export const CAPABILITIES: readonly Capability[] = [
  wasi as Capability,
  keyValue as Capability,
  config as Capability,
  outboundHttp as Capability,
  spinVariables as Capability,
  spinKeyValue as Capability,
  spinSqlite as Capability,
  spinUnsupported as Capability,
];

export type { Capability, ComponentImports, DeployHost, HostServices, InstanceContext } from "./types.ts";

/** Why a component importing `imports` (unversioned) cannot run on `host`: one line per capability. */
export function refusals(imports: readonly string[], host: DeployHost): string[] {
  return CAPABILITIES.flatMap((c) => c.refuse?.(imports, host) ?? []);
}

/**
 * Where each capability's per-request state lives: at its own index, or at that of the capability
 * whose state it shares (`sharesStateOf`), which must come before it.
 */
const STATE_OWNER: readonly number[] = CAPABILITIES.map((c, i) => {
  if (!c.sharesStateOf) return i;
  const owner = CAPABILITIES.indexOf(c.sharesStateOf as Capability);
  if (owner < 0 || owner >= i)
    throw new Error(`${c.name} shares the state of a capability not listed before it`);
  return owner;
});

/** Each capability's view of an app, in registry order (undefined for one that shares state). */
export function forApps(access: WireAccess, limits: WireLimits): unknown[] {
  return CAPABILITIES.map((c, i) => (STATE_OWNER[i] === i ? c.forApp(access, limits) : undefined));
}

/** What each capability's calls see between requests: nothing granted. */
export const IDLE_STATES: readonly unknown[] = Object.freeze(CAPABILITIES.map((c) => c.idle));

/**
 * Which capabilities' request state a component importing `imports` (unversioned) needs, in
 * registry order: one whose interfaces it imports, or whose state a capability it imports shares.
 * The others are never called by it, so its requests leave them idle and allocate nothing; so do
 * capabilities without request state (idle undefined, as wasi's basics).
 */
export function statesNeeded(imports: readonly string[]): readonly boolean[] {
  const used = importsNeeded(imports);
  const needed = CAPABILITIES.map(() => false);
  CAPABILITIES.forEach((_, i) => {
    const owner = STATE_OWNER[i]!;
    if (used[i] && CAPABILITIES[owner]!.idle !== undefined) needed[owner] = true;
  });
  return needed;
}

/**
 * Which capabilities an instance of a component importing `imports` (unversioned) needs host
 * imports from, in registry order: jco's glue looks up only what the component imports, so the
 * others need not be built for each instance.
 */
export function importsNeeded(imports: readonly string[]): readonly boolean[] {
  return CAPABILITIES.map((c) => offered(c).some((name) => imports.includes(name)));
}

/** Each capability's state for one request, in registry order; one that shares gets its owner's. */
export function beginStates(
  apps: readonly unknown[],
  limits: WireLimits,
  services: HostServices,
  needed: readonly boolean[],
): readonly unknown[] {
  if (!needed.includes(true)) return IDLE_STATES;
  const states = new Array<unknown>(CAPABILITIES.length);
  for (let i = 0; i < CAPABILITIES.length; i++) {
    const owner = STATE_OWNER[i]!;
    if (owner !== i) states[i] = states[owner];
    else states[i] = needed[i] ? CAPABILITIES[i]!.begin(apps[i], limits, services) : IDLE_STATES[i];
  }
  return states;
}

/** Tells every capability the request has ended; `reason` undefined means it was answered. */
export function endStates(states: readonly unknown[], reason: unknown): void {
  if (states === IDLE_STATES) return;
  for (let i = 0; i < CAPABILITIES.length; i++) {
    if (STATE_OWNER[i] === i && states[i] !== IDLE_STATES[i]) CAPABILITIES[i]!.end?.(states[i], reason);
  }
}

/** Host functions that suspend the guest on `host`, for jco's `--async-imports`. */
export function asyncImports(host: DeployHost): string[] {
  return CAPABILITIES.flatMap((c) =>
    typeof c.asyncImports === "function" ? c.asyncImports(host) : c.asyncImports,
  );
}

const UNUSED: HostServices = {
  kvStore: () => {
    throw new Error("not used");
  },
  onKvOpLimit: () => {},
  gatewayListeners: () => {
    throw new Error("not used");
  },
  localDataDir: () => undefined,
};

const OFFERED = new Map<Capability, readonly string[]>();

/** The interfaces `c` implements (unversioned), read once from its host imports. */
function offered(c: Capability): readonly string[] {
  let names = OFFERED.get(c);
  if (!names) {
    const ctx: InstanceContext<unknown> = {
      current: () => c.idle,
      services: UNUSED,
      output: new GuestOutput(0, () => {}),
    };
    names = Object.keys(c.imports(ctx));
    OFFERED.set(c, names);
  }
  return names;
}

/** Every interface some capability implements (unversioned): what a component may import. */
export function supportedImports(): ReadonlySet<string> {
  return new Set(CAPABILITIES.flatMap(offered));
}

/**
 * At deploy: each capability's revision of the interfaces a component imports (see
 * `Capability.revision`), by capability name. `names` are its unversioned imports; the types are
 * read from `bytes` only if some capability asks for them.
 */
export function revisionsOf(bytes: Uint8Array, names: readonly string[]): Record<string, string> {
  let decoded: readonly ImportedInterface[] | undefined;
  const component: ComponentImports = {
    names,
    interfaces() {
      try {
        decoded ??= importedInterfaces(bytes);
      } catch (err) {
        if (!(err instanceof ComponentTypesError)) throw err;
        throw new RuntimeError(
          "ERR_COMPONENT_INVALID",
          `the types of the component's imports cannot be read: ${err.message}`,
          {
            cause: err,
          },
        );
      }
      return decoded;
    },
  };
  const revisions: Record<string, string> = {};
  for (const c of CAPABILITIES) {
    const revision = c.revision?.(component);
    if (revision !== undefined) revisions[c.name] = revision;
  }
  return revisions;
}
