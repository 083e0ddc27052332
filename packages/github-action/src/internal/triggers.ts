import { issueBranchName, sanitizeUserText } from "@miyabi/runner";
import { z } from "zod";

/*
 * Which events start a phase, as data: a pure function from the webhook event and the
 * trigger inputs to a request (what to run, for whom, with what feedback) or a reason not to.
 * Everything that needs the API (the commenter's permission, the pull request behind an
 * issue_comment, a review's line comments) is done by the caller before or after; the
 * permission check is the same as for labels.
 */

export const DEFAULT_TRIGGER_PHRASE = "/miyabi";
/** Feedback beyond this is cut (and says so): it becomes part of a prompt. */
export const MAX_FEEDBACK_CHARS = 20_000;
/** The step a changes-requested review hands back to, by phase (custom step ids differ). */
export const REVIEW_FEEDBACK_STEP = "CodeGeneration";

export type TriggerKind = "label" | "comment" | "review" | "dispatch";

export interface TriggerRequest {
  kind: TriggerKind;
  /**
   * The issue the pipeline works on. Null for a comment on a pull request: the payload does
   * not name its branch, so the caller resolves `pullNumber` with `pipelinePullIssue`.
   */
  issueNumber: number | null;
  /** The pull request the event came from, if any. */
  pullNumber?: number;
  /** The step asked for (step id or phase name, as typed); absent: the next step. */
  step?: string;
  /** Sanitized text for the step's prompt (the comment's words, the review). */
  feedback?: string;
  /** Who asked: the permission check (write access) applies to this login. */
  actor: string;
  isPullRequest: boolean;
  fromFork: boolean;
  /** The comment to react to and answer (issue_comment). */
  commentId?: number;
  /** The review whose line comments the caller adds with `reviewFeedback`. */
  reviewId?: number;
}

export type RefusalCode = "FROM_FORK" | "BOT_NOT_ALLOWED" | "NO_ISSUE_NUMBER" | "UNKNOWN_STEP";

export type TriggerDecision =
  | { action: "run"; request: TriggerRequest }
  /** Not meant for us (another label, a plain comment, an approval): exit quietly. */
  | { action: "skip"; reason: string }
  /** Meant for us but not allowed: the job says why (log, and a reply where there is a thread). */
  | { action: "refuse"; code: RefusalCode; reason: string; actor?: string };

export const TriggerInputsSchema = z.object({
  triggerLabels: z.array(z.string()).min(1).default(["miyabi"]),
  triggerPhrase: z
    .string()
    .regex(/^\S+$/, "the trigger phrase is one word, such as /miyabi")
    .default(DEFAULT_TRIGGER_PHRASE),
  /** Bot logins (e.g. "renovate[bot]") whose comments may start a phase. */
  allowedBots: z.array(z.string()).default([]),
  /** Step ids and phase names of the pipeline, to refuse `/miyabi <unknown>` early. */
  knownSteps: z.array(z.string()).optional(),
  /** The `issue-number` and `phase` inputs, for workflow_dispatch. */
  issueNumber: z.number().int().positive().optional(),
  phase: z.string().optional(),
});
export type TriggerInputs = z.input<typeof TriggerInputsSchema>;

export interface TriggerEvent {
  /** GITHUB_EVENT_NAME. */
  name: string;
  /** The webhook payload (github.context.payload). */
  payload: unknown;
}

// The slices of GitHub's webhook payloads read here; everything else passes through.
const User = z.object({ login: z.string(), type: z.string().optional() });
const Repo = z.object({ full_name: z.string() }).nullable();
const Payload = z.object({
  action: z.string().optional(),
  sender: User.optional(),
  label: z.object({ name: z.string() }).optional(),
  issue: z
    .object({
      number: z.number().int().positive(),
      pull_request: z.object({}).passthrough().optional(),
    })
    .optional(),
  comment: z.object({ id: z.number(), body: z.string().nullable(), user: User }).optional(),
  review: z
    .object({ id: z.number(), body: z.string().nullable(), state: z.string(), user: User })
    .optional(),
  pull_request: z
    .object({
      number: z.number().int().positive(),
      head: z.object({ ref: z.string(), repo: Repo }),
      base: z.object({ repo: Repo }),
    })
    .optional(),
  inputs: z.record(z.string(), z.unknown()).nullable().optional(),
});
type Payload = z.infer<typeof Payload>;

const FORK_REASON =
  "Refused: this event comes from a pull request whose branch lives in a fork. A fork's code, branch and text are written by someone without access to this repository, and the agent would run on them in a job that holds this repository's secrets and write access (the pull_request_target hazard; see anthropics/claude-code-action's security notes). Miyabi works only on its own miyabi/issue-N branches in this repository. Nothing was run.";

/** What the event asks the action to do. Pure: no API calls, no environment. */
export function decideTrigger(event: TriggerEvent, rawInputs: TriggerInputs = {}): TriggerDecision {
  const inputs = TriggerInputsSchema.parse(rawInputs);
  const parsed = Payload.safeParse(event.payload ?? {});
  if (!parsed.success) {
    return {
      action: "skip",
      reason: `Skipped: the ${event.name} event's payload is not one Miyabi reads.`,
    };
  }
  const payload = parsed.data;
  switch (event.name) {
    case "issues":
      return labelTrigger(payload, inputs);
    case "issue_comment":
      return commentTrigger(payload, inputs);
    case "pull_request_review":
      return reviewTrigger(payload, inputs);
    case "workflow_dispatch":
      return dispatchTrigger(payload, inputs);
    case "pull_request_target":
    case "pull_request":
      if (payload.pull_request && isFork(payload.pull_request)) {
        return {
          action: "refuse",
          code: "FROM_FORK",
          reason: FORK_REASON,
          actor: payload.sender?.login,
        };
      }
      return skip(event.name, payload.action);
    default:
      return skip(event.name, payload.action);
  }
}

type Inputs = z.output<typeof TriggerInputsSchema>;

function skip(name: string, action: string | undefined): TriggerDecision {
  const got = action ? `${name} (${action})` : name;
  return {
    action: "skip",
    reason: `Skipped: this ${got} event does not start the pipeline; a trigger label on an issue, a /miyabi comment, a review requesting changes on the pipeline's pull request, or a workflow_dispatch with issue-number does.`,
  };
}

function labelTrigger(payload: Payload, inputs: Inputs): TriggerDecision {
  const wanted = inputs.triggerLabels.map((l) => `"${l}"`).join(", ");
  if (payload.action !== "labeled" || !payload.issue) return skip("issues", payload.action);
  const label = payload.label?.name ?? "";
  if (!inputs.triggerLabels.includes(label)) {
    return {
      action: "skip",
      reason: `Skipped: the label "${label}" is not a trigger label (${wanted}).`,
    };
  }
  const actor = payload.sender?.login ?? "";
  return {
    action: "run",
    request: {
      kind: "label",
      issueNumber: payload.issue.number,
      actor,
      isPullRequest: payload.issue.pull_request !== undefined,
      fromFork: false,
    },
  };
}

function commentTrigger(payload: Payload, inputs: Inputs): TriggerDecision {
  // Only new comments: an edit could swap the words after the permission check and reaction.
  if (payload.action !== "created" || !payload.issue || !payload.comment) {
    return skip("issue_comment", payload.action);
  }
  const command = parseCommand(payload.comment.body ?? "", inputs.triggerPhrase);
  if (!command) {
    return {
      action: "skip",
      reason: `Skipped: the comment does not start with ${inputs.triggerPhrase}.`,
    };
  }
  const author = payload.comment.user;
  const bot = botRefusal(author, inputs);
  if (bot) return bot;
  const unknown = unknownStep(command.step, inputs);
  if (unknown) return unknown;
  const isPullRequest = payload.issue.pull_request !== undefined;
  return {
    action: "run",
    request: {
      kind: "comment",
      issueNumber: isPullRequest ? null : payload.issue.number,
      ...(isPullRequest ? { pullNumber: payload.issue.number } : {}),
      ...(command.step ? { step: command.step } : {}),
      ...(command.feedback ? { feedback: command.feedback } : {}),
      actor: author.login,
      isPullRequest,
      // Unknown until the caller reads the pull request (pipelinePullIssue checks it).
      fromFork: false,
      commentId: payload.comment.id,
    },
  };
}

function reviewTrigger(payload: Payload, inputs: Inputs): TriggerDecision {
  const { review, pull_request: pull } = payload;
  if (payload.action !== "submitted" || !review || !pull) {
    return skip("pull_request_review", payload.action);
  }
  if (review.state.toLowerCase() !== "changes_requested") {
    return {
      action: "skip",
      reason: `Skipped: the review is "${review.state.toLowerCase()}"; only a review requesting changes hands the pull request back to the agents.`,
    };
  }
  const target = pipelinePullIssue({
    headRef: pull.head.ref,
    headRepo: pull.head.repo?.full_name ?? null,
    baseRepo: pull.base.repo?.full_name ?? null,
  });
  if (target.action !== "run") return target;
  const bot = botRefusal(review.user, inputs);
  if (bot) return bot;
  const body = clip(sanitizeUserText(review.body ?? "").trim());
  return {
    action: "run",
    request: {
      kind: "review",
      issueNumber: target.issueNumber,
      pullNumber: pull.number,
      step: REVIEW_FEEDBACK_STEP,
      ...(body ? { feedback: body } : {}),
      actor: review.user.login,
      isPullRequest: true,
      fromFork: false,
      reviewId: review.id,
    },
  };
}

function dispatchTrigger(payload: Payload, inputs: Inputs): TriggerDecision {
  const fromPayload = payload.inputs ?? {};
  const rawIssue = inputs.issueNumber ?? fromPayload["issue-number"];
  const issueNumber =
    typeof rawIssue === "number"
      ? rawIssue
      : typeof rawIssue === "string"
        ? Number(rawIssue.trim())
        : NaN;
  if (!Number.isInteger(issueNumber) || issueNumber <= 0) {
    return {
      action: "refuse",
      code: "NO_ISSUE_NUMBER",
      reason:
        "Refused: a workflow_dispatch run needs the issue-number input (a positive whole number) to know which issue to work on; declare it under the workflow's workflow_dispatch inputs and pass it on as the action's issue-number input. Nothing was run.",
      actor: payload.sender?.login,
    };
  }
  const rawPhase = inputs.phase ?? fromPayload.phase;
  const step = typeof rawPhase === "string" && rawPhase.trim() !== "" ? rawPhase.trim() : undefined;
  const unknown = unknownStep(step, inputs);
  if (unknown) return unknown;
  return {
    action: "run",
    request: {
      kind: "dispatch",
      issueNumber,
      ...(step ? { step } : {}),
      actor: payload.sender?.login ?? "",
      isPullRequest: false,
      fromFork: false,
    },
  };
}

/**
 * `/miyabi` alone: the next step; `/miyabi <step> <feedback…>`: that step with the rest
 * (over several lines, too) as feedback. The phrase must be the comment's first word, after
 * sanitizing, so hidden text cannot carry it and `/miyabify` is not it.
 */
export function parseCommand(
  body: string,
  phrase: string = DEFAULT_TRIGGER_PHRASE,
): { step?: string; feedback?: string } | undefined {
  const text = sanitizeUserText(body).trim();
  if (!text.toLowerCase().startsWith(phrase.toLowerCase())) return undefined;
  const rest = text.slice(phrase.length);
  if (rest !== "" && !/^\s/.test(rest)) return undefined;
  const match = /^\s*(\S+)(?:\s+([\s\S]*))?$/.exec(rest);
  if (!match) return {};
  const feedback = clip((match[2] ?? "").trim());
  return { step: match[1], ...(feedback ? { feedback } : {}) };
}

function clip(text: string): string {
  return text.length > MAX_FEEDBACK_CHARS
    ? `${text.slice(0, MAX_FEEDBACK_CHARS)}\n[… cut at ${MAX_FEEDBACK_CHARS} characters]`
    : text;
}

function unknownStep(step: string | undefined, inputs: Inputs): TriggerDecision | undefined {
  if (!step || !inputs.knownSteps) return undefined;
  if (inputs.knownSteps.some((s) => s.toLowerCase() === step.toLowerCase())) return undefined;
  return {
    action: "refuse",
    code: "UNKNOWN_STEP",
    reason: `Refused: "${step}" names no step of the pipeline; use one of ${inputs.knownSteps.join(", ")} (e.g. \`${inputs.triggerPhrase} ${inputs.knownSteps[0] ?? "codegen"} rename greet to hello\`), or ${inputs.triggerPhrase} alone for the next step. Nothing was run.`,
  };
}

function isBot(user: z.infer<typeof User>): boolean {
  return user.type === "Bot" || user.login.endsWith("[bot]");
}

function botRefusal(user: z.infer<typeof User>, inputs: Inputs): TriggerDecision | undefined {
  if (!isBot(user) || inputs.allowedBots.includes(user.login)) return undefined;
  return {
    action: "refuse",
    code: "BOT_NOT_ALLOWED",
    reason: `Refused: ${user.login} is a bot, and bots start the pipeline only when named in the allowed-bots input (a bot can be made to post anything, including by the action's own replies). Nothing was run.`,
    actor: user.login,
  };
}

function isFork(pull: {
  head: { repo: { full_name: string } | null };
  base: { repo: { full_name: string } | null };
}): boolean {
  const head = pull.head.repo?.full_name;
  const base = pull.base.repo?.full_name;
  // A deleted fork has no head repository: it was a fork all the same.
  return !head || !base || head.toLowerCase() !== base.toLowerCase();
}

/**
 * The issue behind a pull request, if it is the pipeline's own: its branch is
 * `miyabi/issue-N` in this repository. Used for reviews and, after the caller fetched the
 * pull request, for comments on it.
 */
export function pipelinePullIssue(pull: {
  headRef: string;
  headRepo: string | null;
  baseRepo: string | null;
}):
  | { action: "run"; issueNumber: number }
  | Extract<TriggerDecision, { action: "skip" | "refuse" }> {
  if (
    isFork({
      head: { repo: pull.headRepo ? { full_name: pull.headRepo } : null },
      base: { repo: pull.baseRepo ? { full_name: pull.baseRepo } : null },
    })
  ) {
    return { action: "refuse", code: "FROM_FORK", reason: FORK_REASON };
  }
  const match = /^miyabi\/issue-([1-9]\d{0,9})$/.exec(pull.headRef);
  const issueNumber = match ? Number(match[1]) : NaN;
  if (!match || issueBranchName(issueNumber) !== pull.headRef) {
    return {
      action: "skip",
      reason: `Skipped: the pull request's branch "${pull.headRef}" is not a Miyabi pipeline branch (miyabi/issue-N).`,
    };
  }
  return { action: "run", issueNumber };
}

export interface ReviewComment {
  path: string;
  /** The line in the file the comment is on (null when it is on a line no longer in the diff). */
  line: number | null;
  body: string;
}

/**
 * The review as CodeGen's feedback: its summary, then each line comment with its file and
 * line, every text sanitized, within the feedback limit.
 */
export function reviewFeedback(review: {
  body?: string | null;
  comments: readonly ReviewComment[];
}): string {
  const parts: string[] = [];
  const summary = sanitizeUserText(review.body ?? "").trim();
  if (summary) parts.push(summary);
  for (const comment of review.comments) {
    // File names are agent-made too (git allows newlines in them): one plain line.
    const file = sanitizeUserText(comment.path).replace(/\s+/g, " ").trim();
    const where = comment.line === null ? file : `${file}:${comment.line}`;
    const text = sanitizeUserText(comment.body).trim();
    if (text) parts.push(`- ${where}: ${text.replace(/\n+/g, "\n  ")}`);
  }
  return clip(parts.join("\n\n"));
}
