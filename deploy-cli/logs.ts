// deploy-cli logs: an app's recent log records and, with --follow, its live stream (Server-Sent
// Events). Each request prints as one summary line with its guest's output indented under it;
// --json prints every record as one JSON object per line.

import { request } from "undici";
import type { LogRecordView } from "../gateway/index.ts";
import { appOf } from "./build/manifest.ts";
import { createClient, withTenant } from "./client.ts";
import { type Command, remoteCommon } from "./command.ts";
import { CliError, usage } from "./errors.ts";
import { colours } from "./format.ts";
import { createLogPrinter, LOGS_JSON, type LogPrinter, logsText } from "./log-printer.ts";

export interface LogsCommon {
  gateway: string;
  token: string | undefined;
  tenant?: string | undefined;
  json: boolean;
}

/** Guest output waits this long for its request's summary line before it is printed on its own. */
const GROUP_WAIT_MS = 2000;
/** The gateway sends a comment every 15 s: this long without a byte means the stream is dead. */
const SILENCE_MS = 60_000;

export async function logsCommand(values: Record<string, unknown>, common: LogsCommon): Promise<void> {
  const app = await appOf(values);
  if (!app) throw usage("logs needs --app <name> (or a wasmgate.json here or above)");
  const path = `/v1/apps/${encodeURIComponent(app)}/logs`;
  const out = new Printer(common.json, values.follow === true);
  // The recent records first (like tail): this call also reports a wrong token or app the usual way.
  const { records } = await createClient(common).get<{ records: LogRecordView[] }>(path);
  for (const record of records) out.print(record);
  if (values.follow !== true) {
    out.end();
    if (records.length === 0 && !common.json) process.stderr.write(`No recent log records for ${app}.\n`);
    return;
  }
  try {
    const url = `${common.gateway.replace(/\/+$/, "")}${withTenant(path, common.tenant)}`;
    await follow(url, common.token, app, out);
  } finally {
    out.end();
  }
}

async function follow(url: string, token: string | undefined, app: string, out: Printer): Promise<void> {
  const stop = new AbortController();
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
    stop.abort();
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    const res = await request(url, {
      headers: { accept: "text/event-stream", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: stop.signal,
      bodyTimeout: SILENCE_MS,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      const error = (JSON.parse(text || "{}") as { error?: { code?: string; message?: string } }).error;
      throw new CliError(
        { gateway: error?.code ?? `HTTP_${res.statusCode}` },
        `${error?.message ?? `the gateway answered ${res.statusCode}`} (${error?.code ?? res.statusCode})`,
        { exitCode: res.statusCode >= 500 ? 2 : 1 },
      );
    }
    const parser = new SseParser((event, data) => {
      if (event === "request" || event === "log" || event === "dropped") {
        out.print(JSON.parse(data) as LogRecordView);
      }
    });
    for await (const chunk of res.body) parser.push(chunk as Buffer);
    if (interrupted) return;
    throw new CliError("ERR_LOG_STREAM_ENDED", `the gateway ended the log stream of ${app}`, {
      hint: "the gateway may be restarting; run the command again to follow from there",
    });
  } catch (err) {
    if (interrupted) return;
    if (err instanceof CliError) throw err;
    throw new CliError(
      "ERR_LOG_STREAM_FAILED",
      `the log stream of ${app} failed: ${(err as Error).message}`,
      {
        hint: "check that the gateway is running and reachable, then run the command again",
        cause: err,
      },
    );
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}

/** Splits a text/event-stream into events; comment lines (heartbeats) are skipped. */
class SseParser {
  #buffer = "";
  readonly #decoder = new TextDecoder();
  readonly #onEvent: (event: string, data: string) => void;

  constructor(onEvent: (event: string, data: string) => void) {
    this.#onEvent = onEvent;
  }

  push(chunk: Uint8Array): void {
    this.#buffer += this.#decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n");
    for (let end = this.#buffer.indexOf("\n\n"); end !== -1; end = this.#buffer.indexOf("\n\n")) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length > 0) this.#onEvent(event, data.join("\n"));
    }
  }
}

/** Prints records: request lines with their guest output (log-printer.ts), and dropped notices. */
class Printer {
  readonly #json: boolean;
  readonly #lines: LogPrinter;

  constructor(json: boolean, live: boolean) {
    this.#json = json;
    this.#lines = createLogPrinter({
      layout: json ? LOGS_JSON : logsText(colours(process.stdout)),
      // Records already sent (not --follow) are all there: their output waits for the end.
      waitMs: live ? GROUP_WAIT_MS : undefined,
      write: (text) => process.stdout.write(text),
    });
  }

  print(record: LogRecordView): void {
    if (record.type === "request") this.#lines.request(record);
    else if (record.type === "log") this.#lines.output(record);
    else if (this.#json) process.stdout.write(`${JSON.stringify(record)}\n`);
    else process.stdout.write(`-- ${record.count} records dropped: this client read too slowly --\n`);
  }

  end(): void {
    this.#lines.end();
  }
}

export const logs: Command = {
  name: "logs",
  summary: "an app's recent requests with its guests' output; --follow streams new ones",
  usage: "logs --app <name> [--follow]",
  details: "Ctrl-C stops --follow. With --json, one JSON object per record.",
  examples: ["deploy-cli logs --app shop", "deploy-cli logs --app shop --follow --json"],
  remote: true,
  options: { app: { type: "string" }, follow: { type: "boolean", default: false } },
  run: (ctx) => logsCommand(ctx.values, remoteCommon(ctx)),
};
