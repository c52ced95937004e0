// What a guest's response head may put on the wire. The gateway owns HTTP framing: a guest chooses
// its status and its end-to-end headers, never how the connection or the body is delimited. Every
// guest answer (the standard world's and the fast world's) passes here once, in the worker, before
// anything of it leaves for the main thread; what passes is something Node's HTTP server writes
// without complaint, and what does not becomes 502 ERR_GUEST_BAD_RESPONSE naming the header.

import type { WireHeaders } from "../protocol.ts";

/** The whole head a guest may send: names and values together. */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
export const MAX_RESPONSE_HEADERS = 512;

// Node's own rules (`validateHeaderName`, `validateHeaderValue`): a name is an HTTP token; a value
// is tabs, visible ASCII and obs-text bytes (0x80-0xff), with no other control byte.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Any character past U+00FF: a text value that is not plain Latin-1. */
const WIDE = /[\u0100-\uffff]/;
const LENGTH = /^\d{1,15}$/;

/**
 * Connection-level fields and the body's framing: set by the gateway, never by a guest. A guest's
 * Content-Length shorter than its body would let it forge a second response on a kept-alive
 * connection; a longer one would swallow the next.
 */
const FRAMING: ReadonlySet<string> = new Set([
  "connection",
  "content-length",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** A response head the gateway will not write; the message names what was wrong. */
export class BadResponseHead extends Error {
  override readonly name = "BadResponseHead";
}

export interface CheckedHead {
  status: number;
  headers: WireHeaders;
  /**
   * The body length the guest declared, when it declared one valid length. The gateway uses it
   * only for a body that streams, and holds the guest to it.
   */
  declaredLength: number | undefined;
}

/** How a header name is shown in a message: quoted, cut short, control bytes escaped. */
function shown(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

/**
 * Checks a guest's status and headers and returns them as Node writes them (lower-case names,
 * repeated ones as arrays, values as Latin-1 strings), without framing fields. Header values are
 * bytes (wasi:http) or text (the fast world); text past Latin-1 keeps the low byte of each
 * character, and is checked after that.
 *
 * @example
 * const head = checkResponseHead(200, [["content-type", "text/plain"]]);
 * // head.headers: { "content-type": "text/plain" }; throws BadResponseHead for status 99
 */
export function checkResponseHead(
  status: number,
  entries: readonly (readonly [string, Uint8Array | string])[],
): CheckedHead {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new BadResponseHead(
      `the guest answered with status ${String(status).slice(0, 32)}; it must be 200-599`,
    );
  }
  if (entries.length > MAX_RESPONSE_HEADERS) {
    throw new BadResponseHead(
      `the guest's response has ${entries.length} header fields; at most ${MAX_RESPONSE_HEADERS} are allowed`,
    );
  }
  // A plain object, which V8 keeps in its fast form (a prototype-less one is a dictionary, and
  // cost every request 6 µs). A guest's header named `constructor` or `__proto__` is still a header
  // like any other: only own properties are read, and `__proto__` is defined, not assigned.
  const headers: WireHeaders = {};
  let size = 0;
  let declared: string | undefined;
  let lengths = 0;
  for (const [rawName, rawValue] of entries) {
    const value =
      typeof rawValue !== "string"
        ? Buffer.from(rawValue.buffer, rawValue.byteOffset, rawValue.byteLength).toString("latin1")
        : WIDE.test(rawValue)
          ? Buffer.from(rawValue, "latin1").toString("latin1")
          : rawValue;
    size += rawName.length + value.length + 4;
    if (size > MAX_RESPONSE_HEAD_BYTES) {
      throw new BadResponseHead(
        `the guest's response headers are larger than ${MAX_RESPONSE_HEAD_BYTES} bytes`,
      );
    }
    if (!TOKEN.test(rawName))
      throw new BadResponseHead(`the guest's response header name ${shown(rawName)} is not an HTTP token`);
    if (BAD_VALUE.test(value)) {
      throw new BadResponseHead(
        `the guest's response header ${shown(rawName)} has a control character in its value`,
      );
    }
    const name = rawName.toLowerCase();
    if (name === "content-length") {
      lengths++;
      if (declared === undefined || declared === value.trim()) declared = value.trim();
      else declared = "";
      continue;
    }
    if (FRAMING.has(name) || name.startsWith("proxy-")) continue;
    const previous = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (Array.isArray(previous)) previous.push(value);
    else {
      const next = previous === undefined ? value : [previous, value];
      // Assigning `__proto__` would set the prototype; define it as a property instead.
      if (name === "__proto__") {
        Object.defineProperty(headers, name, {
          value: next,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else headers[name] = next;
    }
  }
  const declaredLength =
    lengths > 0 && declared !== undefined && LENGTH.test(declared) ? Number(declared) : undefined;
  return { status, headers, declaredLength };
}
