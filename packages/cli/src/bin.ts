import { readFileSync } from "node:fs";
import { quickStats } from "./internal/quick.js";

const argv = process.argv.slice(2);
const out = (text: string) => process.stdout.write(`${text}\n`);
// A problem the quick path meets, the full CLI meets again and reports with its exit code.
const answered = await quickStats(argv, { env: process.env, cwd: process.cwd(), out }).catch(
  () => false,
);
if (answered) {
  process.exitCode = 0;
} else {
  // The bundle sits in dist/, next to the package's package.json one level up.
  const { version } = JSON.parse(
    readFileSync(new URL("../package.json", import.meta.url), "utf8"),
  ) as { version: string };
  const { main } = await import("./internal/program.js");
  process.exitCode = await main(argv, { version });
}
