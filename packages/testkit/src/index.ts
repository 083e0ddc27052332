export { claudeBinPath } from "./claude-bin.js";
export * from "./model-server.js";
export * from "./cache-server.js";
export * from "./github-stub.js";
