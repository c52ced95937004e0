// deploy-cli logs: an app's recent log records and, with --follow, its live stream (Server-Sent
// Events). Each request prints as one summary line with its guest's output indented under it;
// --json prints every record as one JSON object per line.

import { request } from "undici";
import type { LogRecordView } from "../gateway/logs-api.ts";
import { createClient } from "./client.ts";
import { type Command, remoteCommon } from "./command.ts";
import { CliError, usage } from "./errors.ts";

export interface LogsCommon {
  gateway: string;
  token: string | undefined;
  json: boolean;
}

type RequestView = Extract<LogRecordView, { type: "request" }>;
type OutputView = Extract<LogRecordView, { type: "log" }>;

/** Guest output waits this long for its request's summary line before it is printed on its own. */
const GROUP_WAIT_MS = 2000;
/** The gateway sends a comment every 15 s: this long without a byte means the stream is dead. */
const SILENCE_MS = 60_000;
const REMEMBERED_REQUESTS = 1000;

export async function logsCommand(values: Record<string, unknown>, common: LogsCommon): Promise<void> {
  const app = values.app as string | undefined;
  if (!app) throw usage("logs needs --app <name>");
  const path = `/v1/apps/${encodeURIComponent(app)}/logs`;
  const out = common.json ? new JsonPrinter() : new TextPrinter(values.follow === true);
  // The recent records first (like tail): this call also reports a wrong token or app the usual way.
  const { records } = await createClient(common).get<{ records: LogRecordView[] }>(path);
  for (const record of records) out.print(record);
  if (values.follow !== true) {
    out.end();
    if (records.length === 0 && !common.json) process.stderr.write(`No recent log records for ${app}.\n`);
    return;
  }
  try {
    await follow(`${common.gateway.replace(/\/+$/, "")}${path}`, common.token, app, out);
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

interface Printer {
  print(record: LogRecordView): void;
  end(): void;
}

class JsonPrinter implements Printer {
  print(record: LogRecordView): void {
    process.stdout.write(`${JSON.stringify(record)}\n`);
  }
  end(): void {}
}

/**
 * Guest output arrives before its request's summary (the summary is sent when the response is);
 * it is held until the summary comes, then printed under it. Output of a request already printed,
 * or whose summary does not come in time, is printed with its request id.
 */
class TextPrinter implements Printer {
  readonly #pending = new Map<string, { lines: OutputView[]; timer?: NodeJS.Timeout }>();
  readonly #printed = new Set<string>();
  readonly #live: boolean;

  constructor(live: boolean) {
    this.#live = live;
  }

  print(record: LogRecordView): void {
    if (record.type === "dropped") {
      process.stdout.write(`-- ${record.count} records dropped: this client read too slowly --\n`);
    } else if (record.type === "request") {
      this.#request(record);
    } else if (this.#printed.has(record.requestId)) {
      this.#orphan(record);
    } else {
      let pending = this.#pending.get(record.requestId);
      if (!pending) {
        pending = { lines: [] };
        if (this.#live) {
          const id = record.requestId;
          pending.timer = setTimeout(() => this.#flush(id), GROUP_WAIT_MS);
        }
        this.#pending.set(record.requestId, pending);
      }
      pending.lines.push(record);
    }
  }

  end(): void {
    for (const id of [...this.#pending.keys()]) this.#flush(id);
  }

  #request(r: RequestView): void {
    const lines = [`${r.time} ${r.method} ${r.path} ${r.status} ${r.ms}ms ${r.requestId}`];
    const pending = this.#pending.get(r.requestId);
    if (pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(r.requestId);
      for (const line of pending.lines) lines.push(`  ${line.stream}: ${line.line}`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    this.#remember(r.requestId);
  }

  #flush(id: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    for (const line of pending.lines) this.#orphan(line);
    this.#remember(id);
  }

  #orphan(line: OutputView): void {
    process.stdout.write(`  ${line.requestId} ${line.stream}: ${line.line}\n`);
  }

  #remember(id: string): void {
    this.#printed.add(id);
    if (this.#printed.size > REMEMBERED_REQUESTS) {
      this.#printed.delete(this.#printed.values().next().value!);
    }
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
