// What an app is granted, capability by capability. A capability that needs a grant declares one
// field of the app (`buckets`, `allowedOutboundHosts`): its schema, its value for a new app, how
// the gateway checks a change, and its push flag. The admin API's app body, both state stores,
// the app view, the route the data plane hands the runtime and `deploy-cli push` loop over the
// registry's grants (./index.ts); none of them names a field.

import type { z } from "zod";

/** zod, passed in by the gateway: worker threads load the registry too, and zod costs them 50 ms. */
export type Zod = typeof z;

/** An app's grants, keyed by field. A field left out has its grant's `initial` value. */
export type Grants = Readonly<Record<string, unknown>>;

/** Who asks for a grant change, as the gateway's check sees it. */
export interface GrantContext {
  /** The operator may grant anything; a tenant only within what the operator opened to it. */
  role: "operator" | "tenant";
  /** The app's tenant (undefined for the built-in default tenant, which is the operator's). */
  tenant: { name: string; allowPrivateNetwork: readonly string[] } | undefined;
}

/** A refused grant change: a gateway error code (listed in gateway/errors.ts) and why. */
export class GrantRefused extends Error {
  override readonly name = "GrantRefused";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** One field an app is granted. */
export interface Grant<T = unknown> {
  /** The field's name in the admin API, the app record, the manifest and the route. */
  readonly field: string;
  /** What one line of the reference says it grants. */
  readonly summary: string;
  /** Validates the field of a `PUT /v1/apps/:app` body. */
  schema(zod: Zod): z.ZodType<T>;
  /** A new app's value. */
  readonly initial: T;
  /**
   * The gateway's check of a change, after the schema: returns the value to store (sorted out,
   * without repeats) or throws GrantRefused.
   */
  accept(value: T, ctx: GrantContext): T;
  /** `deploy-cli push --<flag> <value>` (repeatable): the strings become the field's value. */
  readonly cli: { flag: string; value: string; help: string; parse(values: string[]): T };
  /**
   * A stored record from before this grant existed: the grant fields to read it with instead
   * (this one's among them), or undefined when the record is current. Both state stores read
   * every record through it, and rewrite old ones once when they open.
   */
  upgrade?(stored: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined;
}

/** The value of `grant` in `grants`, or its initial value. */
export function grantOf<T>(grant: Grant<T>, grants: Grants): T {
  return (grants[grant.field] as T | undefined) ?? grant.initial;
}

/** Strings without repeats, in the order first given. */
export function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}
