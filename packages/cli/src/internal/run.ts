import { main } from "./program.js";

/** The process edge: parse argv, run, set the exit code. */
export async function run(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2));
}
