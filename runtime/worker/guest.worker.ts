// A long-lived worker thread running guests (see app-pool.ts for what it keeps loaded, invoke.ts
// for one request). Guests that wait (timers, body reads, streaming writes, store calls) are
// suspended through JSPI, so one worker serves many requests at once; guest CPU time is metered
// into a slot the main thread's watchdog reads. This file is the message loop.

import type { ToWorker } from "../protocol.ts";
import { deployments, ownerOf, pools } from "./app-pool.ts";
import { port, post, setGatewayListeners, workerConfig } from "./env.ts";
import { contexts, fail, invoke, openContext, running, warm } from "./invoke.ts";
import { addRoute, configure, forgetDeployment, listen, resetRoutes, unlisten } from "./listener.ts";

if (workerConfig.front) configure(workerConfig.front);

port.on("message", (batch: ToWorker[]) => {
  for (const msg of batch) receive(msg);
});

function receive(msg: ToWorker): void {
  switch (msg.type) {
    case "register":
      deployments.set(msg.deployment.key, msg.deployment);
      break;
    case "context":
      if (msg.replaces !== undefined) contexts.delete(msg.replaces);
      contexts.set(msg.id, openContext(msg.limits, msg.access));
      break;
    case "contexts-reset":
      contexts.clear();
      break;
    case "listeners":
      setGatewayListeners(msg.listeners);
      break;
    case "invoke": {
      const context = contexts.get(msg.context);
      if (context) void invoke(msg.id, msg.deployment, msg.request, context);
      else fail(msg.id, "ERR_RUNTIME_ARTIFACT_MISSING", `context ${msg.context} is not known in this worker`);
      break;
    }
    case "body":
      running.get(msg.id)?.body?.push(msg.data);
      break;
    case "body-end":
      running.get(msg.id)?.body?.end(msg.error);
      break;
    case "ack":
      running.get(msg.id)?.sink.ack(msg.bytes);
      break;
    case "cancel":
      running.get(msg.id)?.cancel(msg.reason);
      break;
    case "warm":
      void warm(msg.id, msg.key, msg.limits, ownerOf(msg.tenant, msg.app));
      break;
    case "front":
      configure(msg.front);
      break;
    case "listen":
      listen();
      break;
    case "unlisten":
      unlisten();
      break;
    case "front-route":
      addRoute(msg.host, msg.route);
      break;
    case "front-reset":
      resetRoutes();
      break;
    case "evict":
      forgetDeployment(msg.key);
      deployments.delete(msg.key);
      for (const [key, pool] of pools) {
        if (key.startsWith(`${msg.key}:`)) {
          pool.drop();
          pools.delete(key);
        }
      }
      break;
  }
}

post({ type: "ready" });
