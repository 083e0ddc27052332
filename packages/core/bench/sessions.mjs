// Generated session stores for the benches (the store bench here, the CLI's command bench):
// documents as the seed writes them, so a bench can start from a file of any size at once.
import { randomUUID } from "node:crypto";

/** Depth of the one long handoff chain every generated store holds. */
export const CHAIN = 1001;

function session(id, parent, i, status) {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return {
    id,
    agent_name: ["CodeGenAgent", "ReviewAgent", "TestAgent", "DeployAgent"][i % 4],
    purpose: `Benchmark session ${i}`,
    context: {
      issue_number: Math.floor(i / 10),
      current_phase: ["CodeGeneration", "Review", "Test", "PullRequest"][i % 4],
      worktree_path: `.worktrees/issue-${Math.floor(i / 10)}`,
      previous_results: [],
    },
    created_at: at,
    status,
    parent_session: parent,
    child_sessions: [],
    handoff_to: null,
    error_message: null,
    updated_at: at,
    ended_at: status === "Active" ? null : at,
    result: null,
    process: null,
    retry_of: null,
  };
}

/** n sessions: a 1,001-deep handoff chain, the rest in chains of four (the last Active). */
export function generate(n) {
  const sessions = [];
  let parent = null;
  for (let i = 0; i < CHAIN; i++) {
    const s = session(
      randomUUID(),
      parent?.id ?? null,
      i,
      i === CHAIN - 1 ? "Active" : "HandedOff",
    );
    if (parent) {
      parent.child_sessions.push(s.id);
      parent.handoff_to = s.agent_name;
    }
    sessions.push(s);
    parent = s;
  }
  const leaf = parent.id;
  for (let i = CHAIN; i < n; i++) {
    const first = i % 4 === 0;
    const prev = sessions.at(-1);
    const s = session(
      randomUUID(),
      first ? null : prev.id,
      i,
      i % 4 === 3 ? "Active" : "HandedOff",
    );
    if (!first) {
      prev.child_sessions.push(s.id);
      prev.handoff_to = s.agent_name;
    }
    sessions.push(s);
  }
  return { sessions, leaf };
}
