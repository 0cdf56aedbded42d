/**
 * `weft backup`: the whole store or one tenant to a backup file, while the service keeps serving.
 * Live by default (each record as it was when read); `--point-in-time` pauses writes on every
 * instance for the length of the read (see `point_in_time.ts`).
 * @module
 */
import { type DumpScope, readRecords } from "../store/dump.ts";
import { SCHEMA_VERSION, storedSchemaVersion } from "../store/migrations.ts";
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  type BackupHeader,
  writeBackupFile,
} from "../backup/file.ts";
import { withWritePause } from "./point_in_time.ts";
import { formatCount, formatSeconds, formatSize, kindLines, type Output } from "./progress.ts";
import { plural } from "../words.ts";

/** Options of {@linkcode runBackup}. */
export interface BackupOptions {
  out: string;
  scope: DumpScope;
  pointInTime: boolean;
  /** Longest write pause (point-in-time only). */
  pauseMaxMs: number;
}

/** Writes the backup and prints its summary. */
export async function runBackup(kv: Deno.Kv, options: BackupOptions, out: Output): Promise<void> {
  const started = Date.now();
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_FORMAT_VERSION,
    schemaVersion: (await storedSchemaVersion(kv)) ?? SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    mode: options.pointInTime ? "point-in-time" : "live",
    scope: options.scope.tenant
      ? { kind: "tenant", tenant: options.scope.tenant }
      : { kind: "store" },
  };
  const write = () =>
    writeBackupFile(
      options.out,
      header,
      readRecords(kv, options.scope),
      (t) =>
        out.progress(`Backing up: ${formatCount(t.records)} records, ${formatSize(t.rawBytes)}`),
    );
  let pauseLine = "";
  let totals;
  try {
    totals = options.pointInTime
      ? await withWritePause(kv, {
        by: "weft backup",
        maxMs: options.pauseMaxMs,
        onWait: (acked, live) =>
          out.progress(`Pausing writes: ${acked} of ${plural(live, "instance")} holding`),
      }, async (held) => {
        const t = await write();
        pauseLine = `Writes held on ${plural(held.instances, "instance")} for ${
          formatSeconds(Date.now() - Date.parse(held.pause.requestedAt))
        } (acknowledged in ${formatSeconds(held.waitedMs)}).`;
        return t;
      })
      : await write();
  } catch (error) {
    // A copy that outlasted its pause is not point-in-time: no file is left that claims to be.
    if (options.pointInTime) await Deno.remove(options.out).catch(() => {});
    throw error;
  } finally {
    out.done();
  }
  const scope = options.scope.tenant
    ? `tenant ${options.scope.tenant.subdomain}`
    : "the whole store";
  out.line(`Backed up ${scope} (${header.mode}, schema ${header.schemaVersion}) to ${options.out}`);
  if (pauseLine) out.line(pauseLine);
  out.line(
    `${formatCount(totals.records)} records, ${formatSize(totals.rawBytes)} of records, ${
      formatSize(totals.fileBytes)
    } compressed, in ${formatSeconds(Date.now() - started)}`,
  );
  for (const l of kindLines(totals.kinds)) out.line(l);
}
