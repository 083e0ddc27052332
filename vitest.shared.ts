import { defineConfig } from "vitest/config";

/**
 * Test settings every package shares. Each package also writes a JSON report that
 * `scripts/test-summary.mjs` adds up into one closing "N passed, N failed" line.
 */
export function packageTestConfig(options: { testTimeout: number }) {
  return defineConfig({
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: options.testTimeout,
      hookTimeout: 60_000,
      reporters: ["default", "json"],
      outputFile: { json: ".vitest-report.json" },
    },
  });
}
