import type { RepoPermission } from "./ports.js";

const WRITE_ROLES = new Set(["admin", "maintain", "write"]);

/** Write, maintain or admin access: who may start the pipeline and steer it in comments. */
export function hasWriteAccess(p: RepoPermission): boolean {
  return WRITE_ROLES.has(p.role) || WRITE_ROLES.has(p.permission);
}
