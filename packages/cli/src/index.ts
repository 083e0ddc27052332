export { parseDuration } from "./internal/duration.js";
export { type CommandContext, type Extension, type MainOptions, main } from "./internal/program.js";
