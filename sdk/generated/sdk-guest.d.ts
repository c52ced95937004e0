/// <reference path="./interfaces/wasi-cli-stderr.d.ts" />
/// <reference path="./interfaces/wasi-cli-stdin.d.ts" />
/// <reference path="./interfaces/wasi-cli-stdout.d.ts" />
/// <reference path="./interfaces/wasi-clocks-monotonic-clock.d.ts" />
/// <reference path="./interfaces/wasi-clocks-wall-clock.d.ts" />
/// <reference path="./interfaces/wasi-config-store.d.ts" />
/// <reference path="./interfaces/wasi-http-incoming-handler.d.ts" />
/// <reference path="./interfaces/wasi-http-outgoing-handler.d.ts" />
/// <reference path="./interfaces/wasi-http-types.d.ts" />
/// <reference path="./interfaces/wasi-io-error.d.ts" />
/// <reference path="./interfaces/wasi-io-poll.d.ts" />
/// <reference path="./interfaces/wasi-io-streams.d.ts" />
/// <reference path="./interfaces/wasi-keyvalue-atomics.d.ts" />
/// <reference path="./interfaces/wasi-keyvalue-batch.d.ts" />
/// <reference path="./interfaces/wasi-keyvalue-store.d.ts" />
/// <reference path="./interfaces/wasi-random-random.d.ts" />
/// <reference path="./interfaces/wasmgate-kv-ext.d.ts" />
declare module 'wasmgate:guest/sdk-guest@0.1.0' {
  export type * as WasiCliStderr0210 from 'wasi:cli/stderr@0.2.10'; // import wasi:cli/stderr@0.2.10
  export type * as WasiCliStdin0210 from 'wasi:cli/stdin@0.2.10'; // import wasi:cli/stdin@0.2.10
  export type * as WasiCliStdout0210 from 'wasi:cli/stdout@0.2.10'; // import wasi:cli/stdout@0.2.10
  export type * as WasiClocksMonotonicClock0210 from 'wasi:clocks/monotonic-clock@0.2.10'; // import wasi:clocks/monotonic-clock@0.2.10
  export type * as WasiClocksWallClock0210 from 'wasi:clocks/wall-clock@0.2.10'; // import wasi:clocks/wall-clock@0.2.10
  export type * as WasiConfigStore020Draft from 'wasi:config/store@0.2.0-draft'; // import wasi:config/store@0.2.0-draft
  export type * as WasiHttpOutgoingHandler0210 from 'wasi:http/outgoing-handler@0.2.10'; // import wasi:http/outgoing-handler@0.2.10
  export type * as WasiHttpTypes0210 from 'wasi:http/types@0.2.10'; // import wasi:http/types@0.2.10
  export type * as WasiIoError0210 from 'wasi:io/error@0.2.10'; // import wasi:io/error@0.2.10
  export type * as WasiIoPoll0210 from 'wasi:io/poll@0.2.10'; // import wasi:io/poll@0.2.10
  export type * as WasiIoStreams0210 from 'wasi:io/streams@0.2.10'; // import wasi:io/streams@0.2.10
  export type * as WasiKeyvalueAtomics020Draft2 from 'wasi:keyvalue/atomics@0.2.0-draft2'; // import wasi:keyvalue/atomics@0.2.0-draft2
  export type * as WasiKeyvalueBatch020Draft2 from 'wasi:keyvalue/batch@0.2.0-draft2'; // import wasi:keyvalue/batch@0.2.0-draft2
  export type * as WasiKeyvalueStore020Draft2 from 'wasi:keyvalue/store@0.2.0-draft2'; // import wasi:keyvalue/store@0.2.0-draft2
  export type * as WasiRandomRandom0210 from 'wasi:random/random@0.2.10'; // import wasi:random/random@0.2.10
  export type * as WasmgateKvExt010 from 'wasmgate:kv/ext@0.1.0'; // import wasmgate:kv/ext@0.1.0
  export * as incomingHandler from 'wasi:http/incoming-handler@0.2.10'; // export wasi:http/incoming-handler@0.2.10
}
