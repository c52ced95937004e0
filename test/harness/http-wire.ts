// HTTP/1.1 on a raw socket, for tests that must see exactly what the gateway wrote: requests are
// sent as written (pipelined if several), and responses are parsed strictly (RFC 9112), so one
// forged or swallowed response shows up as a count or a parse error, not as a client's guess.

import { connect } from "node:net";

export interface WireResponse {
  status: number;
  /** Lower-case names, in order, repeated ones kept. */
  headers: [string, string][];
  body: Buffer;
  header(name: string): string | undefined;
}

const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [\t\x20-\x7e\x80-\xff]*$/;
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*$/;

export class WireParseError extends Error {
  override readonly name = "WireParseError";
}

/**
 * Parses every response in `bytes` strictly: each is framed by Content-Length or chunked
 * Transfer-Encoding (never both), or has no body for HEAD, 204 and 304; anything left over that
 * is not a whole response throws. `methods` are the requests' methods, in order.
 */
export function parseResponses(bytes: Buffer, methods: readonly string[]): WireResponse[] {
  const out: WireResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf("\r\n\r\n", at, "latin1");
    if (end === -1) throw new WireParseError(`an incomplete head after ${out.length} responses`);
    const lines = bytes.subarray(at, end).toString("latin1").split("\r\n");
    const statusLine = STATUS_LINE.exec(lines[0]!);
    if (!statusLine) throw new WireParseError(`not a status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const status = Number(statusLine[1]);
    const headers: [string, string][] = [];
    for (const line of lines.slice(1)) {
      const field = FIELD.exec(line);
      if (!field) throw new WireParseError(`not a header field: ${JSON.stringify(line.slice(0, 80))}`);
      headers.push([field[1]!.toLowerCase(), field[2]!]);
    }
    const values = (name: string) => headers.filter(([n]) => n === name).map(([, v]) => v);
    at = end + 4;
    const lengths = values("content-length");
    const encodings = values("transfer-encoding");
    if (lengths.length > 0 && encodings.length > 0) {
      throw new WireParseError("a response with both Content-Length and Transfer-Encoding");
    }
    let body: Buffer;
    const method = methods[out.length] ?? "GET";
    if (method === "HEAD" || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (encodings.length > 0) {
      if (encodings.join(",").trim().toLowerCase() !== "chunked") {
        throw new WireParseError(`an unexpected Transfer-Encoding: ${encodings.join(",")}`);
      }
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = bytes.indexOf("\r\n", at, "latin1");
        if (lineEnd === -1) throw new WireParseError("an incomplete chunk size");
        const sizeText = bytes.subarray(at, lineEnd).toString("latin1");
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new WireParseError(`a bad chunk size ${sizeText}`);
        const size = Number.parseInt(sizeText, 16);
        at = lineEnd + 2;
        if (size === 0) {
          if (bytes.subarray(at, at + 2).toString("latin1") !== "\r\n") {
            throw new WireParseError("trailer fields or no end after the last chunk");
          }
          at += 2;
          break;
        }
        if (at + size + 2 > bytes.length) throw new WireParseError("an incomplete chunk");
        chunks.push(bytes.subarray(at, at + size));
        if (bytes.subarray(at + size, at + size + 2).toString("latin1") !== "\r\n") {
          throw new WireParseError("a chunk not followed by CRLF");
        }
        at += size + 2;
      }
      body = Buffer.concat(chunks);
    } else if (lengths.length > 0) {
      if (lengths.length > 1 || !/^\d+$/.test(lengths[0]!)) {
        throw new WireParseError(`a bad Content-Length: ${lengths.join(", ")}`);
      }
      const length = Number(lengths[0]);
      if (at + length > bytes.length) throw new WireParseError("a body shorter than its Content-Length");
      body = bytes.subarray(at, at + length);
      at += length;
    } else {
      // Delimited only by the connection's end: on a kept-alive connection nothing could tell
      // where the next response begins.
      throw new WireParseError(`a ${status} response with neither Content-Length nor chunked framing`);
    }
    out.push({
      status,
      headers,
      body,
      header: (name) => headers.find(([n]) => n === name)?.[1],
    });
  }
  return out;
}

/**
 * Sends `requests` (each a whole request, as written) on one connection, one after another
 * without waiting, the last with `Connection: close`, and returns every byte the server sent
 * until it closed. (It does not half-close: Node's server drops the requests still queued then.)
 */
export function exchange(port: number, requests: readonly string[], timeoutMs = 10_000): Promise<Buffer> {
  const last = requests.at(-1)!.replace("\r\n", "\r\nConnection: close\r\n");
  const wire = Buffer.from([...requests.slice(0, -1), last].join(""), "latin1");
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(wire));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on("error", () => {
      // A reset after the answers: what arrived is what counts.
    });
  });
}

/** A request head for `exchange`: Host, the given headers, and a body with its Content-Length. */
export function rawRequest(
  method: string,
  host: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body, "latin1")}`);
  return `${lines.join("\r\n")}\r\n\r\n${body ?? ""}`;
}
