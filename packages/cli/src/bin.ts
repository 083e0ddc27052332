#!/usr/bin/env node
import { run } from "./internal/run.js";

await run();
