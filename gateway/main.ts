// The gateway process: `wasmgate serve`. The only file that reads process.env: it parses the
// settings, starts the gateway (index.ts) and stops it on SIGTERM or SIGINT.

import {
  CONFIG_HELP,
  type Config,
  ConfigError,
  createLogger,
  parseConfig,
  type RunningGateway,
  startGateway,
} from "./index.ts";

async function main(argv: string[]): Promise<void> {
  const [command = "serve", ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help" || rest.includes("--help")) {
    process.stdout.write(CONFIG_HELP);
    return;
  }
  if (command !== "serve") {
    process.stderr.write(`wasmgate: unknown command "${command}"\n\n${CONFIG_HELP}`);
    process.exit(1);
  }
  let config: Config;
  try {
    config = parseConfig(rest, process.env);
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof TypeError ? err.message : String(err);
    process.stderr.write(`wasmgate: ${message}\nRun \`wasmgate serve --help\` for the options.\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { format: config.logFormat });
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, { logger });
  } catch (err) {
    logger.fatal({ err }, `wasmgate could not start: ${(err as Error).message}`);
    process.exit(2);
  }
  const stop = (signal: string) => void gateway.stop(signal).then(() => process.exit(0));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // The last resort: both listeners catch what answering a request can throw, and nothing a guest
  // sends should get this far. If something still does, one request is lost, not every tenant.
  process.on("uncaughtException", (err) => logger.error({ err }, "uncaught exception; still serving"));
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection; still serving"));
}

await main(process.argv.slice(2));
