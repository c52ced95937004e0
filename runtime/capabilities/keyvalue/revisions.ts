// The revisions of wasi:keyvalue this gateway serves, and which one a component imports.
//
// jco links host imports by unversioned name (`wasi:keyvalue/batch`), so a component built
// against any revision links against whatever the host offers there, and one built against a
// revision the host does not serve traps at its first call with a JavaScript error about a value
// of the wrong shape. The version in the import name is not enough either: draft2 was published
// twice under one version. So the revision is decided at deploy from the component's own types,
// every function it imports from wasi:keyvalue compared with each revision's; anything else is
// refused there.

import type { ImportedInterface } from "../../component-types.ts";
import { RuntimeError } from "../../errors.ts";
import type { ComponentImports } from "../types.ts";
import { draft } from "./draft.ts";
import { draft2, draft2Early } from "./draft2.ts";
import type { KvRevision } from "./host.ts";

/** In order of preference: a component whose imports fit two revisions gets the first. */
export const KV_REVISIONS: readonly KvRevision[] = [draft2, draft2Early, draft];

/** What a component that imports no wasi:keyvalue (or was prepared before revisions) is linked to. */
export const DEFAULT_KV_REVISION: KvRevision = draft2;

const PACKAGE = "wasi:keyvalue/";

export function kvRevision(id: string | undefined): KvRevision {
  if (id === undefined) return DEFAULT_KV_REVISION;
  const revision = KV_REVISIONS.find((r) => r.id === id);
  // Recorded by a preparer that knew more revisions than this worker: linking anything else
  // would trap later, so the instance fails now.
  if (!revision) throw new Error(`the component was prepared for wasi:keyvalue revision ${id}, unknown here`);
  return revision;
}

function refuse(message: string): never {
  throw new RuntimeError(
    "ERR_COMPONENT_UNSUPPORTED_IMPORTS",
    `the component imports interfaces this gateway does not provide: ${message}`,
  );
}

/** The functions of `imported` that `revision` lacks or has in another shape. */
function mismatches(revision: KvRevision, imported: readonly ImportedInterface[]): string[] {
  const found: string[] = [];
  for (const i of imported) {
    const expected = revision.functions[i.unversioned.slice(PACKAGE.length)];
    for (const [name, shape] of i.functions) {
      if (expected?.[name] !== shape) found.push(`${i.name} \`${name}: ${shape}\``);
    }
  }
  return found;
}

const served = () => [...new Set(KV_REVISIONS.map((r) => `wasi:keyvalue@${r.version}`))].join(" and ");

/**
 * The id of the revision a component's wasi:keyvalue imports are, or undefined when it imports
 * none. Throws RuntimeError `ERR_COMPONENT_UNSUPPORTED_IMPORTS` naming the interface, its version
 * and (for a known version) the function whose shape no served revision has.
 */
export function detectKvRevision(component: ComponentImports): string | undefined {
  if (!component.names.some((name) => name.startsWith(PACKAGE))) return undefined;
  const imported = component.interfaces().filter((i) => i.unversioned.startsWith(PACKAGE));
  if (imported.length === 0) return undefined;
  const versions = [...new Set(imported.map((i) => i.version))];
  if (versions.length > 1) {
    refuse(
      `${imported.map((i) => i.name).join(", ")}: one component can use one revision of wasi:keyvalue (jco links every version to the same host functions)`,
    );
  }
  const version = versions[0];
  const candidates = KV_REVISIONS.filter((r) => r.version === version);
  if (candidates.length === 0) {
    refuse(`${imported.map((i) => i.name).join(", ")} (this gateway serves ${served()})`);
  }
  let closest: string[] | undefined;
  for (const revision of candidates) {
    const wrong = mismatches(revision, imported);
    if (wrong.length === 0) return revision.id;
    if (closest === undefined || wrong.length < closest.length) closest = wrong;
  }
  refuse(
    `${closest!.join(", ")}: no revision of wasi:keyvalue@${version} this gateway serves has ${closest!.length === 1 ? "that function in that shape" : "those functions in those shapes"} (see docs/guides/key-value.md)`,
  );
}
