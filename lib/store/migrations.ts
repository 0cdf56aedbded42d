/**
 * Store migrations, run at start-up before anything is served from a store written by an older
 * Weft. The schema version lives under `["meta", "schema"]`; each step is idempotent, so a crash
 * mid-way is finished by the next start.
 * @module
 */
import { keys } from "./keys.ts";
import { withLockRetry } from "./kv.ts";
import { listTenants } from "./tenants.ts";
import type { Group, IdpUser } from "./types.ts";

/** The schema this code reads and writes. */
export const SCHEMA_VERSION = 2;
const VERSION_KEY = ["meta", "schema"];

/** Brings the store to {@linkcode SCHEMA_VERSION}; returns what was done, for the start-up log. */
export async function migrate(kv: Deno.Kv): Promise<string[]> {
  const version = (await kv.get<number>(VERSION_KEY)).value ?? 1;
  const done: string[] = [];
  if (version < 2) {
    const tenants = await listTenants(kv);
    if (tenants.length) {
      const moved = await foldNameIndexes(kv, tenants.map((t) => t.id));
      done.push(`Schema 2: name indexes folded (${moved.moved} moved, ${moved.clashes} clashes).`);
    }
  }
  if (version < SCHEMA_VERSION) {
    await withLockRetry(() => kv.set(VERSION_KEY, SCHEMA_VERSION));
  }
  return done;
}

/**
 * Schema 2 keys userName, e-mail and group-name indexes by `foldName()` instead of lower case.
 * Each entry is moved to its folded key; where two names now fold alike, the first keeps the
 * index entry and the clash is counted (both records stay untouched and readable by id).
 */
async function foldNameIndexes(
  kv: Deno.Kv,
  tenantIds: string[],
): Promise<{ moved: number; clashes: number }> {
  let moved = 0;
  let clashes = 0;
  const move = async (oldKey: Deno.KvKey, newKey: Deno.KvKey, value: unknown) => {
    if (JSON.stringify(oldKey) === JSON.stringify(newKey)) return;
    const [old, taken] = await kv.getMany([oldKey, newKey]);
    if (old.versionstamp === null) return;
    const op = kv.atomic().check(old).delete(oldKey);
    if (taken.versionstamp === null) op.check(taken).set(newKey, value);
    else clashes++;
    if ((await withLockRetry(() => op.commit())).ok) moved++;
  };
  for (const tenantId of tenantIds) {
    for await (const e of kv.list<IdpUser>({ prefix: ["t", tenantId, "idp_users"] })) {
      const link = e.value;
      const userName = String(link.resource.userName ?? "");
      await move(
        [...keys.idpUserByUserName(tenantId, link.idpId, "").slice(0, -1), userName.toLowerCase()],
        keys.idpUserByUserName(tenantId, link.idpId, userName),
        link.userId,
      );
      const emails = Array.isArray(link.resource.emails) ? link.resource.emails : [];
      for (const email of emails) {
        const value = (email as { value?: unknown })?.value;
        if (typeof value !== "string") continue;
        const prefix = keys.idpUsersByEmail(tenantId, link.idpId, "").slice(0, -1);
        await move(
          [...prefix, value.toLowerCase(), link.userId],
          keys.idpUserByEmail(tenantId, link.idpId, value, link.userId),
          null,
        );
      }
    }
    for await (const e of kv.list<Group>({ prefix: ["t", tenantId, "groups"] })) {
      const g = e.value;
      await move(
        [...keys.groupByName(tenantId, g.idpId, "").slice(0, -1), g.displayName.toLowerCase()],
        keys.groupByName(tenantId, g.idpId, g.displayName),
        g.id,
      );
    }
  }
  return { moved, clashes };
}
