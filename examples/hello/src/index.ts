import { Fields, OutgoingBody, OutgoingResponse, ResponseOutparam } from "wasi:http/types@0.2.10";

const encoder = new TextEncoder();

export const incomingHandler = {
  handle(request: any, responseOut: any) {
    const path = request.pathWithQuery() ?? "/";
    const headers = Fields.fromList([["content-type", encoder.encode("text/plain; charset=utf-8")]]);
    const response = new OutgoingResponse(headers);
    response.setStatusCode(200);
    const body = response.body();
    ResponseOutparam.set(responseOut, { tag: "ok", val: response });
    const stream = body.write();
    stream.blockingWriteAndFlush(encoder.encode(`Hello from wasmgate! You asked for ${path}\n`));
    stream[Symbol.dispose]();
    OutgoingBody.finish(body, undefined);
  },
};
