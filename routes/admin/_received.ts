/**
 * The attributes IdPs actually sent, as mirroring source paths: for the mirroring editor's list
 * to pick from (each with a sample value and how many sampled users have it), and to warn about a
 * rule that no sampled user has a value for.
 * @module
 */
import type { IdpUser, MirrorRule } from "../../lib/store/types.ts";
import { selectValues } from "../../lib/scim/filter/select.ts";
import { canonicalSourcePath } from "../../lib/scim/source_path.ts";

/** A source path seen in the sampled rows. */
export interface ReceivedPath {
  path: string;
  sample: string;
  users: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The source paths of one row's leaves: `emails[type eq "work"].value`, `urn:…:User:department`. */
function pathsOf(value: unknown, path: string, out: Map<string, string>, depth = 0): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isObject(item) && typeof item.type === "string" && /^[\w-]{1,40}$/.test(item.type)) {
        pathsOf(item, `${path}[type eq "${item.type}"]`, out, depth);
      } else pathsOf(item, path, out, depth);
    }
    return;
  }
  if (isObject(value)) {
    // An extension's attributes follow its URN after a colon (RFC 7644 §3.10).
    const sep = depth === 1 && /^urn:/i.test(path) ? ":" : ".";
    for (const [k, v] of Object.entries(value)) {
      if (k === "type" && path.endsWith("]")) continue;
      pathsOf(v, path ? `${path}${sep}${k}` : k, out, depth + 1);
    }
    return;
  }
  if (value === null || value === undefined || value === "" || !path) return;
  if (!out.has(path)) out.set(path, String(value));
}

/** The paths the sampled rows carry, most common first. */
export function receivedPaths(rows: IdpUser[]): ReceivedPath[] {
  const seen = new Map<string, ReceivedPath>();
  for (const row of rows) {
    const paths = new Map<string, string>();
    pathsOf(row.resource, "", paths);
    if (row.externalId) paths.set("externalId", row.externalId);
    for (const [path, sample] of paths) {
      const hit = seen.get(path);
      if (hit) hit.users++;
      else seen.set(path, { path, sample: sample.slice(0, 80), users: 1 });
    }
  }
  return [...seen.values()].sort((a, b) => b.users - a.users || a.path.localeCompare(b.path));
}

/** The enabled rules no sampled row has a value for (none when there is no sample). */
export function rulesWithoutValues(rules: MirrorRule[], rows: IdpUser[]): Set<string> {
  const out = new Set<string>();
  if (rows.length === 0) return out;
  for (const rule of rules) {
    if (!rule.enabled) continue;
    const found = rows.some((row) =>
      rule.sources.some((s) => {
        const source = canonicalSourcePath(s);
        if (source.toLowerCase() === "externalid") return !!row.externalId;
        try {
          return selectValues(row.resource, source, "User").some((v) => v !== "" && v !== null);
        } catch {
          return false;
        }
      })
    );
    if (!found) out.add(rule.field);
  }
  return out;
}
