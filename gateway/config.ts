// Gateway configuration: flags win over environment variables, which win over defaults. Parsed
// once in main.ts (or made with createConfig by code that embeds the gateway) and passed down
// frozen.

import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  DEFAULT_MAX_COMPONENT_BYTES,
  DEFAULT_MAX_QUEUE_MS,
  DEFAULT_MAX_QUEUED_PER_APP,
  DEFAULT_STALL_MS,
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

const Port = z.coerce.number().int().min(0).max(65535);
const Bytes = z.coerce.number().int().positive();

const ConfigSchema = z.object({
  port: Port.default(DEFAULT_PORT),
  host: z.string().min(1).default(DEFAULT_HOST),
  adminPort: Port.default(DEFAULT_ADMIN_PORT),
  adminHost: z.string().min(1).default(DEFAULT_ADMIN_HOST),
  stateDir: z.string().min(1).default(DEFAULT_STATE_DIR),
  redisUrl: z.string().url().optional(),
  workers: z.coerce.number().int().min(1).max(256).default(Math.max(1, availableParallelism())),
  maxComponentBytes: Bytes.default(DEFAULT_MAX_COMPONENT_BYTES),
  maxBodyBytes: Bytes.default(DEFAULT_MAX_BODY_BYTES),
  memoryBudgetMb: z.coerce
    .number()
    .int()
    .min(64)
    .max(1024 * 1024)
    .default(DEFAULT_MEMORY_BUDGET_MB),
  shutdownGraceMs: z.coerce.number().int().min(0).max(3_600_000).default(DEFAULT_SHUTDOWN_GRACE_MS),
  stallMs: z.coerce.number().int().min(100).max(600_000).default(DEFAULT_STALL_MS),
  maxQueuedPerApp: z.coerce.number().int().min(0).max(1_000_000).default(DEFAULT_MAX_QUEUED_PER_APP),
  maxConcurrentPerTenant: z.coerce.number().int().min(0).max(1_000_000).default(0),
  maxQueueMs: z.coerce.number().int().min(1).max(3_600_000).default(DEFAULT_MAX_QUEUE_MS),
  logLevel: z.enum(LOG_LEVELS).default("info"),
});

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
      "memory for loaded apps (code, idle instances); past it the least recently used idle apps are unloaded",
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
    key: "redisUrl",
    flag: "redis-url",
    arg: "<url>",
    env: "REDIS_URL",
    default: undefined,
    meaning:
      "Redis for shared state (apps, tenants, tokens, deployments, keys) and guests' key-value data; " +
      "every gateway on it serves as one (unset: SQLite in the state directory)",
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
  return Object.freeze(parsed.data);
}
