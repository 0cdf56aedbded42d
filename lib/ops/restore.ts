/**
 * `weft restore`: a backup file into the configured store. The whole file is read and checked
 * first (format, checksum, count, every record decodable), so a damaged or truncated file writes
 * nothing; then it is written, and the whole-store invariant check runs on the result. Secrets
 * stay as stored (hashes, signing keys): nothing is re-keyed.
 * @module
 */
import { openBackupFile, verifyBackupFile } from "../backup/file.ts";
import { SCHEMA_VERSION, storedSchemaVersion } from "../store/migrations.ts";
import { fillTarget, reportCheck } from "./target.ts";
import { formatCount, formatSeconds, formatSize, kindLines, type Output } from "./progress.ts";

/** Options of {@linkcode runRestore}. */
export interface RestoreOptions {
  from: string;
  force: boolean;
  /** How the operator names the target store (for messages). */
  where: string;
}

/** Restores and returns the invariant violations found afterwards (empty = consistent). */
export async function runRestore(
  kv: Deno.Kv,
  options: RestoreOptions,
  out: Output,
): Promise<string[]> {
  const started = Date.now();
  const { header, totals } = await verifyBackupFile(
    options.from,
    (t) => out.progress(`Checking the backup: ${formatCount(t.records)} records`),
  );
  out.done();
  if (header.schemaVersion > SCHEMA_VERSION) {
    throw new Error(
      `Cannot restore "${options.from}": it was written by a newer Weft (schema ${header.schemaVersion}; this one knows ${SCHEMA_VERSION}). Use that Weft or a newer one`,
    );
  }
  const scope = header.scope.kind === "tenant" ? { tenant: header.scope.tenant } : {};
  if (scope.tenant) {
    const current = await storedSchemaVersion(kv);
    if (current !== null && current !== header.schemaVersion) {
      throw new Error(
        `Cannot restore tenant ${scope.tenant.subdomain} into this store: the backup has schema ${header.schemaVersion}, the store ${current}. Restore it into an empty store and start Weft there first (it migrates), then back the tenant up again`,
      );
    }
  }
  const reader = await openBackupFile(options.from);
  const written = await fillTarget(
    kv,
    { where: options.where, from: options.from, scope, force: options.force },
    () => reader.records(),
    out,
  );
  const skipped = totals.records - written;
  out.line(
    `Restored ${formatCount(written)} records (${header.mode} backup of ${
      scope.tenant ? `tenant ${scope.tenant.subdomain}` : "a whole store"
    }, taken ${header.createdAt}, ${formatSize(totals.rawBytes)}) in ${
      formatSeconds(Date.now() - started)
    }` +
      (skipped ? `; ${formatCount(skipped)} expired since the backup and were left out.` : "."),
  );
  for (const l of kindLines(totals.kinds)) out.line(l);
  if (header.schemaVersion < SCHEMA_VERSION) {
    out.line(
      `The backup has schema ${header.schemaVersion}: the next start migrates it to ${SCHEMA_VERSION}.`,
    );
  }
  return await reportCheck(kv, scope, out);
}
