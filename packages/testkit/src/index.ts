export { actionlint } from "./actionlint.js";
export * from "./artifact-server.js";
export * from "./cache-server.js";
export { claudeBinPath } from "./claude-bin.js";
export * from "./github-stub.js";
export * from "./model-server.js";
export { base64Forms } from "./secret-forms.js";
