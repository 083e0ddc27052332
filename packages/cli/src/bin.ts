import { readFileSync } from "node:fs";
import { config } from "zod";
import { main } from "./internal/program.js";

// A command validates a handful of documents and exits: compiling zod's fast parsers
// (new Function per schema) costs more than it saves in a process this short.
config({ jitless: true });

// The bundle sits in dist/, next to the package's package.json one level up.
const { version } = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
) as { version: string };

process.exitCode = await main(process.argv.slice(2), { version });
