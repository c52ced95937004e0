// Runs deploy-time transpiles off the main thread: a 14 MB component takes about a second.

import { parentPort } from "node:worker_threads";
import { isRuntimeErrorCode } from "../errors.ts";
import type { PrepareRequest } from "../protocol.ts";
import { prepareComponent } from "./prepare.ts";

parentPort!.on("message", async (msg: PrepareRequest) => {
  try {
    const info = await prepareComponent(msg.bytes, msg.outDir, msg.limits, msg.host);
    parentPort!.postMessage({ id: msg.id, info });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    parentPort!.postMessage({
      id: msg.id,
      error: {
        code: isRuntimeErrorCode(code) ? code : "ERR_COMPONENT_INVALID",
        message: err instanceof Error ? err.message : String(err),
      },
    });
  }
});
