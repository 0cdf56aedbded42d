/**
 * What `restore` and `store copy` share about the store they write: it must be empty for what
 * they bring (or be cleared when told), it is marked while they write so no instance starts on
 * half a store, and afterwards the whole-store invariant check runs and is reported.
 * @module
 */
import {
  clearScope,
  type DumpScope,
  markRestoring,
  occupied,
  type StoredRecord,
  unmarkRestoring,
  writeRecords,
} from "../store/dump.ts";
import { checkInvariants, checkStore } from "../store/invariants.ts";
import { formatCount, type Output } from "./progress.ts";
import { plural } from "../words.ts";

/** Thrown when the target store holds data and `--force` was not given. */
export class TargetNotEmptyError extends Error {
  constructor(where: string, found: string[]) {
    super(
      `Cannot write into ${where}: it is not empty (found ${found.join(", ")}). ` +
        "Use an empty store, or --force to replace what is there",
    );
    this.name = "TargetNotEmptyError";
  }
}

/** Options of {@linkcode fillTarget}. */
export interface FillOptions {
  /** The target, as the operator named it (for messages). */
  where: string;
  /** What the records are from (kept in the marker). */
  from: string;
  scope: DumpScope;
  force: boolean;
}

/**
 * Checks the target is free for `scope` (or clears it with `force`), marks it, writes `records`,
 * and unmarks it. Returns how many records were written.
 */
export async function fillTarget(
  kv: Deno.Kv,
  options: FillOptions,
  records: () => AsyncIterable<StoredRecord & { size: number }>,
  out: Output,
): Promise<number> {
  const found = await occupied(kv, options.scope);
  if (found.length && !options.force) throw new TargetNotEmptyError(options.where, found);
  await markRestoring(kv, options.from);
  if (found.length) {
    const n = await clearScope(kv, options.scope);
    out.line(`Cleared ${formatCount(n)} records from ${options.where} (--force).`);
  }
  const written = await writeRecords(
    kv,
    records(),
    (n) => out.progress(`Writing: ${formatCount(n)} records`),
  );
  out.done();
  await unmarkRestoring(kv);
  return written;
}

/** Runs the invariant check on what was written and prints it; returns the violations. */
export async function reportCheck(kv: Deno.Kv, scope: DumpScope, out: Output): Promise<string[]> {
  let problems: string[];
  let what: string;
  if (scope.tenant) {
    problems = await checkInvariants(kv, scope.tenant.id);
    what = `tenant ${scope.tenant.subdomain}`;
  } else {
    const r = await checkStore(
      kv,
      (n) => out.progress(`Checking invariants: ${plural(n, "tenant")}`),
    );
    out.done();
    problems = r.problems;
    what = plural(r.tenants, "tenant");
  }
  if (problems.length === 0) {
    out.line(`Invariant check: passed (${what}).`);
  } else {
    out.line(`Invariant check: ${plural(problems.length, "problem")} (${what}):`);
    for (const p of problems.slice(0, 50)) out.line(`  ${p}`);
  }
  return problems;
}
