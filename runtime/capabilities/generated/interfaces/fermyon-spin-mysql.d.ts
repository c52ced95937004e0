/// <reference path="./fermyon-spin-rdbms-types.d.ts" />
declare module 'fermyon:spin/mysql@2.0.0' {
  export type ParameterValue = import('fermyon:spin/rdbms-types@2.0.0').ParameterValue;
  export type RowSet = import('fermyon:spin/rdbms-types@2.0.0').RowSet;
  export type Error = import('fermyon:spin/rdbms-types@2.0.0').Error;
  
  export class Connection implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Open a connection to the MySQL instance at `address`.
    */
    static open(address: string): Connection;
    /**
    * query the database: select
    */
    query(statement: string, params: Array<ParameterValue>): RowSet;
    /**
    * execute command to the database: insert, update, delete
    */
    execute(statement: string, params: Array<ParameterValue>): void;
    [Symbol.dispose](): void;
  }
}
