// Makes sure a deployment's component is transpiled on this machine before it serves: after a
// restart the compiled files are normally still there; if not, they are rebuilt from the stored
// artifact once, however many requests arrive meanwhile.

import type { ComponentInfo, Runtime } from "../runtime/index.ts";
import { PREPARED_FORMAT, RuntimeError } from "../runtime/index.ts";
import { createPromiseCache } from "./promise-cache.ts";
import type { StateStore } from "./state/store.ts";

export interface Components {
  ensure(digest: string): Promise<ComponentInfo>;
  /** The info of a digest `ensure` has already made ready, without waiting. */
  peek(digest: string): ComponentInfo | undefined;
  /** Offers this gateway's prepared files to the others sharing the state store. */
  share(digest: string): Promise<void>;
}

export function createComponents(runtime: Runtime, state: StateStore, memoryBytes: number): Components {
  async function load(digest: string): Promise<ComponentInfo> {
    const info = await runtime.prepared(digest);
    if (info) return info;
    // Another gateway may have compiled it already: fetching its files is much quicker.
    const shared = await state.sharedPrepared?.get(digest, PREPARED_FORMAT);
    const imported = shared && (await runtime.importPrepared(digest, shared));
    if (imported) return imported;
    const bytes = await state.getArtifact(digest);
    if (!bytes) throw new RuntimeError("ERR_RUNTIME_ARTIFACT_MISSING", `the artifact ${digest} is missing`);
    // Already accepted once: the memory check that matters ran at deploy; this only recompiles.
    const prepared = await runtime.prepare(digest, bytes, memoryBytes);
    await share(digest);
    return prepared;
  }

  async function share(digest: string): Promise<void> {
    // Asked first: re-deploying shared bytes should not read megabytes of files for nothing.
    if (!state.sharedPrepared || (await state.sharedPrepared.has(digest, PREPARED_FORMAT))) return;
    const files = await runtime.exportPrepared(digest);
    if (files) await state.sharedPrepared.put(digest, PREPARED_FORMAT, files);
  }

  const ready = createPromiseCache(load);
  return { ensure: (digest) => ready.get(digest), peek: (digest) => ready.peek(digest), share };
}
