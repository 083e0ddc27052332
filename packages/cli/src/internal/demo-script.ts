import path from "node:path";
import {
  type ModelScript,
  type ScriptedTurn,
  structuredOutputTurn,
} from "@miyabi/testkit/model-server";

export const DEMO_ISSUE = {
  number: 1,
  title: "Add a greet(name) helper",
  body: "We need a `greet(name)` function in src/greet.js that returns `Hello, <name>!`, with a test.",
};

type Message = { role?: string; content?: unknown };

function texts(content: unknown): string[] {
  if (typeof content === "string") return [content];
  if (!Array.isArray(content)) return [];
  return content.flatMap((b: { type?: string; text?: unknown }) =>
    typeof b?.text === "string" ? [b.text] : [],
  );
}

function hasToolResult(message: Message | undefined): boolean {
  return (
    Array.isArray(message?.content) &&
    message.content.some((b: { type?: string }) => b?.type === "tool_result")
  );
}

/**
 * The scripted model behind the demo. It plays each agent by reading which phase the newest
 * prompt names: first a tool call that does the phase's work, then a closing summary once the
 * tool result comes back.
 */
export function demoScript(workdir: () => string): ModelScript {
  const work: Record<string, { tool?: ScriptedTurn["toolUses"]; summary: string }> = {
    CodeGeneration: {
      tool: [
        {
          name: "Write",
          input: {
            file_path: "src/greet.js",
            // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source the scripted agent writes
            content: "export function greet(name) {\n  return `Hello, ${name}!`;\n}\n",
          },
        },
      ],
      summary: "Added src/greet.js exporting greet(name).",
    },
    Review: {
      tool: [{ name: "Read", input: { file_path: "src/greet.js" } }],
      summary: "Reviewed src/greet.js: small and correct, no changes needed.",
    },
    Test: {
      tool: [
        {
          name: "Write",
          input: {
            file_path: "test/greet.test.js",
            content:
              'import assert from "node:assert/strict";\nimport test from "node:test";\nimport { greet } from "../src/greet.js";\n\ntest("greets by name", () => {\n  assert.equal(greet("Miyabi"), "Hello, Miyabi!");\n});\n',
          },
        },
      ],
      summary: "Added test/greet.test.js covering greet().",
    },
    PullRequest: {
      summary: "Ready for a pull request: adds greet(name) in src/greet.js with a test.",
    },
  };
  return (req) => {
    const body = req.body as { messages?: Message[] };
    const users = (body.messages ?? []).filter((m) => m.role === "user");
    const phase = users
      .flatMap((m) => texts(m.content))
      .reverse()
      .map((t) => /in the "(\w+)" phase/.exec(t)?.[1])
      .find((p) => p !== undefined);
    const plan = work[phase ?? ""] ?? { summary: "Nothing to do in this phase." };
    if (hasToolResult(users.at(-1)) || !plan.tool) {
      // The Review step is gated: it ends by handing over its verdict, with its words.
      return phase === "Review"
        ? { text: plan.summary, ...structuredOutputTurn({ verdict: "approve" }) }
        : { text: plan.summary };
    }
    return {
      toolUses: plan.tool.map((t) => ({
        ...t,
        input: {
          ...(t.input as object),
          file_path: path.join(workdir(), (t.input as { file_path: string }).file_path),
        },
      })),
    };
  };
}
