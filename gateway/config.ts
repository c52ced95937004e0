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
  --log-level <level>    fatal|error|warn|info|debug|silent    [WASMGATE_LOG_LEVEL]   (info)
                         Redis URL for shared state and KV     [REDIS_URL]
`;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    strict: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "admin-port": { type: "string" },
      "admin-host": { type: "string" },
      "state-dir": { type: "string" },
      workers: { type: "string" },
      "max-component-bytes": { type: "string" },
      "max-body-bytes": { type: "string" },
      "log-level": { type: "string" },
    },
  });
  const pick = (flag: string | undefined, name: string) => flag ?? (env[name] === "" ? undefined : env[name]);
  const parsed = ConfigSchema.safeParse({
    port: pick(values.port, "WASMGATE_PORT"),
    host: pick(values.host, "WASMGATE_HOST"),
    adminPort: pick(values["admin-port"], "WASMGATE_ADMIN_PORT"),
    adminHost: pick(values["admin-host"], "WASMGATE_ADMIN_HOST"),
    stateDir: pick(values["state-dir"], "WASMGATE_STATE_DIR"),
    redisUrl: pick(undefined, "REDIS_URL"),
    workers: pick(values.workers, "WASMGATE_WORKERS"),
    maxComponentBytes: pick(values["max-component-bytes"], "WASMGATE_MAX_COMPONENT_BYTES"),
    maxBodyBytes: pick(values["max-body-bytes"], "WASMGATE_MAX_BODY_BYTES"),
    logLevel: pick(values["log-level"], "WASMGATE_LOG_LEVEL"),
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  return Object.freeze(parsed.data);
}
