import type { Session, SessionStore } from "@miyabi/core";
import { z } from "zod";
import type { PipelineDefinition, PipelineStep } from "./pipeline.js";
import { sanitizeUserText } from "./sanitize.js";
import type { ResultLine } from "./stream.js";
import { type Finding, parseVerdict, verdictFromLog } from "./verdict.js";

/*
 * The review gate: a step with `gate` ends with a verdict (see verdict.ts). `approve` lets the
 * pipeline go on; `changes` hands the findings back to the CodeGeneration step before it, which
 * resumes its own conversation with them as feedback, and then the gated step runs again. At
 * most `maxRounds` times: after that the issue needs a person. Rounds are counted from the
 * purposes of the sessions the gate starts (`review-gate round <k>: <n> findings`), which the
 * store keeps wherever it travels, so no other state has to.
 */

export const GateSchema = z.object({
  /** How many times the gate may hand back to CodeGeneration before a person must decide. */
  maxRounds: z.number().int().positive().default(2),
});
export type Gate = z.output<typeof GateSchema>;

export const GATE_PURPOSE_PREFIX = "review-gate round ";

export function gatePurpose(round: number, findings: number): string {
  return `${GATE_PURPOSE_PREFIX}${round}: ${findings} finding${findings === 1 ? "" : "s"}`;
}

/** The rounds the gate has started for an issue: the highest round named by a purpose. */
export function gateRounds(sessions: readonly Session[]): number {
  let rounds = 0;
  for (const s of sessions) {
    const match = /^review-gate round (\d+):/.exec(s.purpose);
    if (match) rounds = Math.max(rounds, Number(match[1]));
  }
  return rounds;
}

/** The CodeGeneration step a gated step hands back to: the nearest one before it. */
export function gateTarget(
  pipeline: PipelineDefinition,
  step: PipelineStep,
): PipelineStep | undefined {
  const index = pipeline.steps.indexOf(step);
  return pipeline.steps
    .slice(0, Math.max(index, 0))
    .reverse()
    .find((s) => s.phase === "CodeGeneration");
}

export type GateState =
  | { verdict: "approve" }
  | {
      verdict: "changes";
      /** Every agent's findings, in agent order. */
      findings: Finding[];
      /** Rounds the gate started before this verdict. */
      rounds: number;
      maxRounds: number;
      /** No round left: a person must decide. */
      exhausted: boolean;
    }
  /** A finished session of the step has no verdict to read (its log did not travel). */
  | { verdict: "missing"; sessionId: string; reason: string };

/** Why a finished run of a gated step cannot count: null when it ended with a valid verdict. */
export function verdictProblem(result: ResultLine | undefined): string | null {
  const parsed = parseVerdict(result ?? {});
  return parsed.ok ? null : `The review gate got no verdict: ${parsed.reason}`;
}

/**
 * The gate's state after the finished sessions of a gated step: approve when every agent
 * approves, else the findings of all that asked for changes. The verdicts are read from the
 * sessions' logs (the raw result line; the recorded summary is cut and redacted).
 */
export async function readGate(args: {
  store: SessionStore;
  gate: Gate;
  sessions: readonly Session[];
  issueNumber: number;
}): Promise<GateState> {
  const findings: Finding[] = [];
  for (const session of args.sessions) {
    const parsed = verdictFromLog(await args.store.readLog(session.id));
    if (!parsed.ok) return { verdict: "missing", sessionId: session.id, reason: parsed.reason };
    if (parsed.verdict.verdict === "changes") findings.push(...parsed.verdict.findings);
  }
  if (findings.length === 0) return { verdict: "approve" };
  const rounds = gateRounds(await args.store.issueSessions(args.issueNumber));
  const { maxRounds } = args.gate;
  return { verdict: "changes", findings, rounds, maxRounds, exhausted: rounds >= maxRounds };
}

/** The findings as CodeGen's feedback: one line per finding with its file and line, sanitized. */
export function findingsFeedback(findings: readonly Finding[]): string {
  const lines = findings.map((f) => {
    // Agent-written, like a reviewer's words: data, on plain lines.
    const file = f.file ? sanitizeUserText(f.file).replace(/\s+/g, " ").trim() : "(general)";
    const where = f.line === undefined ? file : `${file}:${f.line}`;
    const text = sanitizeUserText(f.message).trim().replace(/\n+/g, "\n  ");
    return `- ${where}: ${text}`;
  });
  return ["The review asks for these changes:", ...lines].join("\n\n");
}

/** Where the pipeline goes after a gated step: on, back to CodeGeneration, or nowhere. */
export function gateNext(
  pipeline: PipelineDefinition,
  step: PipelineStep,
  gate: GateState,
): PipelineStep | null {
  if (gate.verdict === "approve") return pipeline.steps[pipeline.steps.indexOf(step) + 1] ?? null;
  if (gate.verdict === "changes" && !gate.exhausted) return gateTarget(pipeline, step) ?? null;
  return null;
}
