// Gateway configuration: flags win over environment variables, which win over defaults. Parsed
// once in main.ts (or made with createConfig by code that embeds the gateway) and passed down
// frozen.

import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import type { RedisNode, RedisTopology } from "../kv/index.ts";
import {
  DEFAULT_INSTANCE_IDLE_MS,
  DEFAULT_MAX_COMPONENT_BYTES,
  DEFAULT_MAX_QUEUE_MS,
  DEFAULT_MAX_QUEUED_PER_APP,
  DEFAULT_STALL_MS,
  DEFAULT_UNLOAD_IDLE_MS,
} from "../runtime/index.ts";

export const DEFAULT_PORT = 8787;
export const DEFAULT_ADMIN_PORT = 8788;
export const DEFAULT_HOST = "0.0.0.0";
export const DEFAULT_ADMIN_HOST = "127.0.0.1";
export const DEFAULT_STATE_DIR = ".wasmgate";
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MEMORY_BUDGET_MB = 2048;
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
/** Whether guest workers listen on the data port themselves (Linux only: SO_REUSEPORT). */
export const LISTEN_IN_WORKERS = ["on", "off"] as const;
/** The port a `--redis-cluster` node without one is taken to listen on. */
export const DEFAULT_REDIS_PORT = 6379;
/** The port a `--redis-sentinels` entry without one is taken to listen on. */
export const DEFAULT_SENTINEL_PORT = 26379;
/** Most nodes one `--redis-cluster` or `--redis-sentinels` list may name. */
const MAX_REDIS_NODES = 64;

const Port = z.coerce.number().int().min(0).max(65535);
const Bytes = z.coerce.number().int().positive();

/**
 * `host:port,host:port,…` (a port left out is `defaultPort`; an IPv6 address in brackets), or
 * what is wrong with it.
 */
export function parseRedisNodes(text: string, defaultPort: number): RedisNode[] | string {
  const entries = text.split(",").map((entry) => entry.trim());
  if (entries.length > MAX_REDIS_NODES) return `at most ${MAX_REDIS_NODES} nodes`;
  const nodes: RedisNode[] = [];
  for (const entry of entries) {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/@]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
    if (!match || port < 1 || port > 65535) {
      return `"${entry}" is not host:port (like 10.0.0.1:${defaultPort} or [::1]:${defaultPort})`;
    }
    nodes.push(Object.freeze({ host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port }));
  }
  return nodes;
}

const NodeList = (defaultPort: number) =>
  z
    .string()
    .optional()
    .superRefine((text, ctx) => {
      if (text === undefined) return;
      const nodes = parseRedisNodes(text, defaultPort);
      if (typeof nodes === "string") ctx.addIssue({ code: "custom", message: nodes });
    });

const ConfigSchema = z.object({
  port: Port.default(DEFAULT_PORT),
  host: z.string().min(1).default(DEFAULT_HOST),
  adminPort: Port.default(DEFAULT_ADMIN_PORT),
  adminHost: z.string().min(1).default(DEFAULT_ADMIN_HOST),
  stateDir: z.string().min(1).default(DEFAULT_STATE_DIR),
  redisUrl: z.string().url().optional(),
  redisCluster: NodeList(DEFAULT_REDIS_PORT),
  redisSentinels: NodeList(DEFAULT_SENTINEL_PORT),
  redisMasterName: z.string().min(1).max(256).optional(),
  workers: z.coerce.number().int().min(1).max(256).default(Math.max(1, availableParallelism())),
  maxComponentBytes: Bytes.default(DEFAULT_MAX_COMPONENT_BYTES),
  maxBodyBytes: Bytes.default(DEFAULT_MAX_BODY_BYTES),
  memoryBudgetMb: z.coerce
    .number()
    .int()
    .min(64)
    .max(1024 * 1024)
    .default(DEFAULT_MEMORY_BUDGET_MB),
  instanceIdleS: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(DEFAULT_INSTANCE_IDLE_MS / 1000),
  unloadIdleS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(DEFAULT_UNLOAD_IDLE_MS / 1000),
  shutdownGraceMs: z.coerce.number().int().min(0).max(3_600_000).default(DEFAULT_SHUTDOWN_GRACE_MS),
  stallMs: z.coerce.number().int().min(100).max(600_000).default(DEFAULT_STALL_MS),
  maxQueuedPerApp: z.coerce.number().int().min(0).max(1_000_000).default(DEFAULT_MAX_QUEUED_PER_APP),
  maxConcurrentPerTenant: z.coerce.number().int().min(0).max(1_000_000).default(0),
  maxQueueMs: z.coerce.number().int().min(1).max(3_600_000).default(DEFAULT_MAX_QUEUE_MS),
  logLevel: z.enum(LOG_LEVELS).default("info"),
  logFormat: z.enum(LOG_FORMATS).default("auto"),
  listenInWorkers: z.enum(LISTEN_IN_WORKERS).default("off"),
});

/** The Redis settings that say where Redis is: at most one may be set. */
const REDIS_PLACES = ["redisUrl", "redisCluster", "redisSentinels"] as const;

export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** One setting of `wasmgate serve`, as the parser, `--help` and docs/reference/configuration.md see it. */
export interface Setting {
  readonly key: keyof Config;
  readonly flag: string;
  /** What the flag takes, as the help shows it. */
  readonly arg: string;
  readonly env: string;
  /** The default as the help shows it; undefined when the setting is unset by default. */
  readonly default: string | undefined;
  readonly meaning: string;
}

const bytes = (n: number) => `${n} (${n / (1024 * 1024)} MiB)`;

/**
 * Every setting: the one table the parser, CONFIG_HELP and the configuration reference are made
 * from (`npm run gen:docs`). A setting added to the schema but not here fails to compile below.
 */
export const SETTINGS = [
  {
    key: "port",
    flag: "port",
    arg: "<n>",
    env: "WASMGATE_PORT",
    default: String(DEFAULT_PORT),
    meaning: "data plane port; 0 picks a free one",
  },
  {
    key: "host",
    flag: "host",
    arg: "<addr>",
    env: "WASMGATE_HOST",
    default: DEFAULT_HOST,
    meaning: "data plane address",
  },
  {
    key: "adminPort",
    flag: "admin-port",
    arg: "<n>",
    env: "WASMGATE_ADMIN_PORT",
    default: String(DEFAULT_ADMIN_PORT),
    meaning: "admin API port; 0 picks a free one",
  },
  {
    key: "adminHost",
    flag: "admin-host",
    arg: "<addr>",
    env: "WASMGATE_ADMIN_HOST",
    default: DEFAULT_ADMIN_HOST,
    meaning: "admin API address",
  },
  {
    key: "stateDir",
    flag: "state-dir",
    arg: "<dir>",
    env: "WASMGATE_STATE_DIR",
    default: DEFAULT_STATE_DIR,
    meaning: "state, signing key, operator token, secrets key, artifacts, compiled code, embedded KV",
  },
  {
    key: "workers",
    flag: "workers",
    arg: "<n>",
    env: "WASMGATE_WORKERS",
    default: "number of cores",
    meaning: "guest worker threads (1-256)",
  },
  {
    key: "maxComponentBytes",
    flag: "max-component-bytes",
    arg: "<n>",
    env: "WASMGATE_MAX_COMPONENT_BYTES",
    default: bytes(DEFAULT_MAX_COMPONENT_BYTES),
    meaning: "largest component a deploy accepts (413 beyond)",
  },
  {
    key: "maxBodyBytes",
    flag: "max-body-bytes",
    arg: "<n>",
    env: "WASMGATE_MAX_BODY_BYTES",
    default: bytes(DEFAULT_MAX_BODY_BYTES),
    meaning: "largest request body passed to a guest (413 beyond); an app's limits may change it",
  },
  {
    key: "memoryBudgetMb",
    flag: "memory-budget-mb",
    arg: "<n>",
    env: "WASMGATE_MEMORY_BUDGET_MB",
    default: String(DEFAULT_MEMORY_BUDGET_MB),
    meaning:
      "memory for loaded apps (their code, counted once however many share it, and instances); past it the least recently used idle apps are unloaded",
  },
  {
    key: "instanceIdleS",
    flag: "instance-idle-s",
    arg: "<s>",
    env: "WASMGATE_INSTANCE_IDLE_S",
    default: String(DEFAULT_INSTANCE_IDLE_MS / 1000),
    meaning:
      "an instance idle this long is dropped; its app's code stays loaded, so the next request only starts one",
  },
  {
    key: "unloadIdleS",
    flag: "unload-idle-s",
    arg: "<s>",
    env: "WASMGATE_UNLOAD_IDLE_S",
    default: String(DEFAULT_UNLOAD_IDLE_MS / 1000),
    meaning:
      "an app without a request this long is unloaded from its worker (code and instances); its next request loads it again",
  },
  {
    key: "shutdownGraceMs",
    flag: "shutdown-grace-ms",
    arg: "<ms>",
    env: "WASMGATE_SHUTDOWN_GRACE_MS",
    default: String(DEFAULT_SHUTDOWN_GRACE_MS),
    meaning: "on SIGTERM: stop accepting, let requests in flight finish this long, then exit 0",
  },
  {
    key: "stallMs",
    flag: "stall-ms",
    arg: "<ms>",
    env: "WASMGATE_STALL_MS",
    default: String(DEFAULT_STALL_MS),
    meaning:
      "wall-clock time a guest may run without yielding, whatever CPU it used, before its worker is recycled (503 ERR_RUNTIME_STALLED)",
  },
  {
    key: "maxQueuedPerApp",
    flag: "max-queued-per-app",
    arg: "<n>",
    env: "WASMGATE_MAX_QUEUED_PER_APP",
    default: String(DEFAULT_MAX_QUEUED_PER_APP),
    meaning:
      "requests an app may have waiting beyond what its instances can run at once; past it, 503 ERR_RUNTIME_OVERLOADED with Retry-After at once",
  },
  {
    key: "maxQueueMs",
    flag: "max-queue-ms",
    arg: "<ms>",
    env: "WASMGATE_MAX_QUEUE_MS",
    default: String(DEFAULT_MAX_QUEUE_MS),
    meaning:
      "how long a request may wait for a free instance of its app; past it, 503 ERR_RUNTIME_OVERLOADED with Retry-After",
  },
  {
    key: "maxConcurrentPerTenant",
    flag: "max-concurrent-per-tenant",
    arg: "<n>",
    env: "WASMGATE_MAX_CONCURRENT_PER_TENANT",
    default: "0 (no limit)",
    meaning: "requests one tenant's apps may have in flight together; past it, 503 ERR_RUNTIME_OVERLOADED",
  },
  {
    key: "logLevel",
    flag: "log-level",
    arg: "<level>",
    env: "WASMGATE_LOG_LEVEL",
    default: "info",
    meaning: `one of ${LOG_LEVELS.join(", ")}`,
  },
  {
    key: "logFormat",
    flag: "log-format",
    arg: "<format>",
    env: "WASMGATE_LOG_FORMAT",
    default: "auto",
    meaning:
      "json (one JSON object per line), pretty (a line a person reads), or auto: pretty on a terminal, JSON otherwise",
  },
  {
    key: "redisUrl",
    flag: "redis-url",
    arg: "<url>",
    env: "REDIS_URL",
    default: undefined,
    meaning:
      "Redis for shared state (apps, tenants, tokens, deployments, keys) and guests' key-value data; " +
      "every gateway on it serves as one (unset: SQLite in the state directory)",
  },
  {
    key: "redisCluster",
    flag: "redis-cluster",
    arg: "<nodes>",
    env: "WASMGATE_REDIS_CLUSTER",
    default: undefined,
    meaning:
      `a Redis Cluster instead of --redis-url, by some of its nodes as host:port,… (port default ${DEFAULT_REDIS_PORT}): ` +
      "the gateway learns the other nodes and follows failovers and slot moves",
  },
  {
    key: "redisSentinels",
    flag: "redis-sentinels",
    arg: "<nodes>",
    env: "WASMGATE_REDIS_SENTINELS",
    default: undefined,
    meaning:
      `Redis Sentinel instead of --redis-url, as host:port,… of the sentinels (port default ${DEFAULT_SENTINEL_PORT}): ` +
      "the gateway uses the master they name, and the one they promote after a failover",
  },
  {
    key: "redisMasterName",
    flag: "redis-master-name",
    arg: "<name>",
    env: "WASMGATE_REDIS_MASTER_NAME",
    default: undefined,
    meaning:
      "the master's name as the sentinels know it (sentinel monitor <name> …); needs --redis-sentinels",
  },
  {
    key: "listenInWorkers",
    flag: "listen-in-workers",
    arg: "on|off",
    env: "WASMGATE_LISTEN_IN_WORKERS",
    default: "off",
    meaning:
      "experimental, measured slower (docs/explanation/architecture.md): on, every guest worker listens on the data port itself (Linux SO_REUSEPORT) and answers the requests it can without the main thread, passing the rest on to it; known gaps: a request with two Host headers gets no answer, a CPU-limit kill resets that worker's other connections",
  },
] as const satisfies readonly Setting[];

// Compiles only while SETTINGS names every key of the schema.
const everySettingListed: Exclude<keyof Config, (typeof SETTINGS)[number]["key"]> extends never
  ? true
  : never = true;
void everySettingListed;

const HELP_INDENT = 30;
const HELP_WIDTH = 100;

/**
 * `text` then `where`, in lines of at most HELP_WIDTH columns after HELP_INDENT (the first after
 * `left`); `where` is never split.
 */
function helpEntry(left: string, text: string, where?: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of [...text.split(" "), ...(where ? [where] : [])]) {
    if (line !== "" && HELP_INDENT + line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.map((l, i) => `${(i === 0 ? left : "").padEnd(HELP_INDENT)}${l}\n`).join("");
}

/** `wasmgate serve --help`, made from SETTINGS. */
export const CONFIG_HELP = `Usage: wasmgate serve [options]

Starts the gateway: the data plane and the admin API. Flags win over environment variables, which
win over defaults.

Options:
${SETTINGS.map((s) =>
  helpEntry(
    `  --${s.flag} ${s.arg}`,
    s.meaning,
    `[${s.env}${s.default === undefined ? "" : `; default: ${s.default}`}]`,
  ),
).join("")}${helpEntry("  --help", "show this help")}`;

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const options: Record<string, { type: "string" }> = {};
  for (const s of SETTINGS) if (s.flag) options[s.flag] = { type: "string" };
  const { values } = parseArgs({ args: argv, allowPositionals: false, strict: true, options });
  const raw: Record<string, string | undefined> = {};
  for (const s of SETTINGS) {
    const fromFlag = s.flag ? (values[s.flag] as string | undefined) : undefined;
    raw[s.key] = fromFlag ?? (env[s.env] === "" ? undefined : env[s.env]);
  }
  return validated(raw);
}

/**
 * A config from typed values, for code that starts a gateway itself (`deploy-cli dev`): what is
 * not given takes its default, and the schema `wasmgate serve` uses checks the rest.
 *
 * @example
 * const config = createConfig({ port: 0, adminPort: 0, stateDir: "/tmp/gw", workers: 1 });
 */
export function createConfig(values: Partial<Config> = {}): Config {
  return validated(values);
}

function validated(raw: Record<string, unknown>): Config {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  const config = parsed.data;
  const flagOf = (key: keyof Config) => `--${SETTINGS.find((s) => s.key === key)!.flag}`;
  const places = REDIS_PLACES.filter((key) => config[key] !== undefined);
  if (places.length > 1) {
    throw new ConfigError(
      `invalid configuration: ${places.map(flagOf).join(" and ")} both say where Redis is; set only one ` +
        "(a single server, a Cluster, or Sentinel)",
    );
  }
  if (config.redisSentinels !== undefined && config.redisMasterName === undefined) {
    throw new ConfigError(
      "invalid configuration: --redis-sentinels needs --redis-master-name, the name the sentinels monitor the master by",
    );
  }
  if (config.redisMasterName !== undefined && config.redisSentinels === undefined) {
    throw new ConfigError("invalid configuration: --redis-master-name applies only with --redis-sentinels");
  }
  return Object.freeze(config);
}

/**
 * Where the configured Redis is, as the stores and the guest workers take it; undefined when
 * there is none (the embedded SQLite stores).
 *
 * @example
 * redisTopology(parseConfig(["--redis-cluster", "10.0.0.1:7000,10.0.0.2:7000"], {}));
 * // { kind: "cluster", nodes: [{ host: "10.0.0.1", port: 7000 }, { host: "10.0.0.2", port: 7000 }] }
 */
export function redisTopology(config: Config): RedisTopology | undefined {
  const nodes = (text: string, port: number) => parseRedisNodes(text, port) as RedisNode[];
  if (config.redisUrl !== undefined) return { kind: "standalone", url: config.redisUrl };
  if (config.redisCluster !== undefined) {
    return { kind: "cluster", nodes: nodes(config.redisCluster, DEFAULT_REDIS_PORT) };
  }
  if (config.redisSentinels !== undefined) {
    return {
      kind: "sentinel",
      sentinels: nodes(config.redisSentinels, DEFAULT_SENTINEL_PORT),
      masterName: config.redisMasterName!,
    };
  }
  return undefined;
}
