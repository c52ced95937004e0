// Real HTTP servers on loopback (127.0.0.1 unless told otherwise) for outbound tests: they count the connections they accept, so a
// test can show that a refused request never reached them.

import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createServer as createTcpServer } from "node:net";

export interface Upstream {
  url: string;
  port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A deterministic body of `size` bytes, and its SHA-256. */
export function bigBody(size: number): { chunk: (offset: number, length: number) => Buffer; sha256: string } {
  const chunk = (offset: number, length: number) => {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = ((offset + i) * 31 + ((offset + i) >> 11)) & 255;
    return out;
  };
  const hash = createHash("sha256");
  for (let off = 0; off < size; off += 65536) hash.update(chunk(off, Math.min(65536, size - off)));
  return { chunk, sha256: hash.digest("hex") };
}

async function listen(server: Server | ReturnType<typeof createTcpServer>, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

function track(server: { on(event: "connection", fn: (s: Socket) => void): unknown }) {
  const sockets = new Set<Socket>();
  let count = 0;
  server.on("connection", (s) => {
    count++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return {
    get count() {
      return count;
    },
    destroyAll() {
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * Routes: /hello; /big?size=n (streamed in 64 KiB chunks, no content-length); /redirect?to=<url>;
 * /slow?ms=n (headers after n ms); POST /echo (answers the body's length and SHA-256). `host` is the
 * loopback address it listens on (Linux answers all of 127.0.0.0/8).
 */
export async function startUpstream(host = "127.0.0.1"): Promise<Upstream> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    if (url.pathname === "/hello") {
      res.setHeader("content-type", "text/plain");
      res.end("hello from upstream\n");
    } else if (url.pathname === "/big") {
      const size = Number(url.searchParams.get("size") ?? 10 * 1024 * 1024);
      const { chunk } = bigBody(size);
      res.setHeader("content-type", "application/octet-stream");
      for (let off = 0; off < size; off += 65536) {
        if (!res.write(chunk(off, Math.min(65536, size - off)))) {
          await new Promise((r) => res.once("drain", r));
        }
      }
      res.end();
    } else if (url.pathname === "/redirect") {
      res.writeHead(302, { location: url.searchParams.get("to") ?? "/hello" });
      res.end();
    } else if (url.pathname === "/slow") {
      const timer = setTimeout(() => res.end("late\n"), Number(url.searchParams.get("ms") ?? 5000));
      res.on("close", () => clearTimeout(timer));
    } else if (url.pathname === "/echo") {
      const hash = createHash("sha256");
      let length = 0;
      for await (const chunk of req) {
        hash.update(chunk as Buffer);
        length += (chunk as Buffer).byteLength;
      }
      res.end(`${length} ${hash.digest("hex")}`);
    } else {
      res.statusCode = 404;
      res.end("not found\n");
    }
  });
  return serve(server, "http", host);
}

/** A TCP server that accepts and never answers: a TLS handshake with it never completes. */
export async function startSilentServer(): Promise<Upstream> {
  return serve(
    createTcpServer(() => {}),
    "https",
    "127.0.0.1",
  );
}

/** Listens on a free loopback port, counting connections, and closes them all on `close()`. */
async function serve(
  server: Parameters<typeof listen>[0],
  scheme: "http" | "https",
  host: string,
): Promise<Upstream> {
  const conns = track(server);
  const port = await listen(server, host);
  return {
    url: `${scheme}://${host}:${port}`,
    port,
    get connections() {
      return conns.count;
    },
    async close() {
      conns.destroyAll();
      await new Promise((r) => server.close(r));
    },
  };
}
