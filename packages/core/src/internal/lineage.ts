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

/*
 * Walks are iterative with explicit stacks: a lineage can be tens of thousands of handoffs deep,
 * far past what the call stack holds.
 */

/** `id` and everything handed off from it, depth first in child order; each session once. */
export function treeOf(root: DiskSession, lookup: Lookup): TreeNode<DiskSession> {
  const seen = new Set<string>([root.id]);
  const top: TreeNode<DiskSession> = { session: root, children: [] };
  // Children are pushed in reverse, so they are visited (and claimed by `seen`) in child order,
  // exactly as a recursive depth-first walk would.
  const stack: { node: TreeNode<DiskSession>; parent: TreeNode<DiskSession> | null }[] = [
    { node: top, parent: null },
  ];
  while (stack.length > 0) {
    const { node, parent } = stack.pop() as (typeof stack)[number];
    if (parent) {
      if (seen.has(node.session.id)) continue;
      seen.add(node.session.id);
      parent.children.push(node);
    }
    const ids = node.session.child_sessions;
    for (let i = ids.length - 1; i >= 0; i--) {
      const child = lookup(ids[i] as string);
      if (child && !seen.has(child.id))
        stack.push({ node: { session: child, children: [] }, parent: node });
    }
  }
  return top;
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
  const top: TreeNode<B> = { session: fn(node.session), children: [] };
  const stack: [TreeNode<A>, TreeNode<B>][] = [[node, top]];
  while (stack.length > 0) {
    const [from, to] = stack.pop() as [TreeNode<A>, TreeNode<B>];
    for (const child of from.children) {
      const mapped: TreeNode<B> = { session: fn(child.session), children: [] };
      to.children.push(mapped);
      stack.push([child, mapped]);
    }
  }
  return top;
}
