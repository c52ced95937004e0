// Operations: what the data plane counts per request, the live log bus it and the guests feed, the
// events it publishes (events.ts), readiness (state store, key-value store, guest workers; for
// Redis, what its topology's health check found) and the /metrics exposition.

import type { HttpBindings } from "@hono/node-server";
import type { Context, MiddlewareHandler } from "hono";
import type { KvStore } from "../../kv/index.ts";
import type { Runtime } from "../../runtime/index.ts";
import type { DataEnv, RequestDone, RequestObserver } from "../data-plane/index.ts";
import type { GatewayEvents } from "../events.ts";
import type { StateStore } from "../state/store.ts";
import { LogBus } from "./log-bus.ts";
import { Exposition, RequestMetrics } from "./metrics.ts";

export interface OpsDeps {
  state: StateStore;
  kv: KvStore;
  runtime: Runtime;
  /** Told each request answered, each line of guest output and the runtime's warnings. */
  events: GatewayEvents;
  /**
   * Where the data plane's route table came from (data-plane/router.ts), after a reload if it is
   * due (a readiness probe brings it back from the snapshot once the store answers).
   */
  routes?: () => Promise<{
    from: "state" | "snapshot" | "none";
    loadedAt: string | undefined;
    routes: number;
  }>;
}

export interface Check {
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, Check>;
}

/** Told each data plane request (RequestObserver): counts it, publishes it to the log bus and the events. */
export interface Ops extends RequestObserver {
  bus: LogBus;
  readiness(): Promise<Readiness>;
  /** The Prometheus exposition text. */
  metrics(): string;
  /** Reports not ready from now on (SIGTERM: the gateway is draining). */
  drain(): void;
  /** Ends the log streams and stops listening to the runtime (no more events after it). */
  close(): void;
}

/** A readiness check that takes longer than this has failed. */
const CHECK_TIMEOUT_MS = 1500;
const STARTED_SECONDS = Date.now() / 1000 - process.uptime();

export function createOps(deps: OpsDeps): Ops {
  const { state, kv, runtime, events } = deps;
  const requests = new RequestMetrics();
  const bus = new LogBus();
  let draining = false;
  const stopOutput = runtime.onGuestOutput((ctx, stream, line) => {
    const { requestId, app, tenant } = ctx;
    bus.publish({ type: "log", time: Date.now(), requestId, app, tenant, stream, line });
    if (events.listening("guest-output")) {
      events.emit("guest-output", { requestId, app, tenant, stream, text: line });
    }
  });
  const stopWarnings = runtime.onWarning((warning) => events.emit("warning", warning));

  function finished({ route, requestId, method, path, status, ms }: RequestDone): void {
    requests.inFlight--;
    const rounded = Math.round(ms * 10) / 10;
    if (events.listening("request-finished")) {
      events.emit("request-finished", {
        requestId,
        app: route?.app,
        tenant: route?.tenant,
        method,
        path,
        status,
        ms: rounded,
      });
    }
    if (!route) {
      requests.record("", "", status, ms / 1000);
      return;
    }
    requests.record(route.tenant, route.app, status, ms / 1000);
    bus.publish({
      type: "request",
      time: Date.now(),
      requestId,
      app: route.app,
      tenant: route.tenant,
      method,
      path,
      status,
      ms: rounded,
    });
  }

  const observe: MiddlewareHandler<DataEnv> = async (c, next) => {
    const started = performance.now();
    requests.inFlight++;
    let status = 500;
    try {
      await next();
      status = c.res.status;
    } finally {
      const { method, path } = methodAndPath(c);
      const ms = performance.now() - started;
      finished({ route: c.get("route"), requestId: c.get("requestId"), method, path, status, ms });
    }
  };

  /** `fn` within the timeout; what it resolves with (a store's health fields) goes into the check. */
  async function check(fn: () => Promise<unknown>): Promise<Check> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
        CHECK_TIMEOUT_MS,
      );
    });
    try {
      const found = await Promise.race([fn(), timeout]);
      return found !== null && typeof found === "object" ? { ok: true, ...found } : { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error)?.message ?? String(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    observe,
    started() {
      requests.inFlight++;
    },
    finished,
    bus,
    async readiness() {
      const [stateCheck, kvCheck, routes] = await Promise.all([
        check(async () => {
          await state.version();
          return await state.ping();
        }),
        check(() => kv.ping()),
        deps.routes?.(),
      ]);
      const stats = runtime.stats();
      const workersUp = !stats.closed && stats.workers > 0 && stats.workersReady === stats.workers;
      const checks: Record<string, Check> = {
        state: stateCheck,
        kv: kvCheck,
        ...(routes
          ? {
              routes: ((r) => ({
                ok: r.from === "state",
                from: r.from,
                loadedAt: r.loadedAt,
                routes: r.routes,
                ...(r.from === "snapshot"
                  ? {
                      error: `serving the route snapshot of ${r.loadedAt}: the state store cannot be reached`,
                    }
                  : r.from === "none"
                    ? { error: "the route table has not been loaded yet" }
                    : {}),
              }))(routes),
            }
          : {}),
        workers: {
          ok: workersUp,
          ready: stats.workersReady,
          total: stats.workers,
          ...(workersUp ? {} : { error: `${stats.workersReady} of ${stats.workers} guest workers are up` }),
        },
      };
      if (draining) checks.shutdown = { ok: false, error: "the gateway is shutting down" };
      return { ready: Object.values(checks).every((c) => c.ok), checks };
    },
    metrics() {
      const out = new Exposition();
      requests.write(out);
      const stats = runtime.stats();
      out
        .family("wasmgate_instances_live", "gauge", "Component instances alive in the guest workers.")
        .sample("wasmgate_instances_live", undefined, stats.instancesLive)
        .family("wasmgate_cold_starts_total", "counter", "Component instances created.")
        .sample("wasmgate_cold_starts_total", undefined, stats.instancesCreated)
        .family(
          "wasmgate_cpu_limit_kills_total",
          "counter",
          "Requests stopped for going over their CPU budget.",
        )
        .sample("wasmgate_cpu_limit_kills_total", undefined, stats.cpuLimitKills)
        .family(
          "wasmgate_worker_restarts_total",
          "counter",
          "Guest workers replaced (CPU-limit kills and crashes).",
        )
        .sample("wasmgate_worker_restarts_total", undefined, stats.workerRestarts)
        .family(
          "wasmgate_stalls_total",
          "counter",
          "Guest workers recycled because a guest ran past the stall limit without yielding.",
        )
        .sample("wasmgate_stalls_total", undefined, stats.stalls)
        .family(
          "wasmgate_requests_shed_total",
          "counter",
          "Requests refused at once (503 ERR_RUNTIME_OVERLOADED) because their app or tenant had too many in flight, by tenant and app.",
        );
      for (const [key, n] of Object.entries(stats.shedByApp))
        out.sample("wasmgate_requests_shed_total", tenantAndApp(key), n);
      out.family(
        "wasmgate_guest_requests_in_flight",
        "gauge",
        "Requests sent to guests and not yet answered (waiting for an instance or running), by tenant and app.",
      );
      for (const [key, n] of Object.entries(stats.inFlightByApp))
        out.sample("wasmgate_guest_requests_in_flight", tenantAndApp(key), n);
      out
        .family("wasmgate_workers_ready", "gauge", "Guest workers in service that have booted.")
        .sample("wasmgate_workers_ready", undefined, stats.workersReady)
        .family(
          "wasmgate_kv_operations_total",
          "counter",
          "Key-value store calls made by guests, by operation.",
        );
      for (const [op, n] of Object.entries(stats.kvOperations)) {
        out.sample("wasmgate_kv_operations_total", { op }, n);
      }
      out.family(
        "wasmgate_kv_errors_total",
        "counter",
        "Key-value store calls by guests that failed (ERR_KV_OP_LIMIT: refused for the request's budget, never sent).",
      );
      for (const [code, n] of Object.entries(stats.kvErrors)) {
        out.sample("wasmgate_kv_errors_total", { code }, n);
      }
      const cpu = process.cpuUsage();
      out
        .family("wasmgate_log_subscribers", "gauge", "Clients following an app's log stream.")
        .sample("wasmgate_log_subscribers", undefined, bus.subscribers)
        .family(
          "wasmgate_log_records_dropped_total",
          "counter",
          "Log records not delivered to a subscriber that read too slowly.",
        )
        .sample("wasmgate_log_records_dropped_total", undefined, bus.dropped)
        .family("process_resident_memory_bytes", "gauge", "Resident memory of the gateway process.")
        .sample("process_resident_memory_bytes", undefined, process.memoryUsage.rss())
        .family("process_cpu_seconds_total", "counter", "CPU time of the gateway process (all threads).")
        .sample("process_cpu_seconds_total", undefined, (cpu.user + cpu.system) / 1e6)
        .family("process_start_time_seconds", "gauge", "When the gateway process started (Unix time).")
        .sample("process_start_time_seconds", undefined, Math.round(STARTED_SECONDS));
      return out.text();
    },
    drain() {
      draining = true;
    },
    close() {
      draining = true;
      stopOutput();
      stopWarnings();
      bus.close();
    },
  };
}

/** Method and path (without query), from Node's request when there is one, like the data plane. */
function methodAndPath(c: Context): { method: string; path: string } {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  const target = incoming?.url;
  if (incoming && target?.startsWith("/")) {
    const q = target.indexOf("?");
    return { method: incoming.method ?? "GET", path: q === -1 ? target : target.slice(0, q) };
  }
  return { method: c.req.method, path: c.req.path };
}

/** The labels of a runtime stats key, `<tenant>/<app>`. */
function tenantAndApp(key: string): { tenant: string; app: string } {
  const slash = key.indexOf("/");
  return { tenant: key.slice(0, slash), app: key.slice(slash + 1) };
}
