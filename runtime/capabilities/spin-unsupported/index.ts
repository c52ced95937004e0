// The interfaces of Spin's platform (fermyon:spin@2.0.0) that wasmgate does not back: LLM
// inferencing, outbound Redis, MQTT, PostgreSQL and MySQL. They are linked, so a component built
// for Spin's platform world deploys and runs, and each call answers with the interface's own error
// variant saying so, never a trap: a guest that handles errors keeps serving what it can.
//
// Every connection-based interface has a static `open` as its only way in, so `open` is the one
// function that can be called; the LLM interface's two functions both answer the error.

import type { Capability } from "../types.ts";

type LlmError = import("fermyon:spin/llm@2.0.0").Error;
type RedisError = import("fermyon:spin/redis@2.0.0").Error;
type MqttError = import("fermyon:spin/mqtt@2.0.0").Error;
type RdbmsError = import("fermyon:spin/rdbms-types@2.0.0").Error;

/** What each call answers: the interface's name, so a log line says which one a guest needed. */
export function unsupported(iface: string): string {
  return `${iface} is not supported on this gateway`;
}

/** A WIT `result` error: jco turns a thrown `{ payload }` into the `err` case. */
function reject(payload: LlmError | RedisError | MqttError | RdbmsError): never {
  throw { payload };
}

/** A resource whose only constructor, `open`, answers the interface's `other` error. */
function refusingConnection(iface: string, error: (message: string) => RedisError | MqttError | RdbmsError) {
  return class Connection {
    private constructor() {}
    static open(): Connection {
      reject(error(unsupported(iface)));
    }
  };
}

export function createUnsupportedImports() {
  const other = (val: string) => ({ tag: "other", val }) as const;
  return {
    "fermyon:spin/llm": {
      infer(): never {
        reject({ tag: "runtime-error", val: unsupported("fermyon:spin/llm") });
      },
      generateEmbeddings(): never {
        reject({ tag: "runtime-error", val: unsupported("fermyon:spin/llm") });
      },
    },
    "fermyon:spin/redis": { Connection: refusingConnection("fermyon:spin/redis", other) },
    "fermyon:spin/mqtt": { Connection: refusingConnection("fermyon:spin/mqtt", other) },
    "fermyon:spin/postgres": { Connection: refusingConnection("fermyon:spin/postgres", other) },
    "fermyon:spin/mysql": { Connection: refusingConnection("fermyon:spin/mysql", other) },
    // Only types, which postgres and mysql use: a component importing either imports this too.
    "fermyon:spin/rdbms-types": {},
  };
}

/** Spin's LLM, Redis, MQTT, PostgreSQL and MySQL interfaces, linked and answering "not supported". */
export const spinUnsupported: Capability<undefined, undefined> = {
  name: "spin-unsupported",
  docs: "runtime/capabilities/spin-unsupported/README.md",
  asyncImports: [],
  imports: () => createUnsupportedImports(),
  forApp: () => undefined,
  begin: () => undefined,
  idle: undefined,
};
