// How deploy-cli shows what a gateway's data plane did: one line per request, with the output its
// guest wrote for it under it. `deploy-cli logs` (records from the admin API) and `deploy-cli dev`
// (events of the gateway it runs) both print through this; a layout says how the lines look.
//
// Guest output arrives before its request's line (the request is reported once its response is),
// so it is held until the line comes and printed under it. Output of a request already printed,
// or whose line does not come in time, is printed on its own.

import { type Colours, type Paint, paintStatus } from "./format.ts";

export interface RequestEntry {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  /** When it was answered (ISO 8601), where the source tells. */
  time?: string;
}

export interface OutputEntry {
  requestId: string;
  /** `gateway`: an error the gateway ran into with the request, shown among the guest's lines. */
  stream: "stdout" | "stderr" | "gateway";
  /** One line, or an uncaught guest error with its stack (several lines). */
  line: string;
}

/** How entries look: each function returns the text to write, whole lines. */
export interface LogLayout {
  /** Whether output waits for its request's line, to be printed under it. */
  readonly grouped: boolean;
  request(request: RequestEntry, output: readonly OutputEntry[]): string;
  /** Output printed on its own: its request was printed already, or its line did not come in time. */
  output(output: OutputEntry): string;
}

const lines = (...parts: string[]) => parts.map((p) => `${p}\n`).join("");

/**
 * `prefix` (painted) and the output's text; the text of an uncaught guest error has several lines
 * (its stack), and those after the first line up under it.
 */
const marked = (prefix: string, text: string, paint: Paint = (t) => t) =>
  paint(prefix) + text.split("\n").join(`\n${" ".repeat(prefix.length)}`);

const PLAIN: Colours = { red: (t) => t, yellow: (t) => t, green: (t) => t };

/** `deploy-cli logs`: the time, the request with its id, and the output with its stream's name. */
export function logsText(c: Colours = PLAIN): LogLayout {
  return {
    grouped: true,
    request: (r, output) =>
      lines(
        `${r.time} ${r.method} ${r.path} ${paintStatus(r.status, c)} ${r.ms}ms ${r.requestId}`,
        ...output.map((o) => marked(`  ${o.stream}: `, o.line)),
      ),
    output: (o) => lines(marked(`  ${o.requestId} ${o.stream}: `, o.line)),
  };
}

/** `deploy-cli logs --json`: every entry as it was given (the gateway's record), at once. */
export const LOGS_JSON: LogLayout = {
  grouped: false,
  request: (r) => lines(JSON.stringify(r)),
  output: (o) => lines(JSON.stringify(o)),
};

const MARKS: Record<OutputEntry["stream"], string> = { stdout: "│", stderr: "!", gateway: "✗" };

/** `deploy-cli dev`: the request as a person reads it, whole milliseconds, output marked by stream. */
export function devText(c: Colours = PLAIN): LogLayout {
  const mark = (o: OutputEntry) =>
    marked(`  ${MARKS[o.stream]} `, o.line, o.stream === "stdout" ? undefined : c.red);
  return {
    grouped: true,
    request: (r, output) =>
      lines(`${r.method} ${r.path} ${paintStatus(r.status, c)} ${Math.round(r.ms)} ms`, ...output.map(mark)),
    output: (o) => lines(mark(o)),
  };
}

/** `deploy-cli dev --json`: a `request` event with its output as `logs`, `log` events for the rest. */
export const DEV_JSON: LogLayout = {
  grouped: true,
  request: ({ requestId, method, path, status, ms }, output) =>
    lines(
      JSON.stringify({
        event: "request",
        requestId,
        method,
        path,
        status,
        ms: Math.round(ms),
        logs: output.map(({ stream, line }) => ({ stream, line })),
      }),
    ),
  output: ({ requestId, stream, line }) => lines(JSON.stringify({ event: "log", requestId, stream, line })),
};

export interface LogPrinterOptions {
  layout: LogLayout;
  /** How long output waits for its request's line; unset: until `end()`. */
  waitMs?: number | undefined;
  write(text: string): void;
}

export interface LogPrinter {
  request(request: RequestEntry): void;
  output(output: OutputEntry): void;
  /** Whether the request's line has been printed (so output for it now is printed on its own). */
  printed(requestId: string): boolean;
  /** Prints the output still waiting for its request. */
  end(): void;
}

/** Requests remembered as printed; older ones are forgotten. */
const REMEMBERED_REQUESTS = 1000;

export function createLogPrinter(options: LogPrinterOptions): LogPrinter {
  const { layout, waitMs, write } = options;
  const pending = new Map<string, { output: OutputEntry[]; timer?: NodeJS.Timeout }>();
  const printed = new Set<string>();

  function remember(id: string): void {
    printed.add(id);
    if (printed.size > REMEMBERED_REQUESTS) printed.delete(printed.values().next().value!);
  }

  function flush(id: string): void {
    const group = pending.get(id);
    if (!group) return;
    clearTimeout(group.timer);
    pending.delete(id);
    write(group.output.map(layout.output).join(""));
    remember(id);
  }

  return {
    request(request) {
      const group = pending.get(request.requestId);
      if (group) {
        clearTimeout(group.timer);
        pending.delete(request.requestId);
      }
      write(layout.request(request, group?.output ?? []));
      remember(request.requestId);
    },
    output(output) {
      if (!layout.grouped || printed.has(output.requestId)) {
        write(layout.output(output));
        return;
      }
      let group = pending.get(output.requestId);
      if (!group) {
        group = { output: [] };
        if (waitMs !== undefined) {
          const id = output.requestId;
          group.timer = setTimeout(() => flush(id), waitMs);
          group.timer.unref();
        }
        pending.set(output.requestId, group);
      }
      group.output.push(output);
    },
    printed: (requestId) => printed.has(requestId),
    end() {
      for (const id of [...pending.keys()]) flush(id);
    },
  };
}
