import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findOnPath, resolveClaude } from "../src/index.js";

const root = await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-exec-"));
afterAll(() => fs.rm(root, { recursive: true, force: true }));

async function dir(name: string): Promise<string> {
  const d = path.join(root, name);
  await fs.mkdir(d, { recursive: true });
  return d;
}

describe("finding the claude executable", () => {
  it("takes the first executable file on the path, skipping plain files and directories", async () => {
    const [a, b, c] = await Promise.all([dir("a"), dir("b"), dir("c")]);
    await fs.writeFile(path.join(a, "claude"), "not executable");
    await fs.mkdir(path.join(b, "claude"));
    const found = path.join(c, "claude");
    await fs.writeFile(found, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    expect(await findOnPath("claude", ["", a, b, c].join(path.delimiter))).toBe(found);
    expect(await findOnPath("claude", a)).toBeUndefined();
    expect(await findOnPath("claude", undefined)).toBeUndefined();
    expect(await resolveClaude(undefined, c)).toBe(found);
    await expect(resolveClaude(path.join(a, "claude"))).rejects.toMatchObject({
      code: "CLAUDE_NOT_FOUND",
    });
    await expect(resolveClaude(undefined, a)).rejects.toThrow(/not found on PATH/);
  });
});
