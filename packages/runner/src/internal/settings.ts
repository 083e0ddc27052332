import path from "node:path";
import { parseInput } from "@miyabi/core";
import { z } from "zod";
import type { PipelineDefaults, PipelineStep } from "./pipeline.js";

export const HANDOFF_MODES = ["fresh", "resume", "fork"] as const;
export const HandoffModeSchema = z.enum(HANDOFF_MODES);
export type HandoffMode = z.infer<typeof HandoffModeSchema>;

/** How to run the Claude Code CLI. Defaults live here and nowhere else. */
export const ClaudeSettingsSchema = z.object({
  /** Path or name of the `claude` executable; default: `claude` on PATH. */
  executable: z.string().min(1).optional(),
  /**
   * Variables the caller hands to the agent on purpose, on top of the allow-list (see
   * agentEnv). An API key or base URL here is taken as `credential` / `upstreamUrl`: the
   * agent never gets them. HOME, CLAUDE_CONFIG_DIR and TMPDIR are always the run's own.
   */
  env: z.record(z.string(), z.string()).default({}),
  /**
   * Held by the runner's loopback proxy; the agent gets a per-run stand-in. Default: from
   * `env`, else this process's ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN.
   */
  credential: z
    .object({
      name: z.enum(["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"]),
      value: z.string().min(1),
    })
    .optional(),
  /** Where the proxy sends the agent's API calls; default ANTHROPIC_BASE_URL, else the API. */
  upstreamUrl: z.url().optional(),
  /**
   * `auto`: jail the agent with bubblewrap when usable, else run it unjailed and say so;
   * `required`: refuse to run without the jail; `off`: never jail (a conscious widening).
   */
  sandbox: z.enum(["auto", "required", "off"]).default("auto"),
  /** Absolute paths the agent must not see (the store, say); the real HOME always is. */
  hiddenPaths: z
    .array(z.string().refine((p) => path.isAbsolute(p), "hidden paths must be absolute"))
    .default([]),
  /** Protected paths (PROTECTED_PATHS) the workflow lets agents change and commit, by name. */
  allowProtectedPaths: z.array(z.string()).default([]),
  model: z.string().min(1).optional(),
  extraArgs: z.array(z.string()).default([]),
  maxTurns: z.number().int().positive().optional(),
  /** Kill the run (whole process tree) after this long. */
  timeoutMs: z
    .number()
    .int()
    .positive()
    .default(30 * 60_000),
  killGraceMs: z.number().int().nonnegative().default(5_000),
  /** Overrides every step's handoff mode when set. */
  mode: HandoffModeSchema.optional(),
  allowedTools: z.array(z.string()).optional(),
  disallowedTools: z.array(z.string()).optional(),
  /**
   * `acceptEdits` lets the agent change files without prompts. `bypassPermissions` is refused by
   * the CLI when running as root, which CI runners and containers often are.
   */
  permissionMode: z
    .enum(["acceptEdits", "auto", "bypassPermissions", "manual", "dontAsk", "plan"])
    .default("acceptEdits"),
  appendSystemPrompt: z.string().optional(),
  mcpConfig: z.string().optional(),
  maxBudgetUsd: z.number().positive().optional(),
  /**
   * The CLI retries a failed API call about ten times over minutes by default; a bounded number
   * keeps a dead API from eating the whole phase timeout.
   */
  maxRetries: z.number().int().nonnegative().default(3),
});

export type ClaudeSettings = z.input<typeof ClaudeSettingsSchema>;
export type ResolvedClaudeSettings = z.output<typeof ClaudeSettingsSchema>;

export function resolveSettings(settings: ClaudeSettings = {}): ResolvedClaudeSettings {
  return parseInput(ClaudeSettingsSchema, settings, "Claude settings");
}

type Layer = Pick<
  ClaudeSettings,
  | "model"
  | "maxTurns"
  | "timeoutMs"
  | "maxBudgetUsd"
  | "allowedTools"
  | "disallowedTools"
  | "appendSystemPrompt"
>;

function layerOf(s: Partial<PipelineStep> & PipelineDefaults): Layer {
  return {
    model: s.model,
    maxTurns: s.maxTurns,
    timeoutMs: s.timeoutMinutes === undefined ? undefined : Math.round(s.timeoutMinutes * 60_000),
    maxBudgetUsd: s.maxBudgetUsd,
    allowedTools: s.allowedTools,
    disallowedTools: s.disallowedTools,
    appendSystemPrompt: s.appendSystemPrompt,
  };
}

/** `layer` without its undefined fields, so spreading it never erases a lower layer's value. */
function defined<T extends object>(layer: T): Partial<T> {
  return Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The one place settings are merged: step < pipeline defaults < inputs and flags (`settings`),
 * then the schema's defaults for whatever none of them sets.
 */
export function mergeSettings(args: {
  step?: PipelineStep;
  defaults?: PipelineDefaults;
  settings?: ClaudeSettings;
}): ResolvedClaudeSettings {
  return resolveSettings({
    ...(args.step ? defined(layerOf(args.step)) : {}),
    ...(args.defaults ? defined(layerOf(args.defaults)) : {}),
    ...defined(args.settings ?? {}),
  });
}
