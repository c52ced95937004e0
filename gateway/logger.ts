// The gateway's log: pino, as JSON lines for log shippers, or as lines a person reads on a terminal.
// A busy gateway logs a line per request, so the line is cheap: JSON written in batches (one
// `write` per ~4 KiB, not per request), and the request line built from a fixed template rather
// than through pino's general serializer (a third of the cost).

import { pino } from "pino";
import { type RequestLine, requestLineText } from "../runtime/index.ts";
import type { LOG_FORMATS } from "./config.ts";

export { type RequestLine, requestLineText };

/** The gateway's logger: pino. */
export type Logger = pino.Logger;

export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * How long a log line may wait in the buffer before it is written. Lines are written in batches
 * of about 4 KiB (some 25 request lines), so a busy gateway makes one `write` per batch rather than
 * one per request; a quiet one writes each line within this time.
 */
export const LOG_FLUSH_MS = 25;
const LOG_BATCH_BYTES = 16384;

/** Where each logger made by `createLogger` writes whole lines, for `requestLogger`'s template. */
const lineWriters = new WeakMap<Logger, (line: string) => void>();
/** The file descriptor of each logger `createLogger` made that writes JSON lines in batches. */
const jsonFds = new WeakMap<Logger, number>();

/**
 * Where another thread may write request lines of `logger` itself (its JSON lines' descriptor),
 * or undefined when they must go through `logger` (pretty lines, a logger made elsewhere).
 */
export function requestLineFd(logger: Logger): number | undefined {
  return jsonFds.get(logger);
}

export interface LoggerOptions {
  /** `auto` (the default): `pretty` when standard output is a terminal, else `json`. */
  format?: LogFormat;
  /** Where lines go; standard output by default. */
  fd?: number;
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const fd = options.fd ?? 1;
  const format =
    options.format === undefined || options.format === "auto"
      ? fd === 1 && process.stdout.isTTY
        ? "pretty"
        : "json"
      : options.format;
  const write = format === "pretty" ? prettyWriter(fd) : batchedWriter(fd);
  const logger = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, { write });
  lineWriters.set(logger, write);
  if (format !== "pretty") jsonFds.set(logger, fd);
  return logger;
}

/**
 * The function that logs a request's summary line with `logger` at info: a line like pino's own
 * (same fields, same order), written straight to the logger's output when `createLogger` made it.
 */
export function requestLogger(logger: Logger): (line: RequestLine) => void {
  const write = lineWriters.get(logger);
  if (!write) {
    return (line) => {
      if (logger.isLevelEnabled("info")) logger.info({ ...line }, "request");
    };
  }
  return (line) => {
    if (logger.isLevelEnabled("info")) write(requestLineText(line));
  };
}

/** Each batching writer's flush, for the exit. */
const batches = new Set<() => void>();
let flushAtExit = false;

/**
 * JSON lines, gathered here and written a batch at a time: one `write` of up to 16 KiB, on this
 * thread, within 25 ms of the first line waiting; what is still gathered is written when the
 * process exits, also on a crash. The writes are synchronous (pino's destination retries a full
 * pipe): an asynchronous one still in the thread pool when the process exits is lost, which is
 * what a batch handed over at exit always was.
 */
function batchedWriter(fd: number): (line: string) => void {
  const destination = pino.destination({ dest: fd, sync: true });
  let batch = "";
  let pending = false;
  let closed = false;
  const hand = () => {
    pending = false;
    if (batch === "" || closed) return;
    const text = batch;
    batch = "";
    destination.write(text);
  };
  const atExit = hand;
  destination.on("close", () => {
    closed = true;
    batches.delete(atExit);
  });
  batches.add(atExit);
  if (!flushAtExit) {
    flushAtExit = true;
    process.on("exit", () => {
      for (const flush of batches) flush();
    });
  }
  return (line) => {
    batch += line;
    if (batch.length >= LOG_BATCH_BYTES) hand();
    else if (!pending) {
      pending = true;
      setTimeout(hand, LOG_FLUSH_MS).unref();
    }
  };
}

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const LEVEL_COLOURS: Record<number, string> = { 40: "\x1b[33m", 50: "\x1b[31m", 60: "\x1b[31m" };
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

/** A word printed bare; anything else (spaces, quotes, empty) is printed as JSON. */
const BARE = /^[\w./:@+-]+$/;

/**
 * A line a person reads, written at once: `12:04:05.123 INFO request method=GET path=/ …`, the
 * level coloured (unless `NO_COLOR`), an error's stack under it.
 */
function prettyWriter(fd: number): (line: string) => void {
  const colour = !process.env.NO_COLOR;
  const paint = (code: string | undefined, text: string) =>
    colour && code ? `${code}${text}${RESET}` : text;
  const out = pino.destination({ dest: fd, sync: true });
  return (line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      out.write(line);
      return;
    }
    const { level, time, msg, err, ...fields } = record;
    const at = typeof time === "string" ? time.slice(11, 23) : "";
    const name = LEVEL_NAMES[level as number] ?? String(level);
    const parts = [paint(DIM, at), paint(LEVEL_COLOURS[level as number], name.padEnd(5)), String(msg ?? "")];
    for (const [key, value] of Object.entries(fields)) {
      const text = typeof value === "string" && BARE.test(value) ? value : JSON.stringify(value);
      parts.push(`${paint(DIM, `${key}=`)}${text}`);
    }
    let text = `${parts.join(" ")}\n`;
    const stack = (err as { stack?: unknown } | undefined)?.stack;
    if (typeof stack === "string") text += `${stack.replace(/^/gm, "    ")}\n`;
    else if (err !== undefined) text += `    ${JSON.stringify(err)}\n`;
    out.write(text);
  };
}
