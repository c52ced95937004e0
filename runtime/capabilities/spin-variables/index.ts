// fermyon:spin/variables@2.0.0: Spin's variables, served from the app's variables and secrets
// (the same entries wasi:config/store serves), so a component built with Spin's SDKs reads its
// configuration here unchanged.
//
// Spin's names are lower case: letters, digits and single underscores, starting with a letter and
// not ending with an underscore (`api_key`). Anything else is `invalid-name`. A name is looked up
// as it is, then in upper case, so an app configured in environment style (`API_KEY`) serves a
// Spin guest's `get("api_key")` too. A name the app does not have is `undefined`.

import type { ConfigGrant } from "../config/index.ts";
import { config } from "../config/index.ts";
import type { Capability } from "../types.ts";

const SPIN_NAME = /^[a-z](?:[a-z0-9]|_(?!_))*(?<!_)$/;

type VariablesError = import("fermyon:spin/variables@2.0.0").Error;

/** A WIT `result` error: jco turns a thrown `{ payload }` into the `err` case. */
function reject(payload: VariablesError): never {
  throw { payload };
}

export const spinVariables: Capability<ConfigGrant, ConfigGrant> = {
  name: "spin-variables",
  docs: "runtime/capabilities/spin-variables/README.md",
  asyncImports: [],
  imports: ({ current }) => ({
    "fermyon:spin/variables": {
      get(name: string): string {
        if (!SPIN_NAME.test(name)) {
          reject({
            tag: "invalid-name",
            val: `"${name.slice(0, 64)}" is not a Spin variable name (lower-case letters, digits and single underscores, starting with a letter)`,
          });
        }
        const { entries } = current();
        const value = entries.get(name) ?? entries.get(name.toUpperCase());
        if (value === undefined)
          reject({ tag: "undefined", val: `the app has no variable or secret named ${name}` });
        return value;
      },
    } satisfies typeof import("fermyon:spin/variables@2.0.0"),
  }),
  // The same view of the app as wasi:config: its variables and secrets, merged.
  forApp: config.forApp,
  begin: (app) => app,
  idle: config.idle,
};
