// What `deploy-cli dev` prints: a line per request (method, path, status, ms) with the guest's
// console output for that request under it (log-printer.ts, as `deploy-cli logs` prints them), the
// gateway's warnings, and the session's events (builds, reloads, errors). With --json every one of
// these is a JSON object on its own line of stdout instead.

import type { GuestOutput, RequestFinished, Warning } from "../../gateway/index.ts";
import { colours } from "../format.ts";
import { createLogPrinter, DEV_JSON, devText } from "../log-printer.ts";

/** How long guest output waits for its request's line before it is printed on its own. */
const ORPHAN_MS = 5000;

export interface DevOutput {
  /** A session event; `text` is what a person sees, `data` what --json prints. */
  event(name: string, data: Record<string, unknown>, text: string, stream?: "stdout" | "stderr"): void;
  request(request: RequestFinished): void;
  output(output: GuestOutput): void;
  /** A gateway warning: one about a request not printed yet is shown under its line. */
  warning(warning: Warning): void;
  close(): void;
}

export function createDevOutput(options: {
  json: boolean;
  write?: (stream: "stdout" | "stderr", text: string) => void;
}): DevOutput {
  const write = options.write ?? ((stream, text) => process[stream].write(text));
  const { json } = options;
  const printer = createLogPrinter({
    layout: json ? DEV_JSON : devText(colours(process.stdout)),
    waitMs: ORPHAN_MS,
    write: (text) => write("stdout", text),
  });

  function emit(data: Record<string, unknown>): void {
    write("stdout", `${JSON.stringify(data)}\n`);
  }

  return {
    event(name, data, text, stream = "stdout") {
      if (json) emit({ event: name, ...data });
      else write(stream, text.endsWith("\n") ? text : `${text}\n`);
    },
    request({ requestId, method, path, status, ms }) {
      printer.request({ requestId, method, path, status, ms });
    },
    output({ requestId, stream, text }) {
      printer.output({ requestId, stream, line: text });
    },
    warning({ message, code, requestId }) {
      const shown = `${message}${code ? ` (${code})` : ""}`;
      if (requestId && !printer.printed(requestId)) {
        // A gateway error about a request (a trap, a limit): shown under the request's line.
        printer.output({ requestId, stream: "gateway", line: shown });
        return;
      }
      if (json)
        emit({ event: "warning", message, ...(requestId ? { requestId } : {}), ...(code ? { code } : {}) });
      else write("stderr", `[wasmgate] ${shown}\n`);
    },
    close() {
      printer.end();
    },
  };
}
