// Adds up the JSON reports the packages' vitest runs wrote and prints one closing line,
// "N passed, N failed, N skipped", so the whole suite's result is read in one place.
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const name of fs.readdirSync(path.join(root, "packages"))) {
  const dir = path.join(root, "packages", name);
  if (!fs.existsSync(path.join(dir, "vitest.config.ts"))) continue;
  const file = path.join(dir, ".vitest-report.json");
  if (!fs.existsSync(file)) {
    missing.push(name);
    continue;
  }
  const report = JSON.parse(fs.readFileSync(file, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
}
if (missing.length > 0) {
  console.error(`No test report from: ${missing.join(", ")}`);
  failed += missing.length;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 ? 1 : 0;
