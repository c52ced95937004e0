// Gateway configuration: flags win over environment variables, which win over defaults. Parsed
// once in main.ts and passed down frozen.

import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { DEFAULT_MAX_COMPONENT_BYTES } from "../runtime/index.ts";

export const DEFAULT_PORT = 8787;
export const DEFAULT_ADMIN_PORT = 8788;
export const DEFAULT_HOST = "0.0.0.0";
export const DEFAULT_ADMIN_HOST = "127.0.0.1";
export const DEFAULT_STATE_DIR = ".wasmgate";
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

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
    .default(2048),
  shutdownGraceMs: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export const CONFIG_HELP = `Usage: wasmgate serve [options]

Options (environment variable in brackets):
  --port <n>             data plane port, 0 picks a free one   [WASMGATE_PORT]        (${DEFAULT_PORT})
  --host <addr>          data plane address                    [WASMGATE_HOST]        (${DEFAULT_HOST})
  --admin-port <n>       admin API port, 0 picks a free one    [WASMGATE_ADMIN_PORT]  (${DEFAULT_ADMIN_PORT})
  --admin-host <addr>    admin API address                     [WASMGATE_ADMIN_HOST]  (${DEFAULT_ADMIN_HOST})
  --state-dir <dir>      where state, keys and artifacts live  [WASMGATE_STATE_DIR]   (${DEFAULT_STATE_DIR})
  --workers <n>          guest worker threads                  [WASMGATE_WORKERS]     (number of cores)
  --max-component-bytes  largest component a deploy accepts    [WASMGATE_MAX_COMPONENT_BYTES] (50 MiB)
  --max-body-bytes       largest request body to a guest       [WASMGATE_MAX_BODY_BYTES] (10 MiB)
  --memory-budget-mb     memory for loaded apps; idle ones go   [WASMGATE_MEMORY_BUDGET_MB] (2048)
  --shutdown-grace-ms    on SIGTERM, time to finish requests    [WASMGATE_SHUTDOWN_GRACE_MS] (30000)
  --log-level <level>    fatal|error|warn|info|debug|silent    [WASMGATE_LOG_LEVEL]   (info)
  --redis-url <url>      Redis for shared state and KV; gateways [REDIS_URL]
                         on one Redis serve as one (default: SQLite in the state directory)
`;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Every setting: its config key, command-line flag and environment variable. */
export const SETTINGS = [
  { key: "port", flag: "port", env: "WASMGATE_PORT" },
  { key: "host", flag: "host", env: "WASMGATE_HOST" },
  { key: "adminPort", flag: "admin-port", env: "WASMGATE_ADMIN_PORT" },
  { key: "adminHost", flag: "admin-host", env: "WASMGATE_ADMIN_HOST" },
  { key: "stateDir", flag: "state-dir", env: "WASMGATE_STATE_DIR" },
  { key: "redisUrl", flag: "redis-url", env: "REDIS_URL" },
  { key: "workers", flag: "workers", env: "WASMGATE_WORKERS" },
  { key: "maxComponentBytes", flag: "max-component-bytes", env: "WASMGATE_MAX_COMPONENT_BYTES" },
  { key: "maxBodyBytes", flag: "max-body-bytes", env: "WASMGATE_MAX_BODY_BYTES" },
  { key: "memoryBudgetMb", flag: "memory-budget-mb", env: "WASMGATE_MEMORY_BUDGET_MB" },
  { key: "shutdownGraceMs", flag: "shutdown-grace-ms", env: "WASMGATE_SHUTDOWN_GRACE_MS" },
  { key: "logLevel", flag: "log-level", env: "WASMGATE_LOG_LEVEL" },
] as const satisfies readonly { key: keyof Config; flag: string | undefined; env: string }[];

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const options: Record<string, { type: "string" }> = {};
  for (const s of SETTINGS) if (s.flag) options[s.flag] = { type: "string" };
  const { values } = parseArgs({ args: argv, allowPositionals: false, strict: true, options });
  const raw: Record<string, string | undefined> = {};
  for (const s of SETTINGS) {
    const fromFlag = s.flag ? (values[s.flag] as string | undefined) : undefined;
    raw[s.key] = fromFlag ?? (env[s.env] === "" ? undefined : env[s.env]);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  return Object.freeze(parsed.data);
}
