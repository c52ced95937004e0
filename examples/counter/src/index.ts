// A per-path visit counter on wasi:keyvalue: every request atomically increments the counter of
// its path in the app's `default` bucket and answers with the new value.

import { Fields, OutgoingBody, OutgoingResponse, ResponseOutparam } from "wasi:http/types@0.2.10";
import { increment } from "wasi:keyvalue/atomics@0.2.0-draft2";
import { open } from "wasi:keyvalue/store@0.2.0-draft2";

const encoder = new TextEncoder();

function respond(responseOut: any, status: number, text: string) {
  const response = new OutgoingResponse(
    Fields.fromList([["content-type", encoder.encode("text/plain; charset=utf-8")]]),
  );
  response.setStatusCode(status);
  const body = response.body();
  ResponseOutparam.set(responseOut, { tag: "ok", val: response });
  const stream = body.write();
  stream.blockingWriteAndFlush(encoder.encode(text));
  stream[Symbol.dispose]();
  OutgoingBody.finish(body, undefined);
}

export const incomingHandler = {
  handle(request: any, responseOut: any) {
    const path = (request.pathWithQuery() ?? "/").split("?")[0];
    try {
      const count = increment(open("default"), `visits:${path}`, 1n);
      respond(responseOut, 200, `${path} has been visited ${count} time${count === 1n ? "" : "s"}\n`);
    } catch (err: any) {
      // A store error arrives as the WIT error variant (err.payload), never as a trap.
      const e = err?.payload ?? err;
      const detail = e?.tag === "other" ? e.val : (e?.tag ?? String(err));
      // Goes to the gateway's log, tagged with this request's id.
      console.error(`counter ${path}: ${detail}`);
      respond(responseOut, 503, `the counter is unavailable: ${detail}\n`);
    }
  },
};
