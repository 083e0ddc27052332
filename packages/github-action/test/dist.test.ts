/**
 * check-dist: the bundle action.yml runs is committed, so it must be exactly what the sources
 * (and the lockfile's dependencies) build to.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { BUNDLE, freshDir, removeScratch } from "./harness.js";

const BUNDLE_SCRIPT = fileURLToPath(new URL("../scripts/bundle.mjs", import.meta.url));

afterAll(removeScratch);

async function build(): Promise<Buffer> {
  const outfile = path.join(await freshDir("dist"), "index.js");
  await promisify(execFile)(process.execPath, [BUNDLE_SCRIPT, "--outfile", outfile]);
  return readFile(outfile);
}

it("the committed actions/session-phase/dist/index.js is a fresh build, byte for byte", async () => {
  const [first, second, committed] = await Promise.all([build(), build(), readFile(BUNDLE)]);
  expect(first.equals(second), "two builds differ: the bundle is not deterministic").toBe(true);
  expect(
    first.equals(committed),
    "actions/session-phase/dist/index.js is stale: run `pnpm --filter @miyabi/github-action build` and commit it",
  ).toBe(true);
});
