// What a guest capability is: one folder under runtime/capabilities/ exporting one `Capability`,
// registered by one line in ./index.ts. The worker, the preparer and the gateway loop over that
// list; none of them names a capability. Modelled on Spin's factors (configure per app, prepare
// per instance, state per request) with less ceremony: a capability is a plain object.

import type { KvStore } from "../../kv/index.ts";
import type { ImportedInterface } from "../component-types.ts";
import type { DeployHost, WireAccess, WireLimits } from "../protocol.ts";
import type { Grant } from "./grants.ts";
import type { GatewayListeners } from "./outbound-http/hosts.ts";
import type { GuestOutput } from "./wasi/cli.ts";

export type { DeployHost };

/** What the worker running a guest offers every capability's host imports. */
export interface HostServices {
  /** The worker's key-value store client, opened on first use. */
  kvStore(): KvStore;
  /** Told when a store call is refused for the request's operation budget. */
  onKvOpLimit(): void;
  /** The gateway's own listening ports, as the worker knows them now. */
  gatewayListeners(): GatewayListeners;
  /**
   * Where capabilities may keep files of their own: the folder of the embedded key-value file
   * (the state directory by default). Undefined on a Redis-backed gateway, whose state is shared
   * by the fleet and kept on no gateway's disk.
   */
  localDataDir(): string | undefined;
}

/**
 * A WIT interface's functions, or a resource's methods, as host code may write them: typed by what
 * jco generates from the WIT (`generated/`), except that any may return a promise, which suspends
 * the guest (the function must then be listed in `asyncImports`).
 *
 * @example
 * class Store implements Suspending<import("fermyon:spin/key-value@2.0.0").Store> { … }
 */
export type Suspending<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => R | Promise<R> : T[K];
};

/** What one instance's host imports see. */
export interface InstanceContext<Request> {
  /** The running request's state for this capability (`idle` between requests). */
  current(): Request;
  services: HostServices;
  /** The instance's stdout and stderr. */
  output: GuestOutput;
  /**
   * Which revision of this capability's interfaces the component imports, as `revision()` read
   * it at deploy (ComponentInfo.revisions); undefined when it recorded none.
   */
  revision?: string | undefined;
}

/** What the preparer shows a capability of a component it is deploying. */
export interface ComponentImports {
  /** The interfaces it imports, unversioned (`wasi:keyvalue/store`), as jco links them. */
  readonly names: readonly string[];
  /**
   * Every instance it imports, with the type of each function it imports from it, read from the
   * component's own bytes on the first call. Throws RuntimeError `ERR_COMPONENT_INVALID` when
   * they cannot be read.
   */
  interfaces(): readonly ImportedInterface[];
}

/**
 * One guest capability.
 *
 * @example
 * export const clock: Capability<undefined, undefined> = {
 *   name: "clock",
 *   docs: "runtime/capabilities/clock/README.md",
 *   asyncImports: [],
 *   imports: () => ({ "example:clock/now": { now: () => BigInt(Date.now()) } }),
 *   forApp: () => undefined,
 *   begin: () => undefined,
 *   idle: undefined,
 * };
 */
export interface Capability<App = unknown, Request = unknown> {
  /** A short name, for logs and docs. */
  readonly name: string;
  /** The page (a path in the repository) that tells guest authors what it offers. */
  readonly docs: string;
  /**
   * Host functions that wait (suspend the guest through JSPI), as jco's `--async-imports` takes
   * them: `interface#function`, unversioned. A function of the gateway when that decides it: on
   * the embedded key-value store a store call answers at once, so it is transpiled as a plain call.
   */
  readonly asyncImports: readonly string[] | ((host: DeployHost) => readonly string[]);
  /**
   * The host imports of one instance, keyed by unversioned interface name (jco looks imports up
   * without the version, so one implementation serves every version a component uses). The keys
   * are also what the preparer accepts: a component importing anything no capability offers is
   * refused at deploy.
   */
  imports(ctx: InstanceContext<Request>): Record<string, object>;
  /**
   * At deploy: which revision of this capability's interfaces the component imports, read from
   * its own types (two revisions may share a version and differ in one function's shape), or
   * undefined when it imports none or there is nothing to tell apart. The preparer records it in
   * ComponentInfo.revisions under `name`, and each instance's `imports()` gets it back as
   * `ctx.revision`. Throws RuntimeError `ERR_COMPONENT_UNSUPPORTED_IMPORTS`, naming the
   * interface and version, for a revision the capability cannot serve: refused at deploy rather
   * than trapping at run time.
   */
  revision?(component: ComponentImports): string | undefined;
  /**
   * Just before a core module is instantiated: may replace jco's glue for functions that need
   * none with the host function itself.
   */
  linkCore?(imports: WebAssembly.Imports): void;
  /**
   * A capability earlier in the registry whose per-request state this one's host imports see as
   * their own (`current()`): two interfaces on one resource then draw on one budget. The worker
   * calls `forApp`, `begin` and `end` of the owner only; `idle` must be the owner's.
   */
  readonly sharesStateOf?: Capability<any, Request>;
  /**
   * At deploy, after the imports are known to be offered: why a component importing `imports`
   * (unversioned) cannot run on this gateway, or undefined. Refused as
   * ERR_COMPONENT_IMPORT_UNAVAILABLE.
   */
  refuse?(imports: readonly string[], host: DeployHost): string | undefined;
  /** The fields of the app this capability is granted through, if it needs any. */
  readonly grants?: readonly Grant<any>[];
  /** Once per app and worker: what the app's access and limits mean here, worked out once. */
  forApp(access: WireAccess, limits: WireLimits): App;
  /** Before each request: the state its calls see. */
  begin(app: App, limits: WireLimits, services: HostServices): Request;
  /**
   * The request ended: `reason` is undefined when it was answered, else why it was stopped (a
   * deadline, the client gone). May be called twice. Release what the request held.
   */
  end?(request: Request, reason: unknown): void;
  /** The state between requests: it grants nothing. */
  readonly idle: Request;
}
