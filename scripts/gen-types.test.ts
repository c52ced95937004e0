// The generated types are what the WIT gives today: a WIT change that is not regenerated fails
// here (run `npm run gen:types`), and so does a hand edit of a generated file.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { it } from "node:test";
import { existing, generate } from "./gen-types.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

it("the checked-in generated types match the WIT (npm run gen:types)", async () => {
  const wanted = await generate();
  assert.ok(wanted.size > 10, `${wanted.size} files generated`);
  assert.deepEqual((await existing()).sort(), [...wanted.keys()].sort(), "the same files");
  for (const [file, bytes] of wanted) {
    assert.equal(await readFile(path.join(ROOT, file), "utf8"), Buffer.from(bytes).toString("utf8"), file);
  }
});
