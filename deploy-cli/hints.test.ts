// Every refusal a command can meet has a hint, or is listed in NO_HINT with the reason.

import assert from "node:assert/strict";
import { it } from "node:test";
import { GATEWAY_ERRORS } from "../gateway/errors.ts";
import { RUNTIME_ERRORS } from "../runtime/errors.ts";
import { CLI_ERRORS } from "./errors.ts";
import { HINTS, hintFor, NO_HINT } from "./hints.ts";

it("has a hint for every gateway code and every deploy-time component code", () => {
  const codes = [
    ...Object.keys(GATEWAY_ERRORS).filter((c) => c !== "ERR_VALIDATION"),
    ...Object.keys(RUNTIME_ERRORS).filter((c) => c.startsWith("ERR_COMPONENT_")),
  ];
  const missing = codes.filter((c) => HINTS[c] === undefined && NO_HINT[c] === undefined);
  assert.deepEqual(missing, [], "codes with neither a hint nor a reason for none");
  const known = [...codes, ...Object.keys(CLI_ERRORS)];
  for (const c of Object.keys(HINTS)) assert.ok(known.includes(c), `${c}: a hint for a code no one answers`);
  assert.ok(HINTS.ERR_TYPE_CHECK_FAILED?.includes("--no-check"), "the type check's hint names --no-check");
});

it("hints a validation error by what it refused", () => {
  const appName = hintFor(
    "ERR_VALIDATION",
    "an app name is 1-63 lower-case letters, digits or dashes, not starting or ending with a dash",
  );
  assert.match(appName ?? "", /my-app/);
  assert.match(hintFor("ERR_VALIDATION", "a bucket name is 1-63 lower-case letters") ?? "", /user_sessions/);
  assert.equal(hintFor("ERR_VALIDATION", "limits.cpuMs must be a number"), undefined);
});
