/// <reference path="./fermyon-spin-rdbms-types.d.ts" />
declare module 'fermyon:spin/postgres@2.0.0' {
  export type ParameterValue = import('fermyon:spin/rdbms-types@2.0.0').ParameterValue;
  export type RowSet = import('fermyon:spin/rdbms-types@2.0.0').RowSet;
  export type Error = import('fermyon:spin/rdbms-types@2.0.0').Error;
  
  export class Connection implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Open a connection to the Postgres instance at `address`.
    */
    static open(address: string): Connection;
    /**
    * Query the database.
    */
    query(statement: string, params: Array<ParameterValue>): RowSet;
    /**
    * Execute command to the database.
    */
    execute(statement: string, params: Array<ParameterValue>): bigint;
    [Symbol.dispose](): void;
  }
}
