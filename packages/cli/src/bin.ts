import { run } from "./internal/run.js";

await run();
