// What `deploy-cli dev` prints: a line per request (method, path, status, ms) with the guest's
// console output for that request under it, and the session's events (builds, reloads, errors).
// With --json every one of these is a JSON object on its own line of stdout instead.

export interface RequestLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

interface GuestLine {
  stream: string;
  line: string;
}

/** How long guest output waits for its request's line before it is printed on its own. */
const ORPHAN_MS = 5000;
const REMEMBERED = 1000;

export interface DevOutput {
  /** A session event; `text` is what a person sees, `data` what --json prints. */
  event(name: string, data: Record<string, unknown>, text: string, stream?: "stdout" | "stderr"): void;
  request(request: RequestLine): void;
  /** A gateway log entry: guest output is grouped by request, warnings and errors are shown. */
  log(entry: Record<string, unknown>): void;
  close(): void;
}

export function createDevOutput(options: {
  json: boolean;
  write?: (stream: "stdout" | "stderr", text: string) => void;
}): DevOutput {
  const write = options.write ?? ((stream, text) => process[stream].write(text));
  const { json } = options;
  const waiting = new Map<string, { lines: GuestLine[]; timer: NodeJS.Timeout }>();
  /** Requests already printed, so their later output (a streaming body) is printed at once. */
  const printed = new Set<string>();

  function emit(data: Record<string, unknown>): void {
    write("stdout", `${JSON.stringify(data)}\n`);
  }

  function guestText(line: GuestLine): string {
    const mark = line.stream === "gateway" ? "✗" : line.stream === "stderr" ? "!" : "│";
    return `  ${mark} ${line.line}\n`;
  }

  function remember(id: string): void {
    printed.add(id);
    if (printed.size > REMEMBERED) printed.delete(printed.values().next().value!);
  }

  function flushOrphan(id: string): void {
    const group = waiting.get(id);
    if (!group) return;
    waiting.delete(id);
    for (const line of group.lines) {
      if (json) emit({ event: "log", requestId: id, ...line });
      else write("stdout", guestText(line));
    }
  }

  return {
    event(name, data, text, stream = "stdout") {
      if (json) emit({ event: name, ...data });
      else write(stream, text.endsWith("\n") ? text : `${text}\n`);
    },
    request(request) {
      const group = waiting.get(request.requestId);
      if (group) {
        clearTimeout(group.timer);
        waiting.delete(request.requestId);
      }
      const lines = group?.lines ?? [];
      remember(request.requestId);
      if (json) {
        emit({ event: "request", ...request, logs: lines });
        return;
      }
      write(
        "stdout",
        `${request.method} ${request.path} ${request.status} ${request.ms} ms\n${lines.map(guestText).join("")}`,
      );
    },
    log(entry) {
      const requestId = typeof entry.requestId === "string" ? entry.requestId : undefined;
      if (entry.msg === "guest output" && requestId) {
        const line = { stream: String(entry.stream), line: String(entry.line) };
        if (printed.has(requestId)) {
          if (json) emit({ event: "log", requestId, ...line });
          else write("stdout", guestText(line));
          return;
        }
        let group = waiting.get(requestId);
        if (!group) {
          group = { lines: [], timer: setTimeout(() => flushOrphan(requestId), ORPHAN_MS) };
          group.timer.unref();
          waiting.set(requestId, group);
        }
        group.lines.push(line);
        return;
      }
      if (typeof entry.level === "number" && entry.level >= 40) {
        const message = String(entry.msg ?? "");
        const code = typeof entry.code === "string" ? ` (${entry.code})` : "";
        if (requestId && !printed.has(requestId)) {
          // A gateway error about a request (a trap, a limit): shown under the request's line.
          return this.log({ msg: "guest output", requestId, stream: "gateway", line: `${message}${code}` });
        }
        if (json)
          emit({
            event: "warning",
            message,
            ...(requestId ? { requestId } : {}),
            ...(code ? { code: entry.code } : {}),
          });
        else write("stderr", `[wasmgate] ${message}${code}\n`);
      }
    },
    close() {
      for (const id of [...waiting.keys()]) {
        clearTimeout(waiting.get(id)!.timer);
        flushOrphan(id);
      }
    },
  };
}
