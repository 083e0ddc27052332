import { packageTestConfig } from "../../vitest.shared.js";

// The e2e tests start real processes: the bundle under Node 24, Claude Code, actionlint.
export default packageTestConfig({ testTimeout: 120_000 });
