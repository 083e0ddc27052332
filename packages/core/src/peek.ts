// A separate entry point: a bundler splitting code by entry keeps it, and only it, in the
// CLI's start-up chunk, where importing the main entry would also pull in the schemas.
export { peekStats } from "./internal/peek.js";
