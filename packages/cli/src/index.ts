export { demoScript } from "./internal/demo.js";
export { parseDuration } from "./internal/duration.js";
export { type MainOptions, main } from "./internal/program.js";
