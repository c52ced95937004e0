// Messages between the main thread and guest workers.

import type { ComponentInfo } from "./component-info.ts";
import type { RuntimeErrorCode } from "./errors.ts";

export interface WireDeployment {
  /** Identifies the compiled artifact (its digest); pools are keyed by it. */
  key: string;
  dir: string;
  info: ComponentInfo;
}

export interface WireRequest {
  method: string;
  pathWithQuery: string;
  scheme: "http" | "https";
  authority: string;
  headers: [string, string][];
  body: Uint8Array | undefined;
}

export type ToWorker =
  | {
      type: "invoke";
      id: number;
      deployment: WireDeployment;
      request: WireRequest;
      limits: { maxInstances: number; maxUses: number };
    }
  | { type: "evict"; key: string };

export type FromWorker =
  | {
      type: "response";
      id: number;
      status: number;
      headers: [string, string][];
      body: Uint8Array<ArrayBuffer>;
    }
  | { type: "head"; id: number; status: number; headers: [string, string][] }
  | { type: "chunk"; id: number; data: Uint8Array<ArrayBuffer> }
  | { type: "end"; id: number }
  | { type: "abort"; id: number; message: string }
  | { type: "error"; id: number; code: RuntimeErrorCode; message: string }
  | { type: "log"; id: number; stream: "stdout" | "stderr"; line: string };
