/**
 * Store migrations, run at start-up before anything is served from a store written by an older
 * Weft. The schema version lives under `keys.schemaVersion()`; each step is idempotent, so a crash
 * mid-way is finished by the next start.
 * @module
 */
import { keys } from "./keys.ts";
import { withLockRetry } from "./kv.ts";
import { tryLease } from "./lease.ts";
import { listIdps, listTenants, samlSettingsFrom } from "./tenants.ts";
import type { Group, IdpUser } from "./types.ts";

/** The schema this code reads and writes. */
export const SCHEMA_VERSION = 3;
const VERSION_KEY = keys.schemaVersion();

/** The schema version a store was written with (null on an empty store, which has none yet). */
export async function storedSchemaVersion(kv: Deno.Kv): Promise<number | null> {
  return (await kv.get<number>(VERSION_KEY)).value;
}

/** Thrown when the store was written by a newer Weft (a higher schema version). */
export class NewerStoreError extends Error {
  constructor(readonly storeVersion: number) {
    super(
      `Cannot use this store: it was written by a newer Weft (schema ${storeVersion}; this one knows ${SCHEMA_VERSION}). Run that version or a newer one`,
    );
    this.name = "NewerStoreError";
  }
}

/** Throws {@linkcode NewerStoreError} when the store's schema is newer than this code's. */
export async function refuseNewerStore(kv: Deno.Kv): Promise<void> {
  const version = await storedSchemaVersion(kv);
  if (version !== null && version > SCHEMA_VERSION) throw new NewerStoreError(version);
}

/** Brings the store to {@linkcode SCHEMA_VERSION}; returns what was done, for the start-up log. */
export async function migrate(kv: Deno.Kv): Promise<string[]> {
  const version = (await kv.get<number>(VERSION_KEY)).value ?? 1;
  if (version > SCHEMA_VERSION) throw new NewerStoreError(version);
  const done: string[] = [];
  if (version < 2) {
    const tenants = await listTenants(kv);
    if (tenants.length) {
      const moved = await foldNameIndexes(kv, tenants.map((t) => t.id));
      done.push(`Schema 2: name indexes folded (${moved.moved} moved, ${moved.clashes} clashes).`);
    }
  }
  if (version < 3) {
    const moved = await moveSamlFields(kv, (await listTenants(kv)).map((t) => t.id));
    if (moved) done.push(`Schema 3: SAML settings of ${moved} IdP connection(s) moved.`);
  }
  if (version < SCHEMA_VERSION) {
    await withLockRetry(() => kv.set(VERSION_KEY, SCHEMA_VERSION));
  }
  return done;
}

/** How long the migration lease lives without renewal. */
const LEASE_TTL_MS = 30_000;

/**
 * {@linkcode migrate} run by one instance at a time: each takes the migration lease first; one
 * that finds it held waits until the holder is done (or its lease expires, when it died) and then
 * finds nothing left to do. So instances starting together migrate once.
 */
export async function migrateOnce(kv: Deno.Kv, holder = crypto.randomUUID()): Promise<string[]> {
  for (;;) {
    const version = await storedSchemaVersion(kv);
    if (version !== null && version > SCHEMA_VERSION) throw new NewerStoreError(version);
    if (version === SCHEMA_VERSION) return [];
    const lease = await tryLease(kv, keys.migrationLease(), holder, LEASE_TTL_MS);
    if (lease) {
      try {
        return await migrate(kv);
      } finally {
        await lease.release();
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
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
    for await (const e of kv.list<IdpUser>({ prefix: keys.allIdpUsers(tenantId) })) {
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
    for await (const e of kv.list<Group>({ prefix: keys.allGroups(tenantId) })) {
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

/**
 * Schema 3 keeps SAML settings in their own record. Connections created with the three SAML
 * fields on the IdP record get a settings record made from them, where none exists yet; the IdP
 * record itself is left as it is (records are written once).
 */
async function moveSamlFields(kv: Deno.Kv, tenantIds: string[]): Promise<number> {
  let moved = 0;
  for (const tenantId of tenantIds) {
    for (const idp of await listIdps(kv, tenantId)) {
      const saml = idp.saml;
      if (!saml || !(saml.entityId || saml.ssoUrl || saml.certificate)) continue;
      const key = keys.idpSaml(tenantId, idp.id);
      const settings = samlSettingsFrom(tenantId, idp.id, saml, "migration", idp.createdAt);
      const res = await withLockRetry(() =>
        kv.atomic().check({ key, versionstamp: null }).set(key, settings).commit()
      );
      if (res.ok) moved++;
    }
  }
  return moved;
}
