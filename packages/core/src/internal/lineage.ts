import { LineageCycleError } from "./errors.js";
import type { DiskSession } from "./model.js";

type Lookup = (id: string) => DiskSession | undefined;

/**
 * Root -> `id`, following `parent_session`. A visited set turns a hand-edited cycle into an
 * error instead of an endless loop; a parent that is missing (pruned or never merged in) ends the
 * walk there, so the lineage starts at the oldest session still known.
 */
export function lineageOf(start: DiskSession, lookup: Lookup): DiskSession[] {
  const chain: DiskSession[] = [start];
  const seen = new Set<string>([start.id]);
  let current = start;
  while (current.parent_session !== null) {
    const parent = lookup(current.parent_session);
    if (!parent) break;
    if (seen.has(parent.id)) {
      throw new LineageCycleError(start.id, [...chain.map((s) => s.id), parent.id]);
    }
    seen.add(parent.id);
    chain.push(parent);
    current = parent;
  }
  return chain.reverse();
}

export interface TreeNode<T> {
  session: T;
  children: TreeNode<T>[];
}

/** `id` and everything handed off from it, depth first in child order; each session once. */
export function treeOf(root: DiskSession, lookup: Lookup): TreeNode<DiskSession> {
  const seen = new Set<string>();
  const build = (session: DiskSession): TreeNode<DiskSession> => {
    seen.add(session.id);
    const children: TreeNode<DiskSession>[] = [];
    for (const childId of session.child_sessions) {
      const child = lookup(childId);
      if (child && !seen.has(child.id)) children.push(build(child));
    }
    return { session, children };
  };
  return build(root);
}

export function flattenTree<T>(node: TreeNode<T>): T[] {
  const out: T[] = [];
  const stack: TreeNode<T>[] = [node];
  while (stack.length > 0) {
    const next = stack.pop() as TreeNode<T>;
    out.push(next.session);
    for (let i = next.children.length - 1; i >= 0; i--) stack.push(next.children[i] as TreeNode<T>);
  }
  return out;
}

export function mapTree<A, B>(node: TreeNode<A>, fn: (a: A) => B): TreeNode<B> {
  return { session: fn(node.session), children: node.children.map((c) => mapTree(c, fn)) };
}
