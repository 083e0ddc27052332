import { readFileSync } from "node:fs";
import { main } from "./internal/program.js";

// bin.js and the bundle both sit in dist/, next to the package's package.json one level up.
const { version } = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
) as { version: string };

process.exitCode = await main(process.argv.slice(2), { version });
