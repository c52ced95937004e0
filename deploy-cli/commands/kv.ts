// deploy-cli kv get|put|delete|list: the same data an app's guests see.

import { readFileSync } from "node:fs";
import { appOf } from "../build/manifest.ts";
import { createClient } from "../client.ts";
import { type Command, remoteCommon } from "../command.ts";
import { usage } from "../errors.ts";

export interface KvCommon {
  gateway: string;
  token: string | undefined;
  tenant?: string | undefined;
  json: boolean;
}

const METADATA_HEADER = "x-wasmgate-metadata";
const DEFAULT_BUCKET = "default";

export async function kvCommand(
  action: string | undefined,
  args: string[],
  values: Record<string, unknown>,
  common: KvCommon,
): Promise<void> {
  const app = await appOf(values);
  if (!app) throw usage("kv commands need --app <name> (or a wasmgate.json here or above)");
  const bucket = ((values.bucket as string[] | undefined) ?? [])[0] ?? DEFAULT_BUCKET;
  const base = `/v1/apps/${encodeURIComponent(app)}/kv/${encodeURIComponent(bucket)}`;
  const client = createClient(common);
  const out = (text: string) => process.stdout.write(text);

  switch (action) {
    case "get": {
      const key = args[0];
      if (key === undefined) throw usage("kv get needs a key");
      const { bytes, headers } = await client.getBytes(`${base}/value?key=${encodeURIComponent(key)}`);
      const raw = headers[METADATA_HEADER];
      const metadata = typeof raw === "string" ? decodeURIComponent(raw) : undefined;
      if (common.json) {
        const text = utf8(bytes);
        out(
          `${JSON.stringify({
            key,
            value: text ?? Buffer.from(bytes).toString("base64"),
            encoding: text === undefined ? "base64" : "utf-8",
            metadata: metadata === undefined ? null : jsonOrText(metadata),
          })}\n`,
        );
      } else {
        process.stdout.write(bytes);
        // The value byte for byte; a terminal also gets the line ended, so the prompt starts anew.
        if (process.stdout.isTTY && bytes.at(-1) !== 0x0a) out("\n");
      }
      return;
    }
    case "put": {
      const key = args[0];
      const file = values.file as string | undefined;
      const text = args[1];
      if (key === undefined || (text === undefined) === (file === undefined)) {
        throw usage("kv put needs a key and either a value or --file <path>");
      }
      const value = file !== undefined ? new Uint8Array(readFileSync(file)) : new TextEncoder().encode(text);
      const ttl = values.ttl as string | undefined;
      if (ttl !== undefined && !/^\d+$/.test(ttl)) throw usage(`--ttl takes whole seconds, not "${ttl}"`);
      const metadata = values.metadata as string | undefined;
      await client.putBytes(
        `${base}/value?key=${encodeURIComponent(key)}${ttl ? `&ttl=${ttl}` : ""}`,
        value,
        metadata !== undefined ? { [METADATA_HEADER]: encodeURIComponent(metadata) } : {},
      );
      out(
        common.json
          ? `${JSON.stringify({ key, bytes: value.byteLength })}\n`
          : `Stored ${key} (${value.byteLength} bytes)\n`,
      );
      return;
    }
    case "delete": {
      const key = args[0];
      if (key === undefined) throw usage("kv delete needs a key");
      await client.delete(`${base}/value?key=${encodeURIComponent(key)}`);
      out(common.json ? `${JSON.stringify({ key, deleted: true })}\n` : `Deleted ${key}\n`);
      return;
    }
    case "list": {
      const prefix = values.prefix as string | undefined;
      const keys: string[] = [];
      let cursor: string | null = null;
      // Every page: a listing is complete only when no cursor comes back.
      do {
        const query = new URLSearchParams();
        if (prefix !== undefined) query.set("prefix", prefix);
        if (cursor) query.set("cursor", cursor);
        const page: { keys: string[]; cursor: string | null } = await client.get(`${base}/keys?${query}`);
        keys.push(...page.keys);
        cursor = page.cursor;
      } while (cursor);
      out(common.json ? `${JSON.stringify({ keys })}\n` : keys.map((k) => `${k}\n`).join(""));
      if (keys.length === 0 && !common.json) {
        process.stderr.write(
          `No keys${prefix ? ` starting with "${prefix}"` : ""} in the bucket ${bucket} of ${app}.\n`,
        );
      }
      return;
    }
    default:
      throw usage(`unknown kv command "${action ?? ""}"; use get, put, delete or list`);
  }
}

export const kv: Command = {
  name: "kv",
  summary: "read and write an app's key-value data",
  usage: "kv get|put|delete|list … --app <name> [--bucket <b>]",
  subcommands: ["get", "put", "delete", "list"],
  details: `  kv get <key> --app <name> [--bucket <b>]
  kv put <key> <value> | --file <path> --app <name> [--bucket <b>] [--ttl <s>] [--metadata <text>]
  kv delete <key> --app <name> [--bucket <b>]
  kv list --app <name> [--bucket <b>] [--prefix <p>]
The same data the app's guests see (bucket "default" unless --bucket names another the app is
granted). kv get prints the value as it is; with --json, the value as text (base64 when it is
not UTF-8) with its metadata.`,
  examples: [
    "deploy-cli kv put greeting hello --app counter --ttl 3600",
    "deploy-cli kv get greeting --app counter",
    "deploy-cli kv list --app counter --prefix visits:",
  ],
  remote: true,
  options: {
    app: { type: "string" },
    bucket: { type: "string", multiple: true },
    prefix: { type: "string" },
    ttl: { type: "string" },
    metadata: { type: "string" },
    file: { type: "string" },
  },
  run: (ctx) => kvCommand(ctx.args[0], ctx.args.slice(1), ctx.values, remoteCommon(ctx)),
};

/** The bytes as text when they are well-formed UTF-8, else undefined. */
function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Metadata as the JSON it holds (the SDK stores JSON), or the text itself. */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
