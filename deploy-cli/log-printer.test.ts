import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createDevOutput } from "./dev/output.ts";
import { createLogPrinter, DEV_JSON, devText, LOGS_JSON, type LogLayout, logsText } from "./log-printer.ts";

const request = (requestId: string, extra: { time?: string } = {}) => ({
  requestId,
  method: "GET",
  path: "/a",
  status: 200,
  ms: 12.4,
  ...extra,
});
const out = (requestId: string, line: string, stream: "stdout" | "stderr" = "stdout") => ({
  requestId,
  stream,
  line,
});

function printer(layout: LogLayout, waitMs?: number) {
  const written: string[] = [];
  const p = createLogPrinter({ layout, waitMs, write: (text) => written.push(text) });
  return { p, text: () => written.join("") };
}

describe("log printer", () => {
  it("holds output until its request's line and prints it under it (logs layout)", () => {
    const { p, text } = printer(logsText());
    p.output(out("r1", "one"));
    p.output(out("r1", "two", "stderr"));
    assert.equal(text(), "");
    p.request(request("r1", { time: "2026-01-01T00:00:00.000Z" }));
    p.output(out("r1", "late"));
    assert.equal(
      text(),
      "2026-01-01T00:00:00.000Z GET /a 200 12.4ms r1\n  stdout: one\n  stderr: two\n  r1 stdout: late\n",
    );
    assert.equal(p.printed("r1"), true);
  });

  it("prints output whose request never came on its own, at end() or after the wait", async () => {
    const held = printer(logsText());
    held.p.output(out("r2", "orphan"));
    held.p.end();
    assert.equal(held.text(), "  r2 stdout: orphan\n");
    // Once flushed, more output of that request is printed at once.
    held.p.output(out("r2", "more"));
    assert.equal(held.text(), "  r2 stdout: orphan\n  r2 stdout: more\n");

    const timed = printer(devText(), 5);
    timed.p.output(out("r3", "waiting"));
    assert.equal(timed.text(), "");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(timed.text(), "  │ waiting\n");
  });

  it("prints NDJSON records as they come, in order, with --json", () => {
    const { p, text } = printer(LOGS_JSON);
    const record = { type: "log", time: "t", app: "a", tenant: "default", ...out("r1", "x") };
    p.output(record);
    // The gateway's records carry more than the printer reads: all of it is printed.
    const summary = { type: "request", app: "a", tenant: "default", ...request("r1", { time: "t" }) };
    p.request(summary);
    const lines = text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines, [record, summary]);
  });

  it("colours a request's status by its class, and the marks of stderr and the gateway's lines", () => {
    const tag = (name: string) => (t: string) => `<${name}>${t}</${name}>`;
    const text = printer(devText({ red: tag("r"), yellow: tag("y"), green: tag("g") }));
    text.p.output(out("r1", "hi"));
    text.p.output(out("r1", "oops", "stderr"));
    text.p.request(request("r1"));
    text.p.request({ ...request("r2"), status: 404 });
    text.p.request({ ...request("r3"), status: 503 });
    assert.equal(
      text.text(),
      "GET /a <g>200</g> 12 ms\n  │ hi\n<r>  ! </r>oops\nGET /a <y>404</y> 12 ms\nGET /a <r>503</r> 12 ms\n",
    );
  });

  it("prints dev's request lines in whole milliseconds, and its JSON events with their logs", () => {
    const text = printer(devText());
    text.p.output(out("r1", "hi"));
    text.p.output(out("r1", "oops", "stderr"));
    text.p.request(request("r1"));
    assert.equal(text.text(), "GET /a 200 12 ms\n  │ hi\n  ! oops\n");

    const json = printer(DEV_JSON);
    json.p.output(out("r1", "hi"));
    json.p.request(request("r1"));
    json.p.output(out("r1", "after"));
    assert.deepEqual(
      json
        .text()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
      [
        {
          event: "request",
          requestId: "r1",
          method: "GET",
          path: "/a",
          status: 200,
          ms: 12,
          logs: [{ stream: "stdout", line: "hi" }],
        },
        { event: "log", requestId: "r1", stream: "stdout", line: "after" },
      ],
    );
  });
});

describe("dev output", () => {
  it("shows a warning about a request under its line, and any other on stderr", () => {
    const written: [string, string][] = [];
    const dev = createDevOutput({ json: false, write: (stream, text) => written.push([stream, text]) });
    const finished = { ...request("r1"), app: "blog", tenant: "default" };
    dev.output({ requestId: "r1", app: "blog", tenant: "default", stream: "stdout", text: "hi" });
    dev.warning({ message: "guest trapped", code: "ERR_GUEST_TRAP", requestId: "r1" });
    dev.request(finished);
    dev.warning({ message: "response aborted", code: "ERR_X", requestId: "r1" });
    dev.warning({ message: "guest worker failed" });
    assert.deepEqual(written, [
      ["stdout", "GET /a 200 12 ms\n  │ hi\n  ✗ guest trapped (ERR_GUEST_TRAP)\n"],
      ["stderr", "[wasmgate] response aborted (ERR_X)\n"],
      ["stderr", "[wasmgate] guest worker failed\n"],
    ]);
  });
});
