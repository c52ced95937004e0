// wasi:cli: no arguments, no environment, an empty stdin, and stdout/stderr captured as log lines
// of the request that wrote them.

import { ByteQueue, InputStream, OutputStream } from "./io.ts";

export type GuestStream = "stdout" | "stderr";

/** Collects a guest's output into lines, bounded per request. */
export class GuestOutput {
  #partial: Record<GuestStream, string> = { stdout: "", stderr: "" };
  #bytes = 0;
  #truncated = false;
  readonly #decoder = new TextDecoder();
  readonly #limit: number;
  readonly #emit: (stream: GuestStream, line: string) => void;

  constructor(limit: number, emit: (stream: GuestStream, line: string) => void) {
    this.#limit = limit;
    this.#emit = emit;
  }

  write(stream: GuestStream, chunk: Uint8Array): void {
    if (this.#truncated) return;
    this.#bytes += chunk.byteLength;
    let text = this.#partial[stream] + this.#decoder.decode(chunk);
    if (this.#bytes > this.#limit) {
      this.#truncated = true;
      text += "\n[output truncated: more than the per-request limit]\n";
    }
    const lines = text.split("\n");
    this.#partial[stream] = lines.pop() ?? "";
    for (const line of lines) this.#emit(stream, line);
  }

  /** Flushes unterminated lines and starts counting anew for the next request. */
  reset(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.#partial[stream]) this.#emit(stream, this.#partial[stream]);
      this.#partial[stream] = "";
    }
    this.#bytes = 0;
    this.#truncated = false;
  }
}

export class GuestExit extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`guest called exit (${status === 0 ? "ok" : "error"})`);
    this.status = status;
  }
}

export class TerminalInput {}
export class TerminalOutput {}

export function createCliImports(output: GuestOutput) {
  const stdout = new OutputStream({ write: (c) => output.write("stdout", c) });
  const stderr = new OutputStream({ write: (c) => output.write("stderr", c) });
  return {
    "wasi:cli/environment": {
      getEnvironment: (): [string, string][] => [],
      getArguments: (): string[] => [],
      initialCwd: (): string | undefined => undefined,
    },
    "wasi:cli/exit": {
      exit(status: { tag: "ok" | "err" }): never {
        throw new GuestExit(status.tag === "ok" ? 0 : 1);
      },
      exitWithCode(code: number): never {
        throw new GuestExit(code);
      },
    },
    "wasi:cli/stdin": { getStdin: () => new InputStream(ByteQueue.of(undefined)) },
    "wasi:cli/stdout": { getStdout: () => stdout },
    "wasi:cli/stderr": { getStderr: () => stderr },
    "wasi:cli/terminal-input": { TerminalInput },
    "wasi:cli/terminal-output": { TerminalOutput },
    "wasi:cli/terminal-stdin": { getTerminalStdin: () => undefined },
    "wasi:cli/terminal-stdout": { getTerminalStdout: () => undefined },
    "wasi:cli/terminal-stderr": { getTerminalStderr: () => undefined },
  };
}
