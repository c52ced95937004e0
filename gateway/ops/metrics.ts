// Prometheus metrics in the text exposition format (version 0.0.4), written by hand: a few counters,
// gauges and one histogram need no client library. The data plane's part is `RequestMetrics`,
// kept cheap per request (two map lookups, one increment, a short bucket scan).

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Upper bounds (seconds) of the request duration histogram's buckets. */
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

export type Labels = Readonly<Record<string, string>>;

/** Collects metric families and writes them as exposition text. */
export class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels | undefined, value: number): this {
    this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  text(): string {
    return `${this.#lines.join("\n")}\n`;
  }
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

interface AppSeries {
  statuses: Map<number, number>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * Requests the data plane answered, by tenant, app and status, and how long each took until its
 * response head. Requests the gateway answered itself (unknown host, bad request) have tenant and
 * app "".
 */
export class RequestMetrics {
  readonly #byTenant = new Map<string, Map<string, AppSeries>>();
  /** Requests received and not yet answered (response head not sent). */
  inFlight = 0;

  record(tenant: string, app: string, status: number, seconds: number): void {
    let apps = this.#byTenant.get(tenant);
    if (!apps) {
      apps = new Map();
      this.#byTenant.set(tenant, apps);
    }
    let series = apps.get(app);
    if (!series) {
      series = {
        statuses: new Map(),
        buckets: new Float64Array(DURATION_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      apps.set(app, series);
    }
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    series.buckets[i]!++;
    series.sum += seconds;
    series.count++;
  }

  write(out: Exposition): void {
    out.family("wasmgate_requests_total", "counter", "Requests answered by the data plane.");
    for (const [tenant, apps] of this.#byTenant) {
      for (const [app, series] of apps) {
        for (const [status, n] of series.statuses) {
          out.sample("wasmgate_requests_total", { tenant, app, status: String(status) }, n);
        }
      }
    }
    out.family(
      "wasmgate_request_duration_seconds",
      "histogram",
      "Time from receiving a request to sending its response head.",
    );
    for (const [tenant, apps] of this.#byTenant) {
      for (const [app, series] of apps) {
        let cumulative = 0;
        for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
          cumulative += series.buckets[i]!;
          const le = i < DURATION_BUCKETS.length ? String(DURATION_BUCKETS[i]) : "+Inf";
          out.sample("wasmgate_request_duration_seconds_bucket", { tenant, app, le }, cumulative);
        }
        out.sample("wasmgate_request_duration_seconds_sum", { tenant, app }, series.sum);
        out.sample("wasmgate_request_duration_seconds_count", { tenant, app }, series.count);
      }
    }
    out.family("wasmgate_requests_in_flight", "gauge", "Requests received and not yet answered.");
    out.sample("wasmgate_requests_in_flight", undefined, this.inFlight);
  }
}
