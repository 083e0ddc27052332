import fs from "node:fs/promises";
import { PhaseSchema, type Session } from "@miyabi/core";
import { z } from "zod";
import { PipelineConfigError } from "./errors.js";
import { GateSchema } from "./gate.js";
import { HandoffModeSchema } from "./settings.js";

const agentName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, "agent names are letters, digits, _ and -");

const StepInputSchema = z
  .object({
    /** Short name used by --from, action inputs and labels; default: the phase in lower case. */
    id: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, "ids are lower-case letters, digits and -")
      .optional(),
    phase: PhaseSchema,
    agent: agentName.optional(),
    /** Several agents run at once, each its own process, log and session. */
    agents: z.array(agentName).min(1).optional(),
    mode: HandoffModeSchema.default("fresh"),
    /** Prompt template text with {{placeholders}}; overrides files in .miyabi/prompts. */
    prompt: z.string().optional(),
    allowedTools: z.array(z.string()).optional(),
    disallowedTools: z.array(z.string()).optional(),
    maxTurns: z.number().int().positive().optional(),
    timeoutMinutes: z.number().positive().optional(),
    /** US dollars one run of this step may spend (Claude Code's --max-budget-usd). */
    maxBudgetUsd: z.number().positive().optional(),
    model: z.string().optional(),
    appendSystemPrompt: z.string().optional(),
    /**
     * Review gate: the step ends with a verdict; `changes` hands its findings back to the
     * CodeGeneration step before it (see gate.ts).
     */
    gate: GateSchema.optional(),
  })
  .refine((s) => (s.agent === undefined) !== (s.agents === undefined), {
    message: "give exactly one of agent or agents",
  })
  .transform(({ agent, agents, ...rest }) => ({
    ...rest,
    id: rest.id ?? rest.phase.toLowerCase(),
    agents: agents ?? [agent as string],
  }));

/**
 * Settings for every step of a pipeline. They override what a step says (precedence: step <
 * pipeline defaults < inputs and flags), so a workflow can bound, say, every step's turns or
 * model in one place. Tools and handoff modes are not here: they are what makes a step itself.
 */
export const PipelineDefaultsSchema = z.object({
  model: z.string().optional(),
  maxTurns: z.number().int().positive().optional(),
  timeoutMinutes: z.number().positive().optional(),
  maxBudgetUsd: z.number().positive().optional(),
  appendSystemPrompt: z.string().optional(),
});

export const PipelineSchema = z
  .object({
    name: z.string().default("pipeline"),
    defaults: PipelineDefaultsSchema.default({}),
    steps: z.array(StepInputSchema).min(1),
  })
  .refine((p) => new Set(p.steps.map((s) => s.id)).size === p.steps.length, {
    message: "step ids must be unique",
  })
  .refine(
    (p) =>
      p.steps.every(
        (s, i) => !s.gate || p.steps.slice(0, i).some((b) => b.phase === "CodeGeneration"),
      ),
    { message: "a step with a gate needs a CodeGeneration step before it to hand changes back to" },
  );

export type PipelineStep = z.output<typeof StepInputSchema>;
export type PipelineDefinition = z.output<typeof PipelineSchema>;
export type PipelineDefaults = z.output<typeof PipelineDefaultsSchema>;
export type PipelineInput = z.input<typeof PipelineSchema>;

const READ_ONLY = ["Read", "Glob", "Grep"];

/**
 * The Test step's Bash: the usual ways to run a test suite, nothing else (Claude Code's rule
 * syntax: an exact command, or `prefix:*` for the command and anything after it).
 */
export const TEST_COMMANDS: readonly string[] = [
  "Bash(npm test)",
  "Bash(npm run test:*)",
  "Bash(pnpm test:*)",
  "Bash(yarn test:*)",
  "Bash(npx vitest:*)",
  "Bash(pytest:*)",
  "Bash(go test:*)",
  "Bash(cargo test:*)",
  "Bash(make test)",
];

/** CodeGen -> Review -> Test -> Deploy, the seed's pipeline. */
export const DEFAULT_PIPELINE: PipelineDefinition = PipelineSchema.parse({
  name: "default",
  steps: [
    {
      id: "codegen",
      phase: "CodeGeneration",
      agent: "CodeGenAgent",
      mode: "fresh",
      allowedTools: [...READ_ONLY, "Write", "Edit"],
      maxTurns: 40,
      timeoutMinutes: 30,
    },
    {
      id: "review",
      phase: "Review",
      agent: "ReviewAgent",
      mode: "resume",
      allowedTools: [...READ_ONLY, "Edit"],
      maxTurns: 20,
      timeoutMinutes: 20,
      gate: { maxRounds: 2 },
    },
    {
      id: "test",
      phase: "Test",
      agent: "TestAgent",
      mode: "fork",
      allowedTools: [...READ_ONLY, "Write", "Edit", ...TEST_COMMANDS],
      maxTurns: 30,
      timeoutMinutes: 30,
    },
    {
      id: "deploy",
      phase: "PullRequest",
      agent: "DeployAgent",
      mode: "fresh",
      allowedTools: READ_ONLY,
      maxTurns: 10,
      timeoutMinutes: 10,
    },
  ],
});

/** Read a pipeline from YAML or JSON; the built-in default when `file` is undefined. */
export async function loadPipeline(file?: string): Promise<PipelineDefinition> {
  if (file === undefined) return DEFAULT_PIPELINE;
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    throw new PipelineConfigError(file, (error as Error).message, { cause: error });
  }
  let raw: unknown;
  try {
    // Loaded on demand: only pipelines from files need a YAML parser, and it costs start-up time.
    const { parse } = await import("yaml");
    raw = parse(text);
  } catch (error) {
    throw new PipelineConfigError(file, `not valid YAML or JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const parsed = PipelineSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new PipelineConfigError(file, `${at}${issue?.message ?? "invalid"}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** The step named by `name`: a step id ("review") or a phase ("Review"), ignoring case. */
export function findStep(pipeline: PipelineDefinition, name: string): PipelineStep | undefined {
  const key = name.toLowerCase();
  return (
    pipeline.steps.find((s) => s.id.toLowerCase() === key) ??
    pipeline.steps.find((s) => s.phase.toLowerCase() === key)
  );
}

export function stepOf(pipeline: PipelineDefinition, session: Session): PipelineStep | undefined {
  return pipeline.steps.find(
    (s) => s.phase === session.context.currentPhase && s.agents.includes(session.agentName),
  );
}
