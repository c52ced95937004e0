// Rewrites the host-import trampolines of jco's generated glue, as loadInstantiate loads it.
//
// jco wraps every host import in its task bookkeeping: per call, a subtask with a waitable in the
// caller's task, a host task with its own entry, exit and resolution, and the current-task record
// set and restored; an import that may wait (in `asyncImports`) also always suspends the guest
// through JSPI, even when the host answers at once. For a guest of ours that bookkeeping decides
// nothing: an instance serves one request at a time, no host import calls back into the guest,
// and a call lifts its arguments, runs the host function and lowers its result. So each
// trampoline is given one inert host task instead of a new one per call, and is called directly;
// one that may wait runs as a generator that goes on in the same turn when the host answers with
// a value, and suspends the guest only when it answers with a promise. A glue whose trampolines do
// not have the expected shape is left as jco wrote it, trampoline by trampoline.

/** Script-level helpers the rewritten glue uses. */
export const LEAN_HELPERS = `const __hostTask = Object.freeze({
  id: () => 0, componentIdx: () => -1, enter: () => true, enterSync: () => true, resolve() {},
  exit() {}, setErrored() {}, reject() {}, setParentSubtask() {}, getParentSubtask: () => undefined,
});
function __isThenable(v) {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";
}
function __stepHostCall(it, r) {
  while (!r.done) {
    if (__isThenable(r.value)) {
      return Promise.resolve(r.value).then(
        (v) => __stepHostCall(it, it.next(v)),
        (e) => __stepHostCall(it, it.throw(e)),
      );
    }
    r = it.next(r.value);
  }
  return r.value;
}
function __maybeAsync(generator) {
  return function () {
    const it = generator.apply(this, arguments);
    return __stepHostCall(it, it.next());
  };
}`;
const HOST_TASK_METHODS = new Set([
  "id",
  "componentIdx",
  "enter",
  "enterSync",
  "resolve",
  "exit",
  "setErrored",
  "reject",
  "setParentSubtask",
  "getParentSubtask",
  "completionPromise",
]);
const TRAMPOLINE =
  /const (_trampoline\d+) = (async )?function\(([^)]*)\) \{\n([\s\S]*?)\n {2}\}\n {2}\1\.fnName = '[^'\n]*';\n/g;
const CREATE_TASK =
  /const createTask = \(\) => \{\n\s*const results = createNewCurrentTask\(\{\n\s*componentIdx: -1,\n[\s\S]*?\n\s*\}\);\n\s*task = results\[0\];\n\s*\};/;
const PARENT_TASK =
  /parentTask = getCurrentTask\(\s*\d+,\s*_getGlobalCurrentTaskMeta\(\d+\)\?\.taskID,\s*\)\?\.task;/;
const LOWER_IMPORT = "  function _lowerImportBackwardsCompat(args) {\n";
const BIND_LOWER = "_lowerImportBackwardsCompat.bind(\n";
const SUSPENDING_IMPORT =
  "function _suspendingImport(componentIdx, fn, syncOnly = false, switchesTask = false) {\n";
/** Replaces `_lowerImportBackwardsCompat.bind(null, meta)`: a lean trampoline is called directly. */
const LOWER_LEAN = `  function __lowerImport(self, meta) {
    if (meta.importFn.lean !== true) return _lowerImportBackwardsCompat.bind(self, meta);
    const { componentIdx, importFn } = meta;
    const lowered = function () {
      _checkMayLeave(componentIdx);
      return importFn.apply(undefined, arguments);
    };
    lowered.lean = true;
    return lowered;
  }
`;

/** The glue with its trampolines rewritten as above, where they have the shape this expects. */
export function leanHostCalls(source: string): string {
  if (!source.includes(LOWER_IMPORT) || !source.includes(BIND_LOWER)) return source;
  const canSuspend =
    source.includes(SUSPENDING_IMPORT) && source.includes("function _withGlobalCurrentTaskMeta(args) {");
  let lean = 0;
  let out = source.replace(
    TRAMPOLINE,
    (whole, name: string, isAsync: string | undefined, params: string, body: string) => {
      const manual = source.includes(`${name}.manuallyAsync = true;`);
      if (Boolean(isAsync) !== manual || (manual && !canSuspend)) return whole;
      const rewritten = leanTrampoline(name, params, body, manual);
      if (rewritten === undefined) return whole;
      lean++;
      const tail = whole.slice(whole.lastIndexOf("\n  }\n  "));
      return `${rewritten}${manual ? tail.replace("\n  }\n", "\n  });\n") : tail}  ${name}.lean = true;\n`;
    },
  );
  if (lean === 0) return source;
  out = out.replace(LOWER_IMPORT, `${LOWER_LEAN}${LOWER_IMPORT}`).replaceAll(BIND_LOWER, "__lowerImport(\n");
  if (canSuspend)
    out = out.replace(SUSPENDING_IMPORT, `${SUSPENDING_IMPORT}  if (fn.lean === true) return fn;\n`);
  return out;
}

/** One trampoline's head and body, rewritten; undefined when it has a shape this does not know. */
function leanTrampoline(name: string, params: string, body: string, manual: boolean): string | undefined {
  if (!body.includes("const hostProvided = true;") || !CREATE_TASK.test(body) || !PARENT_TASK.test(body)) {
    return undefined;
  }
  for (const [, method] of body.matchAll(/\btask\.(\w+)\(/g)) {
    if (!HOST_TASK_METHODS.has(method!)) return undefined;
  }
  let leanBody = body
    .replace("const hostProvided = true;", "const hostProvided = false;")
    .replace(CREATE_TASK, "const createTask = () => { task = __hostTask; };")
    .replace(PARENT_TASK, "parentTask = undefined;");
  if (manual) {
    // Exactly the task's entry and the host call wait; neither sits in a nested function.
    if (occurrences(body, /\bawait\b/g) !== 2 || /\basync\s*(\(|function\b|[\w$]+\s*=>)/.test(body)) {
      return undefined;
    }
    if (!body.includes("await task.enter({ isHost: hostProvided })")) return undefined;
    if (occurrences(body, /await {1,2}_withGlobalCurrentTaskMetaAsync\(/g) !== 1) return undefined;
    const completions = occurrences(body, /task\.completionPromise\(/g);
    if (completions > 0 && !body.includes("} catch (err) {")) return undefined;
    if (completions !== occurrences(body, /task\.exit\(\);\n\s*return task\.completionPromise\(\);/g)) {
      return undefined;
    }
    leanBody = leanBody
      .replace(/await {1,2}_withGlobalCurrentTaskMetaAsync\(/, "yield _withGlobalCurrentTaskMeta(")
      .replace("await task.enter({ isHost: hostProvided })", "yield true")
      .replaceAll("return task.completionPromise();", "throw err;");
  }
  const head = manual
    ? `const ${name} = __maybeAsync(function*(${params}) {`
    : `const ${name} = function(${params}) {`;
  return `${head}\n${leanBody}`;
}

function occurrences(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}
