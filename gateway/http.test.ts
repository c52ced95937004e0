import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KvError } from "../kv/index.ts";
import { RuntimeError } from "../runtime/index.ts";
import { type ErrorFields, replyForError } from "./http.ts";

function logged(err: unknown): { reply: ReturnType<typeof replyForError>; lines: [ErrorFields, string][] } {
  const lines: [ErrorFields, string][] = [];
  const reply = replyForError(err, "req-1", { error: (fields, msg) => lines.push([fields, msg]) });
  return { reply, lines };
}

describe("replyForError", () => {
  it("logs a 5xx runtime error by its code and message, without the gateway's stack", () => {
    const { reply, lines } = logged(new RuntimeError("ERR_RUNTIME_OVERLOADED", "the app shop is full"));
    assert.equal(reply.status, 503);
    assert.deepEqual(lines, [
      [{ requestId: "req-1", code: "ERR_RUNTIME_OVERLOADED" }, "the app shop is full"],
    ]);
  });

  it("logs what failed underneath a 5xx error, when something did", () => {
    const cause = new Error("connection refused");
    const { lines } = logged(new RuntimeError("ERR_RUNTIME_INSTANTIATE", "could not start", { cause }));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]![0].err, cause);
  });

  it("logs nothing for an error that is the client's", () => {
    assert.deepEqual(logged(new RuntimeError("ERR_RUNTIME_BODY_TOO_LARGE", "too large")).lines, []);
    assert.deepEqual(logged(new KvError("ERR_KV_KEY_INVALID", "bad key")).lines, []);
  });

  it("logs an unexpected error whole and answers 500 ERR_INTERNAL", () => {
    const err = new TypeError("x is undefined");
    const { reply, lines } = logged(err);
    assert.equal(reply.status, 500);
    assert.equal(lines[0]![0].err, err);
  });
});
