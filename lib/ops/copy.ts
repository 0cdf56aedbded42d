/**
 * `weft store copy`: the configured store (or one tenant) into another store, a KV Connect URL or
 * a local file, record by record, with the same rules as a restore (an empty target unless
 * `--force`, the invariant check afterwards) and a count of what the target holds.
 * @module
 */
import { type DumpScope, readRecords, type StoredRecord } from "../store/dump.ts";
import { encodeKey, encodeValue } from "../backup/codec.ts";
import { kindOf } from "../backup/file.ts";
import { withWritePause } from "./point_in_time.ts";
import { fillTarget, reportCheck } from "./target.ts";
import { formatCount, formatSeconds, kindLines, type Output } from "./progress.ts";

/** Options of {@linkcode runCopy}. */
export interface CopyOptions {
  scope: DumpScope;
  /** How the operator names source and target. */
  fromName: string;
  toName: string;
  force: boolean;
  pointInTime: boolean;
  pauseMaxMs: number;
}

async function* sized(
  records: AsyncIterable<StoredRecord>,
  kinds: Map<string, number>,
): AsyncGenerator<StoredRecord & { size: number }> {
  for await (const r of records) {
    const k = kindOf(r.key);
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
    // The encoded size bounds the record's size in an atomic write, as in a backup file.
    const size = JSON.stringify([encodeKey(r.key), encodeValue(r.value)]).length;
    yield { ...r, size };
  }
}

/** Copies and returns the invariant violations found on the target (empty = consistent). */
export async function runCopy(
  source: Deno.Kv,
  target: Deno.Kv,
  options: CopyOptions,
  out: Output,
): Promise<string[]> {
  const started = Date.now();
  const kinds = new Map<string, number>();
  const copy = () =>
    fillTarget(
      target,
      { where: options.toName, from: options.fromName, scope: options.scope, force: options.force },
      () => sized(readRecords(source, options.scope), kinds),
      out,
    );
  const written = options.pointInTime
    ? await withWritePause(source, { by: "weft store copy", maxMs: options.pauseMaxMs }, copy)
    : await copy();
  let onTarget = 0;
  for await (const _ of readRecords(target, options.scope)) onTarget++;
  out.line(
    `Copied ${formatCount(written)} records from ${options.fromName} to ${options.toName} in ${
      formatSeconds(Date.now() - started)
    } (${options.pointInTime ? "point-in-time" : "live"}); the target holds ${
      formatCount(onTarget)
    }.`,
  );
  for (const l of kindLines(kinds)) out.line(l);
  const problems = await reportCheck(target, options.scope, out);
  if (onTarget !== written) {
    problems.push(`the target holds ${onTarget} records where ${written} were written`);
  }
  return problems;
}
