// Makes sure a deployment's component is transpiled on this machine before it serves: after a
// restart the compiled files are normally still there; if not, they are rebuilt from the stored
// artifact once, however many requests arrive meanwhile.

import type { ComponentInfo, Runtime } from "../runtime/index.ts";
import { RuntimeError } from "../runtime/index.ts";
import { createPromiseCache } from "./promise-cache.ts";
import type { StateStore } from "./state/store.ts";

export interface Components {
  ensure(digest: string): Promise<ComponentInfo>;
}

export function createComponents(runtime: Runtime, state: StateStore, memoryBytes: number): Components {
  async function load(digest: string): Promise<ComponentInfo> {
    const info = await runtime.prepared(digest);
    if (info) return info;
    const bytes = await state.getArtifact(digest);
    if (!bytes) throw new RuntimeError("ERR_RUNTIME_ARTIFACT_MISSING", `the artifact ${digest} is missing`);
    // Already accepted once: the memory check that matters ran at deploy; this only recompiles.
    return runtime.prepare(digest, bytes, memoryBytes);
  }

  const ready = createPromiseCache(load);
  return { ensure: (digest) => ready.get(digest) };
}
