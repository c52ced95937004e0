import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { pino } from "pino";
import { LOG_FLUSH_MS, requestLineText } from "./logger.ts";

const LOGGER = new URL("./logger.ts", import.meta.url).href;

/** Runs `body` in a fresh Node with `createLogger` imported, stdout a pipe; returns what it wrote. */
function inChild(body: string, env: Record<string, string> = {}): { stdout: string; status: number | null } {
  const script = `import { createLogger, requestLogger } from ${JSON.stringify(LOGGER)};\n${body}`;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return { stdout: child.stdout, status: child.status };
}

const lines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe("gateway log", () => {
  it("writes what is still buffered when the process exits, crashes or is told to exit", () => {
    const exit = inChild(
      `const log = createLogger("info"); log.info("one"); log.fatal("two"); process.exit(2);`,
    );
    assert.equal(exit.status, 2);
    assert.deepEqual(
      lines(exit.stdout).map((l) => l.msg),
      ["one", "two"],
    );

    const crash = inChild(`const log = createLogger("info"); log.info("before"); throw new Error("boom");`);
    assert.notEqual(crash.status, 0);
    assert.deepEqual(
      lines(crash.stdout).map((l) => l.msg),
      ["before"],
    );

    // Many lines, more than one batch, all there and in order.
    const many = inChild(
      `const log = createLogger("info"); const line = requestLogger(log);
       for (let i = 0; i < 2000; i++) line({ requestId: "r" + i, app: "a", method: "GET", path: "/", status: 200, ms: 0.1 });`,
    );
    assert.equal(many.status, 0);
    assert.deepEqual(
      lines(many.stdout).map((l) => l.requestId),
      Array.from({ length: 2000 }, (_, i) => `r${i}`),
    );
  });

  it("writes a line of a quiet gateway within the flush time, not when a batch fills", () => {
    const quiet = inChild(
      `const log = createLogger("info"); const t = performance.now(); log.info("alone");
       setTimeout(() => process.stdout.write(JSON.stringify({ msg: "later" }) + "\\n"), ${LOG_FLUSH_MS * 4});
       setTimeout(() => {}, ${LOG_FLUSH_MS * 6});`,
    );
    assert.deepEqual(
      lines(quiet.stdout).map((l) => l.msg),
      ["alone", "later"],
    );
  });

  it("prints lines a person reads when asked, JSON otherwise; NO_COLOR drops the colours", () => {
    const body = (format: string) =>
      `const log = createLogger("info", { format: "${format}" }); log.warn({ app: "shop", note: "two words" }, "slow");
       log.error({ err: new Error("bad thing") }, "failed");`;
    const pretty = inChild(body("pretty"), { NO_COLOR: "1" }).stdout;
    assert.match(pretty, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}slow app=shop note="two words"\n/);
    assert.match(pretty, /ERROR failed\n {4}Error: bad thing\n {4,}at /);
    assert.ok(!pretty.includes("\x1b["), "no colour codes with NO_COLOR");
    assert.ok(inChild(body("pretty")).stdout.includes("\x1b[33mWARN"), "WARN in yellow");
    const json = lines(inChild(body("json")).stdout);
    assert.deepEqual(
      json.map((l) => [l.level, l.msg, l.app]),
      [
        [40, "slow", "shop"],
        [50, "failed", undefined],
      ],
    );
    // Not a terminal: auto is JSON.
    assert.equal(lines(inChild(body("auto")).stdout).length, 2);
  });

  it("writes the request line as pino would, whatever a client puts in its path or id", () => {
    let written = "";
    const viaPino = pino(
      { level: "info", base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
      { write: (s: string) => (written = s) },
    );
    fc.assert(
      fc.property(
        fc.record({
          requestId: fc.string({ unit: "binary" }),
          app: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
          method: fc.constantFrom("GET", "POST", "PROPFIND"),
          path: fc.string({ unit: "binary", maxLength: 200 }),
          status: fc.integer({ min: 100, max: 599 }),
          ms: fc.double({ min: 0, max: 1e6, noNaN: true }).map((n) => Math.round(n * 10) / 10),
        }),
        (line) => {
          viaPino.info({ ...line }, "request");
          const ours = requestLineText(line);
          assert.ok(ours.endsWith("}\n") && !ours.slice(0, -1).includes("\n"));
          const [a, b] = [JSON.parse(ours), JSON.parse(written)];
          assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          assert.deepEqual(Object.keys(a), Object.keys(b));
          assert.deepEqual({ ...a, time: b.time }, b);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("logs the request line only at info or finer", () => {
    const out = inChild(
      `for (const level of ["warn", "info"]) requestLogger(createLogger(level))({ requestId: level, app: "a", method: "GET", path: "/", status: 200, ms: 1 });`,
    );
    assert.deepEqual(
      lines(out.stdout).map((l) => l.requestId),
      ["info"],
    );
  });
});
