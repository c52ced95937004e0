/**
 * What a running gateway tells whoever embeds it, as typed events: each request it answered, each
 * line its guests wrote, and warnings (a request that failed on the gateway's side, a guest
 * stopped by the watchdog, a worker that died). The JSON log says the same for people and log
 * shippers; these are for code (`deploy-cli dev` prints them), so nothing has to parse log lines.
 *
 * A small emitter per gateway rather than `node:diagnostics_channel` (which undici uses): channels
 * are named process-wide, so two gateways in one process (tests, a dev session) would hear each
 * other's requests and every subscriber would have to filter, and a channel's messages are
 * untyped. A gateway started with `startGateway()` is an object to hang listeners on already.
 *
 * @example
 * const events = createGatewayEvents();
 * const off = events.on("request-finished", ({ method, path, status, ms }) =>
 *   console.log(`${method} ${path} ${status} ${ms} ms`),
 * );
 * const gw = await startGateway(config, { events });
 */

export interface RequestFinished {
  requestId: string;
  /** Undefined when no app serves the request's host. */
  app: string | undefined;
  tenant: string | undefined;
  method: string;
  /** Without the query string, as in the log and the log stream. */
  path: string;
  status: number;
  /** From the start of the request to its response head, to 0.1 ms. */
  ms: number;
}

export interface GuestOutput {
  requestId: string;
  app: string;
  tenant: string;
  stream: "stdout" | "stderr";
  /**
   * One line, without its line break; for an error the guest's handler did not catch, the error
   * and its mapped stack, one frame a line (runtime/guest-error.ts).
   */
  text: string;
}

export interface Warning {
  /** What went wrong, as the log says it. */
  message: string;
  code?: string | undefined;
  /** The request it is about, if any (its `request-finished` may not have come yet). */
  requestId?: string | undefined;
  app?: string | undefined;
}

export interface GatewayEventMap {
  "request-finished": RequestFinished;
  "guest-output": GuestOutput;
  warning: Warning;
}

export type GatewayEventName = keyof GatewayEventMap;

export type GatewayEventListener<N extends GatewayEventName> = (event: GatewayEventMap[N]) => void;

export interface GatewayEvents {
  /** Calls `listener` with every event of this name; returns the function that stops it. */
  on<N extends GatewayEventName>(name: N, listener: GatewayEventListener<N>): () => void;
  /** Whether anything listens: publishers on the request path skip building events nobody reads. */
  listening(name: GatewayEventName): boolean;
  emit<N extends GatewayEventName>(name: N, event: GatewayEventMap[N]): void;
}

export interface GatewayEventsOptions {
  /**
   * Told when a listener throws; the other listeners and the request go on regardless. By
   * default the error is thrown again on its own, outside the request (an uncaught exception).
   */
  onListenerError?(err: unknown, name: GatewayEventName): void;
}

export function createGatewayEvents(options: GatewayEventsOptions = {}): GatewayEvents {
  const listeners: { [N in GatewayEventName]: Set<GatewayEventListener<N>> } = {
    "request-finished": new Set(),
    "guest-output": new Set(),
    warning: new Set(),
  };
  const onListenerError =
    options.onListenerError ??
    ((err: unknown) =>
      queueMicrotask(() => {
        throw err;
      }));
  return {
    on(name, listener) {
      const set = listeners[name] as Set<typeof listener>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    listening(name) {
      return listeners[name].size > 0;
    },
    emit(name, event) {
      for (const listener of listeners[name] as Set<GatewayEventListener<typeof name>>) {
        try {
          listener(event);
        } catch (err) {
          onListenerError(err, name);
        }
      }
    },
  };
}
