// deploy-cli vars set|unset|list and secrets put|delete|list: what an app's guests read through
// wasi:config/store. A secret's value is sent once and never printed; listings show names only.

import { readFileSync } from "node:fs";
import type { SecretView } from "../../gateway/schemas.ts";
import { appOf } from "../build/manifest.ts";
import { createClient } from "../client.ts";
import { type Command, remoteCommon } from "../command.ts";
import { usage } from "../errors.ts";
import { table } from "../format.ts";

export interface ConfigCommon {
  gateway: string;
  token: string | undefined;
  tenant?: string | undefined;
  json: boolean;
}

/** A value from the argument, from --file, or from stdin when neither is given and it is piped. */
function valueFrom(arg: string | undefined, file: string | undefined, what: string): string {
  if (arg !== undefined && file !== undefined) throw usage(`${what} takes a value or --file, not both`);
  if (arg !== undefined) return arg;
  if (file !== undefined) return readFileSync(file, "utf8");
  if (!process.stdin.isTTY) {
    const piped = readFileSync(0, "utf8").replace(/\r?\n$/, "");
    if (piped !== "") return piped;
  }
  throw usage(`${what} needs a value: as an argument, with --file <path>, or on stdin`);
}

export async function configCommand(
  kind: "vars" | "secrets",
  action: string | undefined,
  args: string[],
  values: Record<string, unknown>,
  common: ConfigCommon,
): Promise<void> {
  const app = await appOf(values);
  if (!app) throw usage(`${kind} commands need --app <name> (or a wasmgate.json here or above)`);
  const base = `/v1/apps/${encodeURIComponent(app)}/${kind}`;
  const client = createClient(common);
  const out = (text: string) => process.stdout.write(text);
  const name = args[0];
  const path = () => {
    if (name === undefined) throw usage(`${kind} ${action} needs a name`);
    return `${base}/${encodeURIComponent(name)}`;
  };

  if (kind === "vars") {
    switch (action) {
      case "set": {
        const target = path();
        const value = valueFrom(args[1], values.file as string | undefined, "vars set");
        await client.putJson(target, { value });
        out(common.json ? `${JSON.stringify({ name, value })}\n` : `Set ${name}\n`);
        return;
      }
      case "unset":
        await client.delete(path());
        out(common.json ? `${JSON.stringify({ name, unset: true })}\n` : `Unset ${name}\n`);
        return;
      case "list": {
        const { vars } = await client.get<{ vars: Record<string, string> }>(base);
        out(
          common.json
            ? `${JSON.stringify({ vars })}\n`
            : Object.entries(vars)
                .map(([n, v]) => `${n}=${v}\n`)
                .join(""),
        );
        if (Object.keys(vars).length === 0 && !common.json)
          process.stderr.write(`${app} has no variables.\n`);
        return;
      }
      default:
        throw usage(`unknown vars command "${action ?? ""}"; use set, unset or list`);
    }
  }
  switch (action) {
    case "put": {
      const target = path();
      const value = valueFrom(args[1], values.file as string | undefined, "secrets put");
      const { secret } = await client.putJson<{ secret: SecretView }>(target, { value });
      out(common.json ? `${JSON.stringify({ secret })}\n` : `Stored secret ${secret.name}\n`);
      return;
    }
    case "delete":
      await client.delete(path());
      out(common.json ? `${JSON.stringify({ name, deleted: true })}\n` : `Deleted secret ${name}\n`);
      return;
    case "list": {
      const { secrets } = await client.get<{ secrets: SecretView[] }>(base);
      out(
        common.json
          ? `${JSON.stringify({ secrets })}\n`
          : table(secrets.map((s) => [s.name, `updated ${s.updatedAt}`])),
      );
      if (secrets.length === 0 && !common.json) process.stderr.write(`${app} has no secrets.\n`);
      return;
    }
    default:
      throw usage(`unknown secrets command "${action ?? ""}"; use put, delete or list`);
  }
}

const configOptions = { app: { type: "string" }, file: { type: "string" } } as const;

export const vars: Command = {
  name: "vars",
  summary: "set, unset and list an app's variables",
  usage: "vars set|unset|list … --app <name>",
  subcommands: ["set", "unset", "list"],
  details: `  vars set <name> <value> | --file <path> --app <name>
  vars unset <name> --app <name>
  vars list --app <name>
The app's variables, read by its guests through wasi:config/store (env.<name> with the SDK); a
change applies to the next request.`,
  examples: ["deploy-cli vars set region eu-west --app api", "deploy-cli vars list --app api --json"],
  remote: true,
  options: configOptions,
  run: (ctx) => configCommand("vars", ctx.args[0], ctx.args.slice(1), ctx.values, remoteCommon(ctx)),
};

export const secrets: Command = {
  name: "secrets",
  summary: "store, delete and list an app's secrets",
  usage: "secrets put|delete|list … --app <name>",
  subcommands: ["put", "delete", "list"],
  details: `  secrets put <name> [<value> | --file <path>] --app <name>    (no value: read from stdin)
  secrets delete <name> --app <name>
  secrets list --app <name>
The app's secrets: stored encrypted, read by its guests like variables, never shown again
(listings give names only).`,
  examples: [
    'printf %s "$API_TOKEN" | deploy-cli secrets put api_token --app api',
    "deploy-cli secrets list --app api",
  ],
  remote: true,
  options: configOptions,
  run: (ctx) => configCommand("secrets", ctx.args[0], ctx.args.slice(1), ctx.values, remoteCommon(ctx)),
};
