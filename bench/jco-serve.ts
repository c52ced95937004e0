// Hello through the whole gateway (StarlingMonkey wasi:http guest, examples/hello) against
// `jco serve` running the same component, in the same run. Both are up; one is loaded at a time.
// Usage: npm run bench:jco-serve [-- --seconds 10 --runs 3 --connections 32]

import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildGuest } from "../scripts/guests.ts";
import { ROOT, tempDir } from "../test/harness/gateway.ts";
import {
  compareWithGateway,
  describePairs,
  freePort,
  STARLINGMONKEY_HELLO,
  stopChild,
  WRK_FLAGS,
  waitForHttp,
  wrkSettings,
} from "./common.ts";
import { pinnedCommand, SERVER_CPUS } from "./pin.ts";

/** jco transpiles the 14 MB component before it listens. */
const JCO_START_TIMEOUT_MS = 120_000;

const { values } = parseArgs({ options: WRK_FLAGS });
const settings = wrkSettings(values);

/** `jco serve` on a free loopback port, transpiling into a directory of ours so nothing is left. */
async function jcoServe<T>(
  wasm: string,
  fn: (url: string, pid: number | undefined) => Promise<T>,
): Promise<T> {
  const port = await freePort();
  const outDir = tempDir("wasmgate-bench-jco-");
  // jco serve runs the server in a child process of its own: start it as a process group leader
  // so that stopping the group stops both.
  const child = spawn(
    ...pinnedCommand(SERVER_CPUS, join(ROOT, "node_modules", ".bin", "jco"), [
      "serve",
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--jco-dir",
      outDir,
      wasm,
    ]),
    { stdio: ["ignore", "ignore", "inherit"], detached: true },
  );
  try {
    const url = `http://127.0.0.1:${port}/`;
    await Promise.race([
      waitForHttp(url, JCO_START_TIMEOUT_MS),
      new Promise((_, reject) =>
        child.once("exit", (code) => reject(new Error(`jco serve exited with ${code} before answering`))),
      ),
    ]);
    return await fn(url, child.pid);
  } finally {
    await stopChild(child, true);
    rmSync(outDir, { recursive: true, force: true });
  }
}

const hello = await buildGuest("example", "hello");
describePairs(settings);

await jcoServe(hello, (jcoUrl, pid) =>
  compareWithGateway(
    {
      ...STARLINGMONKEY_HELLO,
      baseline: { name: "jco serve hello (StarlingMonkey)", url: jcoUrl, pid },
      guest: hello,
      ratio: { label: "wasmgate / jco serve", floor: 3, goal: 5 },
    },
    settings,
  ),
);
