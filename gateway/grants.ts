// The gateway's side of app grants (runtime/capabilities/grants.ts): one loop over the registry
// (the admin API's body is in schemas.ts) for the checks of a change, the stored record and the app view.

import { GRANTS, type GrantContext, GrantRefused, type Grants } from "../runtime/grants.ts";
import { GATEWAY_ERRORS, GatewayError, type GatewayErrorCode } from "./errors.ts";

/** Every grant field of `source` (a stored record, a parsed body), each a grant's value or left out. */
export function pickGrants(source: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const g of GRANTS) if (source[g.field] !== undefined) out[g.field] = source[g.field];
  return out;
}

/** `stored` with every grant field, those it lacks at their initial value: what a record holds. */
export function completeGrants(stored: Readonly<Record<string, unknown>> | undefined): Grants {
  const out: Record<string, unknown> = {};
  for (const g of GRANTS) out[g.field] = stored?.[g.field] ?? g.initial;
  return Object.freeze(out);
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
