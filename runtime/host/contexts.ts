// The limits and access an app's requests run with go to a worker once, as a numbered context, and
// each request names its context. They made up most of every invoke message: without them,
// copying one takes 2.6 µs instead of 4.8.

import type { Grants } from "../capabilities/grants.ts";
import type { GuestLimits } from "../limits.ts";
import type { NetworkGrant, ToWorker, WireAccess, WireLimits } from "../protocol.ts";

/** Past this many contexts sent to a worker, it is told to forget them all and they go anew. */
export const MAX_CONTEXTS_PER_WORKER = 1024;

const NONE: readonly never[] = Object.freeze([]);
const NO_GRANTS: Grants = Object.freeze({});
/** Without a grant, no special address is reachable. */
const NO_NETWORK: NetworkGrant = Object.freeze({ allowPrivateNetwork: NONE, trustAllowList: false });

/** Who a request runs as: the parts of its access, as the gateway keeps them per app. */
export interface AccessParts {
  tenant: string;
  app: string;
  grants?: Grants;
  network?: NetworkGrant;
  config?: readonly (readonly [string, string])[];
}

type ContextMessage = Extract<ToWorker, { type: "context" | "contexts-reset" }>;

/**
 * Main thread: the contexts one worker has. An app's limits object stays the same while its route
 * does, and its access lists while they do not change, so most requests find theirs already sent;
 * a change (a push, new variables) sends a new one that replaces it.
 *
 * @example
 * const contexts = new WorkerContexts((msg) => post(slot, msg), (limits) => ({ ...limits, maxInstances, maxUses }));
 * post(slot, { type: "invoke", id, deployment, context: contexts.idFor(limits, ctx), request });
 */
export class WorkerContexts {
  readonly #send: (msg: ContextMessage) => void;
  readonly #wireLimits: (limits: GuestLimits) => WireLimits;
  readonly #max: number;
  #sent = new WeakMap<GuestLimits, { id: number; access: WireAccess }>();
  #count = 0;
  #nextId = 1;

  constructor(
    send: (msg: ContextMessage) => void,
    wireLimits: (limits: GuestLimits) => WireLimits,
    max = MAX_CONTEXTS_PER_WORKER,
  ) {
    this.#send = send;
    this.#wireLimits = wireLimits;
    this.#max = max;
  }

  /** The id of the worker's context for these limits and access, sending it first if needed. */
  idFor(limits: GuestLimits, parts: AccessParts): number {
    const grants = parts.grants ?? NO_GRANTS;
    const network = parts.network ?? NO_NETWORK;
    const config = parts.config ?? NONE;
    const sent = this.#sent.get(limits);
    if (
      sent &&
      sent.access.tenant === parts.tenant &&
      sent.access.app === parts.app &&
      sent.access.grants === grants &&
      sent.access.network === network &&
      sent.access.config === config
    ) {
      return sent.id;
    }
    if (!sent && this.#count >= this.#max) {
      // Contexts of apps whose limits object is gone are never named again; the worker cannot
      // know which, so it forgets all of them.
      this.#sent = new WeakMap();
      this.#count = 0;
      this.#send({ type: "contexts-reset" });
    }
    const id = this.#nextId++;
    const access: WireAccess = {
      tenant: parts.tenant,
      app: parts.app,
      grants,
      network,
      config,
    };
    this.#send({ type: "context", id, replaces: sent?.id, limits: this.#wireLimits(limits), access });
    if (!sent) this.#count++;
    this.#sent.set(limits, { id, access });
    return id;
  }
}
