// The visit counter in the fast world: each request reads the counter of its path in the app's
// `default` bucket (get), then increments it atomically and answers with both values. Two
// key-value calls per request, as a Workers counter does a get and a put. QuickJS passes a 64-bit
// integer as a JavaScript number, not a BigInt, and a missing value as null; it has no console,
// so a store error is told in the answer.

import { increment } from "wasi:keyvalue/atomics@0.2.0-draft2";
import { open } from "wasi:keyvalue/store@0.2.0-draft2";

export const handler = {
  handle(request) {
    const path = request.pathWithQuery.split("?")[0];
    const key = `visits:${path}`;
    try {
      const bucket = open("default");
      const before = bucket.get(key);
      const count = increment(bucket, key, 1);
      const seen = before === null ? "0" : latin1(before);
      return text(200, `${path} has been visited ${count} time${count === 1 ? "" : "s"} (${seen} before)\n`);
    } catch (err) {
      // A store error arrives as the WIT error variant (err.payload), never as a trap.
      const e = err?.payload ?? err;
      const detail = e?.tag === "other" ? e.val : (e?.tag ?? String(err));
      return text(503, `the counter is unavailable: ${detail}\n`);
    }
  },
};

function text(status, body) {
  return { status, headers: [["content-type", "text/plain; charset=utf-8"]], body: utf8(body) };
}

// A counter's value is its decimal digits: one byte per character.
function latin1(bytes) {
  return String.fromCharCode(...bytes);
}

// QuickJS has no TextEncoder: native functions give the UTF-8 bytes (see examples/hello-fast).
function utf8(text) {
  return Uint8Array.fromBase64(btoa(unescape(encodeURIComponent(text.toWellFormed()))));
}
