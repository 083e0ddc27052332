import { BudgetUsdSchema, type HandoffMode } from "@miyabi/runner";
import { z } from "zod";
import { splitArgs } from "./args.js";
import { ActionInputError, messageOf } from "./errors.js";
import { DEFAULT_STORE_ARTIFACT_RETENTION_DAYS, MIN_STORE_KEY_LENGTH } from "./store-artifact.js";
import { DEFAULT_TRIGGER_PHRASE } from "./triggers.js";

/** The Claude Code CLI release the action installs when none is given or on PATH. */
export const PINNED_CLAUDE_VERSION = "2.1.332";

/*
 * The runner hands every input over as a string, "" when it is unset, so blank input means
 * "use the default" here. Values are trimmed: pasted secrets often end in a newline.
 */
function input<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => {
    if (typeof value !== "string") return value;
    const trimmed = value.trim();
    return trimmed === "" ? undefined : trimmed;
  }, schema);
}

const wholeNumber = z
  .string()
  .regex(/^\d+$/, "expected a whole number")
  .transform(Number)
  .pipe(z.number().int().positive());

const minutes = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "expected a number of minutes")
  .transform(Number)
  .pipe(z.number().positive().max(360, "a job runs at most 360 minutes"));

/** Comma- or newline-separated; label names may contain spaces, so spaces do not split. */
const list = z.string().transform((value) =>
  value
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== ""),
);

// The cache library refuses keys with commas or over 512 characters; say so before it does.
const cacheKey = z
  .string()
  .max(512, "cache keys are at most 512 characters")
  .regex(/^[^,\s]+$/, "cache keys cannot contain commas or spaces");

const HandoffModeSchema = z.enum(["fresh", "resume", "fork"]) satisfies z.ZodType<HandoffMode>;

/**
 * Every input of action.yml, by its name there. Parsing applies the defaults action.yml
 * documents, so a caller passing `{}` gets the same values as a workflow passing nothing.
 */
export const ActionInputsSchema = z
  .object({
    phase: input(z.string().optional()),
    "issue-number": input(wholeNumber.optional()),
    "anthropic-api-key": input(z.string().optional()),
    "claude-code-oauth-token": input(z.string().optional()),
    model: input(z.string().optional()),
    "claude-args": input(
      z
        .string()
        .transform((value, ctx) => {
          try {
            return splitArgs(value);
          } catch (error) {
            ctx.addIssue({ code: "custom", message: messageOf(error) });
            return z.NEVER;
          }
        })
        .default([]),
    ),
    "max-turns": input(wholeNumber.optional()),
    "timeout-minutes": input(minutes.optional()),
    "handoff-mode": input(HandoffModeSchema.optional()),
    "max-budget-usd": input(BudgetUsdSchema.optional()),
    "budget-usd": input(BudgetUsdSchema.optional()),
    "pipeline-config": input(z.string().optional()),
    "store-path": input(
      z
        .string()
        .regex(/^[^*?[\]!,\n\r\\]+$/, "use a plain directory path, without glob characters")
        .refine(
          (value) =>
            !value.startsWith("/") &&
            value.split("/").every((part) => part !== "..") &&
            value.split("/").some((part) => part !== "" && part !== "."),
          "use a relative path inside the workspace, without ..",
        )
        .default(".ai/sessions"),
    ),
    "cache-key": input(cacheKey.optional()),
    "cache-key-prefix": input(
      z
        .string()
        .max(100)
        .regex(/^[A-Za-z0-9._-]+$/, "use letters, digits, '.', '_' or '-'")
        .default("miyabi-sessions"),
    ),
    "merge-cache-keys": input(list.pipe(z.array(cacheKey)).default([])),
    "github-token": input(
      z.string({ error: "it is empty; leave it unset to use the workflow's github.token" }),
    ),
    "push-token": input(z.string().optional()),
    // Hidden: action.yml defaults it to github.token, the one way to tell whether the token
    // that pushed is the workflow's own (installation tokens of any App look alike).
    "workflow-token": input(z.string().optional()),
    "store-key": input(
      z
        .string()
        .min(
          MIN_STORE_KEY_LENGTH,
          `use at least ${MIN_STORE_KEY_LENGTH} random characters, e.g. the output of \`openssl rand -base64 32\` kept as a secret`,
        )
        .optional(),
    ),
    "artifact-retention-days": input(
      z
        .string()
        .regex(/^\d+$/, "expected a whole number of days (0 keeps no artifact)")
        .transform(Number)
        .pipe(z.number().int().min(0).max(90, "GitHub keeps artifacts at most 90 days"))
        .default(DEFAULT_STORE_ARTIFACT_RETENTION_DAYS),
    ),
    "trigger-labels": input(list.pipe(z.array(z.string()).min(1)).default(["miyabi"])),
    "trigger-phrase": input(
      z
        .string()
        .regex(/^\S+$/, "the trigger phrase is one word, such as /miyabi")
        .default(DEFAULT_TRIGGER_PHRASE),
    ),
    "allowed-bots": input(list.default([])),
    "claude-version": input(
      z
        .string()
        .regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, "expected an exact version such as 2.1.332")
        .default(PINNED_CLAUDE_VERSION),
    ),
    "claude-path": input(z.string().optional()),
    push: input(
      z
        .enum(["true", "false"], { error: "expected true or false" })
        .transform((value) => value === "true")
        .default(true),
    ),
    "pull-request-phase": input(z.string().optional()),
    draft: input(
      z
        .enum(["true", "false"], { error: "expected true or false" })
        .transform((value) => value === "true")
        .default(false),
    ),
    sandbox: input(
      z
        .enum(["required", "auto", "off"], { error: "expected required, auto or off" })
        .default("required"),
    ),
    "allow-protected-paths": input(list.default([])),
  })
  .transform((raw) => ({
    phase: raw.phase,
    issueNumber: raw["issue-number"],
    anthropicApiKey: raw["anthropic-api-key"],
    claudeCodeOauthToken: raw["claude-code-oauth-token"],
    model: raw.model,
    claudeArgs: raw["claude-args"],
    maxTurns: raw["max-turns"],
    timeoutMinutes: raw["timeout-minutes"],
    handoffMode: raw["handoff-mode"],
    maxBudgetUsd: raw["max-budget-usd"],
    budgetUsd: raw["budget-usd"],
    pipelineConfig: raw["pipeline-config"],
    storePath: raw["store-path"],
    cacheKey: raw["cache-key"],
    cacheKeyPrefix: raw["cache-key-prefix"],
    mergeCacheKeys: raw["merge-cache-keys"],
    githubToken: raw["github-token"],
    pushToken: raw["push-token"],
    workflowToken: raw["workflow-token"],
    storeKey: raw["store-key"],
    artifactRetentionDays: raw["artifact-retention-days"],
    triggerLabels: raw["trigger-labels"],
    triggerPhrase: raw["trigger-phrase"],
    allowedBots: raw["allowed-bots"],
    claudeVersion: raw["claude-version"],
    claudePath: raw["claude-path"],
    push: raw.push,
    pullRequestPhase: raw["pull-request-phase"],
    draft: raw.draft,
    sandbox: raw.sandbox,
    allowProtectedPaths: raw["allow-protected-paths"],
  }));

export type ActionInputs = z.output<typeof ActionInputsSchema>;
export type InputName = keyof z.input<typeof ActionInputsSchema>;

/** The input names, in action.yml's order, for reading them one by one from the runner. */
export const INPUT_NAMES = Object.keys(ActionInputsSchema.in.shape) as InputName[];

/** Parse raw input strings, naming the offending input in the error. */
export function parseInputs(raw: Partial<Record<InputName, string>>): ActionInputs {
  const parsed = ActionInputsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = issue?.path[0];
  throw new ActionInputError(
    `Input "${String(name)}" is invalid: ${issue?.message ?? "invalid value"}. See the action's README for its format.`,
    { cause: parsed.error },
  );
}
