/**
 * Reading and writing whole stores or one tenant, record by record, for backup, restore and
 * `store copy`. Generic over keys: a whole-store dump is every record of the store, a tenant's is
 * everything under `["t", <tenant id>]` with its registry records (`tenants`,
 * `tenants_by_subdomain`) and the schema version, so kinds added later are covered unchanged.
 * What is kept of records that expire is `retention.ts`'s.
 *
 * A listing reads a page of records at a time, each page one consistent snapshot; across pages,
 * writes made meanwhile may or may not be seen (see `write_pause.ts` for a point-in-time copy).
 * @module
 */
import { keys } from "./keys.ts";
import { expiryOf } from "./retention.ts";
import { withLockRetry } from "./kv.ts";
import { getTenant, getTenantBySubdomain } from "./tenants.ts";
import type { Tenant } from "./types.ts";

/** One record as stored: key, value, and when it expires (epoch ms) if it does. */
export interface StoredRecord {
  key: Deno.KvKey;
  value: unknown;
  expiresAt?: number;
}

/** What a dump covers: the whole store, or one tenant. */
export type DumpScope = { tenant?: Tenant };

/** Records read per listing page. */
const PAGE = 500;

function kept(e: Deno.KvEntry<unknown>, now: number): StoredRecord | null {
  const at = expiryOf(e.key, e.value, now);
  if (at === null) return null;
  return at === undefined
    ? { key: e.key, value: e.value }
    : { key: e.key, value: e.value, expiresAt: at };
}

/** Every record of `scope` that a backup keeps, with the expiry it is to be restored with. */
export async function* readRecords(
  kv: Deno.Kv,
  scope: DumpScope,
  now = Date.now(),
): AsyncGenerator<StoredRecord> {
  const t = scope.tenant;
  const selector = t ? { prefix: keys.tenantData(t.id) } : { prefix: [] };
  if (t) {
    // The registry records and the schema version, read one by one.
    const single = [keys.schemaVersion(), keys.tenant(t.id), keys.tenantBySubdomain(t.subdomain)];
    for (const e of await kv.getMany(single)) {
      const r = e.versionstamp === null ? null : kept(e as Deno.KvEntry<unknown>, now);
      if (r) yield r;
    }
  }
  for await (const e of kv.list(selector, { batchSize: PAGE })) {
    const r = kept(e, now);
    if (r) yield r;
  }
}

/** Limits of one atomic write (Deno's and denokv's: 1,000 mutations, 800 KiB), with margin. */
const BATCH_RECORDS = 400;
const BATCH_BYTES = 400 * 1024;
/** Batches committed at once. */
const IN_FLIGHT = 4;

/**
 * Writes records in batched atomic operations, without checks (the target was found empty, or
 * cleared, first). `size` is each record's encoded size, so a batch stays within KV's limits.
 * A record whose expiry has passed is skipped. Returns how many were written.
 */
export async function writeRecords(
  kv: Deno.Kv,
  records: AsyncIterable<StoredRecord & { size: number }>,
  onBatch?: (written: number) => void,
): Promise<number> {
  let written = 0;
  let batch: StoredRecord[] = [];
  let bytes = 0;
  const pending = new Set<Promise<void>>();
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    bytes = 0;
    const now = Date.now();
    const op = kv.atomic();
    let n = 0;
    for (const r of items) {
      if (r.expiresAt === undefined) op.set(r.key, r.value);
      else if (r.expiresAt > now) op.set(r.key, r.value, { expireIn: r.expiresAt - now });
      else continue;
      n++;
    }
    const p = withLockRetry(() => op.commit()).then((res) => {
      if (!res.ok) throw new Error("Cannot write restored records: the commit was refused");
      written += n;
      onBatch?.(written);
    });
    const tracked = p.finally(() => pending.delete(tracked));
    pending.add(tracked);
    if (pending.size >= IN_FLIGHT) await Promise.race(pending);
  };
  for await (const r of records) {
    if (batch.length >= BATCH_RECORDS || bytes + r.size > BATCH_BYTES) await flush();
    batch.push(r);
    bytes += r.size;
  }
  await flush();
  await Promise.all(pending);
  return written;
}

/** The marker of a restore or copy under way (written first, removed when all is written). */
export interface RestoreMarker {
  startedAt: string;
  from: string;
}

/** Marks the store as being restored: an instance refuses to serve it until the marker is gone. */
export async function markRestoring(kv: Deno.Kv, from: string): Promise<void> {
  const marker: RestoreMarker = { startedAt: new Date().toISOString(), from };
  await withLockRetry(() => kv.set(keys.restoreMarker(), marker));
}

/** Removes the marker of {@linkcode markRestoring}. */
export async function unmarkRestoring(kv: Deno.Kv): Promise<void> {
  await withLockRetry(() => kv.delete(keys.restoreMarker()));
}

/** The marker of a restore that has not finished, if any. */
export async function restoreUnderWay(kv: Deno.Kv): Promise<RestoreMarker | null> {
  return (await kv.get<RestoreMarker>(keys.restoreMarker())).value;
}

/**
 * What already occupies the place a dump of `scope` would be restored to: up to `limit` keys a
 * backup would keep (a whole store: any; a tenant: its records, its id or its subdomain).
 */
export async function occupied(kv: Deno.Kv, scope: DumpScope, limit = 5): Promise<string[]> {
  const found: string[] = [];
  const t = scope.tenant;
  if (t) {
    if (await getTenant(kv, t.id)) found.push(`tenant id ${t.id}`);
    const bySub = await getTenantBySubdomain(kv, t.subdomain);
    if (bySub) found.push(`subdomain ${t.subdomain} (tenant ${bySub.id})`);
    for await (const e of kv.list({ prefix: keys.tenantData(t.id) }, { limit: 1 })) {
      found.push(`records under ${JSON.stringify(e.key.slice(0, 3))}`);
    }
    return found;
  }
  for await (const e of kv.list({ prefix: [] })) {
    if (expiryOf(e.key, e.value, Date.now()) === null) continue;
    found.push(JSON.stringify(e.key.map((p) => typeof p === "string" ? p : String(p))));
    if (found.length >= limit) break;
  }
  return found;
}

/**
 * Deletes what a restore of `scope` replaces: the whole store, or the tenant's records and its
 * registry entries. Refuses when the tenant's subdomain belongs to another tenant.
 */
export async function clearScope(kv: Deno.Kv, scope: DumpScope): Promise<number> {
  const t = scope.tenant;
  if (t) {
    const bySub = await getTenantBySubdomain(kv, t.subdomain);
    if (bySub && bySub.id !== t.id) {
      throw new Error(
        `Cannot replace tenant ${t.subdomain}: the subdomain belongs to another tenant (${bySub.id})`,
      );
    }
  }
  const selectors: Deno.KvListSelector[] = t
    ? [{ prefix: keys.tenantData(t.id) }]
    : [{ prefix: [] }];
  let deleted = 0;
  for (const selector of selectors) {
    let batch: Deno.KvKey[] = [];
    const flush = async () => {
      const op = kv.atomic();
      for (const k of batch) op.delete(k);
      await withLockRetry(() => op.commit());
      deleted += batch.length;
      batch = [];
    };
    for await (const e of kv.list(selector, { batchSize: PAGE })) {
      // The marker of the restore under way stays.
      if (!t && e.key[0] === "meta" && e.key[1] === "restore") continue;
      batch.push(e.key);
      if (batch.length >= BATCH_RECORDS) await flush();
    }
    if (batch.length) await flush();
  }
  if (t) {
    await withLockRetry(() =>
      kv.atomic().delete(keys.tenant(t.id)).delete(keys.tenantBySubdomain(t.subdomain)).commit()
    );
  }
  return deleted;
}
