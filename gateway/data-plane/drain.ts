// Stopping a listener for shutdown. Node's close() stops accepting and closes the keep-alive
// connections idle at that moment; one that finishes its last response later would stay open until
// the client's or the server's keep-alive timeout (seconds), holding the exit. So idle connections
// are closed again every few milliseconds until the listener has closed.

import type { Server } from "node:http";

const IDLE_SWEEP_MS = 50;

/** Stops accepting; resolves once every connection has ended. */
export function stopAccepting(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  return closed.finally(() => clearInterval(sweep));
}
