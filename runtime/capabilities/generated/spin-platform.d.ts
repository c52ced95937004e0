/// <reference path="./interfaces/fermyon-spin-key-value.d.ts" />
/// <reference path="./interfaces/fermyon-spin-llm.d.ts" />
/// <reference path="./interfaces/fermyon-spin-mqtt.d.ts" />
/// <reference path="./interfaces/fermyon-spin-mysql.d.ts" />
/// <reference path="./interfaces/fermyon-spin-postgres.d.ts" />
/// <reference path="./interfaces/fermyon-spin-rdbms-types.d.ts" />
/// <reference path="./interfaces/fermyon-spin-redis.d.ts" />
/// <reference path="./interfaces/fermyon-spin-sqlite.d.ts" />
/// <reference path="./interfaces/fermyon-spin-variables.d.ts" />
declare module 'wasmgate:guest/spin-platform@0.1.0' {
  export type * as FermyonSpinKeyValue200 from 'fermyon:spin/key-value@2.0.0'; // import fermyon:spin/key-value@2.0.0
  export type * as FermyonSpinLlm200 from 'fermyon:spin/llm@2.0.0'; // import fermyon:spin/llm@2.0.0
  export type * as FermyonSpinMqtt200 from 'fermyon:spin/mqtt@2.0.0'; // import fermyon:spin/mqtt@2.0.0
  export type * as FermyonSpinMysql200 from 'fermyon:spin/mysql@2.0.0'; // import fermyon:spin/mysql@2.0.0
  export type * as FermyonSpinPostgres200 from 'fermyon:spin/postgres@2.0.0'; // import fermyon:spin/postgres@2.0.0
  export type * as FermyonSpinRdbmsTypes200 from 'fermyon:spin/rdbms-types@2.0.0'; // import fermyon:spin/rdbms-types@2.0.0
  export type * as FermyonSpinRedis200 from 'fermyon:spin/redis@2.0.0'; // import fermyon:spin/redis@2.0.0
  export type * as FermyonSpinSqlite200 from 'fermyon:spin/sqlite@2.0.0'; // import fermyon:spin/sqlite@2.0.0
  export type * as FermyonSpinVariables200 from 'fermyon:spin/variables@2.0.0'; // import fermyon:spin/variables@2.0.0
}
