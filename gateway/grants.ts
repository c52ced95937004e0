// The gateway's side of app grants (runtime/capabilities/grants.ts): one loop over the registry
// (the admin API's body is in schemas.ts) for the checks of a change, the stored record (read through each grant's upgrade) and the app view.

import { GRANTS, type GrantContext, GrantRefused, type Grants } from "../runtime/grants.ts";
import { GATEWAY_ERRORS, GatewayError, type GatewayErrorCode } from "./errors.ts";

/** Every grant field of `source` (a stored record, a parsed body), each a grant's value or left out. */
export function pickGrants(source: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const g of GRANTS) if (source[g.field] !== undefined) out[g.field] = source[g.field];
  return out;
}

/** `fields` with every grant field, those it lacks at their initial value: what a record holds. */
export function completeGrants(fields: Readonly<Record<string, unknown>> | undefined): Grants {
  const out: Record<string, unknown> = {};
  for (const g of GRANTS) out[g.field] = fields?.[g.field] ?? g.initial;
  return Object.freeze(out);
}

/** The grants of a stored record (its grant fields among others), as of today's grants. */
export function storedGrants(stored: Readonly<Record<string, unknown>>): Grants {
  return completeGrants(upgradeGrants(stored) ?? pickGrants(stored));
}

/**
 * The grant fields of a record written before some grant existed, read as that grant says
 * (Grant.upgrade), or undefined when the record is current: what a store's migration rewrites.
 */
export function upgradeGrants(
  stored: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const g of GRANTS) {
    const changed = g.upgrade?.(out ?? stored);
    if (changed) out = { ...(out ?? pickGrants(stored)), ...changed };
  }
  return out;
}

/**
 * The grant fields a change names, checked by their capabilities for who asks: the values to
 * store, or a GatewayError with the capability's code.
 */
export function acceptGrants(
  body: Readonly<Record<string, unknown>>,
  ctx: GrantContext,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const g of GRANTS) {
    const value = body[g.field];
    if (value === undefined) continue;
    try {
      out[g.field] = g.accept(value, ctx);
    } catch (err) {
      if (err instanceof GrantRefused && err.code in GATEWAY_ERRORS)
        throw new GatewayError(err.code as GatewayErrorCode, err.message);
      throw err;
    }
  }
  return out;
}
