/**
 * The console's user list: users of the tenant or of one IdP, by status, with search by userName
 * or email prefix (or a pasted id) through the per-IdP indexes, paged by cursor, and a user's
 * groups and IdP rows. Every page is bounded: a filter that cannot use an index examines at most
 * {@linkcode PAGE_SCAN_LIMIT} records and hands back a cursor to continue.
 * @module
 */
import { keys } from "./keys.ts";
import { fromCursor, getManyBatched, InvalidCursorError } from "./kv.ts";
import type { Group, Idp, IdpUser, User } from "./types.ts";
import { listIdps } from "./tenants.ts";
import { listUserGroupIds } from "./memberships.ts";

/** Most records one console page examines when a filter cannot use an index. */
export const PAGE_SCAN_LIMIT = 5000;
/** Most ids a search collects from the indexes. */
const SEARCH_LIMIT = 1000;

/** Console user list query. */
export interface UserListQuery {
  /** Prefix of userName or email (case-insensitive) or of externalId (exact case), or an id. */
  q?: string;
  status?: "active" | "deactivated";
  idpId?: string;
  cursor?: string;
  limit?: number;
}

/** One page of users. */
export interface UserPage {
  users: User[];
  cursor?: string;
  /** True when the page stopped at the scan bound before filling: continue with the cursor. */
  partial: boolean;
}

function encodeOffset(n: number): string {
  return `o${n}`;
}

function decodeOffset(cursor: string | undefined): number {
  if (cursor === undefined || cursor === "") return 0;
  const m = /^o(\d{1,7})$/.exec(cursor);
  if (!m) throw new InvalidCursorError();
  return Number(m[1]);
}

/** A `[start, end)` range of all keys under `prefix` whose next part starts with `text`. */
export function prefixRange(prefix: Deno.KvKey, text: string): Deno.KvListSelector {
  return { start: [...prefix, text], end: [...prefix, text + "\uffff"] };
}

/** Users of the tenant, newest-id order, filtered and paged. */
export async function listDirectoryUsers(
  kv: Deno.Kv,
  tenantId: string,
  query: UserListQuery,
): Promise<UserPage> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const keep = (u: User) => !query.status || u.status === query.status;
  const raw = query.q?.trim();
  if (raw) return await searchUsers(kv, tenantId, raw, query, limit, keep);

  // Without a search: walk the IdP's linked users, or all canonical users, in key order.
  const selector = query.idpId
    ? { prefix: keys.idpUsers(tenantId, query.idpId) }
    : { prefix: keys.users(tenantId) };
  const iter = kv.list<unknown>(selector, {
    cursor: query.cursor || undefined,
    batchSize: Math.min(500, limit * 2),
  });
  const users: User[] = [];
  let scanned = 0;
  let exhausted = true;
  let batch: string[] = [];
  const flush = async () => {
    const loaded = await getManyBatched<User>(kv, batch.map((id) => keys.user(tenantId, id)));
    for (const e of loaded) if (e.value && keep(e.value)) users.push(e.value);
    batch = [];
  };
  await fromCursor(async () => {
    for await (const entry of iter) {
      scanned++;
      if (query.idpId) batch.push(String(entry.key.at(-1)));
      else if (keep(entry.value as User)) users.push(entry.value as User);
      // Load in batches, but never more ids than the page still needs (each yields at most one).
      if (batch.length >= Math.min(50, limit - users.length)) await flush();
      if (users.length >= limit || scanned >= PAGE_SCAN_LIMIT) {
        exhausted = false;
        break;
      }
    }
  });
  if (batch.length) await flush();
  const more = !exhausted;
  return {
    users: users.slice(0, limit),
    cursor: more ? iter.cursor : undefined,
    partial: more && users.length < limit,
  };
}

async function searchUsers(
  kv: Deno.Kv,
  tenantId: string,
  raw: string,
  query: UserListQuery,
  limit: number,
  keep: (u: User) => boolean,
): Promise<UserPage> {
  const q = raw.toLowerCase();
  const ids = new Set<string>();
  // A pasted user id finds that user.
  if (/^[0-9a-f-]{36}$/.test(q)) {
    const direct = (await kv.get<User>(keys.user(tenantId, q))).value;
    if (direct) ids.add(direct.id);
  }
  const idps = query.idpId ? [query.idpId] : (await listIdps(kv, tenantId)).map((i) => i.id);
  for (const idpId of idps) {
    const byName = keys.idpUserByUserName(tenantId, idpId, "").slice(0, -1);
    for await (const e of kv.list<string>(prefixRange(byName, q), { limit: SEARCH_LIMIT })) {
      ids.add(e.value);
    }
    const byEmail = keys.idpUsersByEmail(tenantId, idpId, "").slice(0, -1);
    for await (const e of kv.list(prefixRange(byEmail, q), { limit: SEARCH_LIMIT })) {
      ids.add(String(e.key.at(-1)));
    }
    // The IdP's own id for the person (Okta's `00u…`, Entra's object id), as the IdP spells it:
    // unique where the IdP merges on it, in the non-unique index where it does not.
    const unique = keys.idpUserByExternalId(tenantId, idpId, "").slice(0, -1);
    for await (const e of kv.list<string>(prefixRange(unique, raw), { limit: SEARCH_LIMIT })) {
      ids.add(e.value);
    }
    const any = keys.idpUsersByExternalIdAny(tenantId, idpId, "").slice(0, -1);
    for await (const e of kv.list(prefixRange(any, raw), { limit: SEARCH_LIMIT })) {
      ids.add(String(e.key.at(-1)));
    }
    if (ids.size >= SEARCH_LIMIT) break;
  }
  const loaded = await getManyBatched<User>(kv, [...ids].map((id) => keys.user(tenantId, id)));
  const all = loaded.flatMap((e) => e.value && keep(e.value) ? [e.value] : [])
    .sort((a, b) => a.userName.localeCompare(b.userName));
  const offset = decodeOffset(query.cursor);
  const page = all.slice(offset, offset + limit);
  return {
    users: page,
    cursor: offset + limit < all.length ? encodeOffset(offset + limit) : undefined,
    partial: false,
  };
}

/** The groups a user belongs to, across the tenant's IdPs (each group belongs to one IdP). */
export async function groupsOfUser(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  idps: Idp[],
): Promise<Group[]> {
  const ids = await listUserGroupIds(kv, tenantId, userId, 500);
  if (!ids.length) return [];
  const pairs = idps.flatMap((idp) => ids.map((id) => keys.group(tenantId, idp.id, id)));
  const entries = await getManyBatched<Group>(kv, pairs);
  return entries.flatMap((e) => e.value ? [e.value] : [])
    .sort((a, b) => a.displayName.localeCompare(b.displayName));
}

/** Every IdP row of a user (what each IdP sent). */
export async function idpRowsOfUser(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  idps: Idp[],
): Promise<IdpUser[]> {
  const entries = await getManyBatched<IdpUser>(
    kv,
    idps.map((idp) => keys.idpUser(tenantId, idp.id, userId)),
  );
  return entries.flatMap((e) => e.value ? [e.value] : []);
}

/**
 * The id of the user or group a filter names, in any IdP: a user by userName, externalId
 * (also one the IdP has since deleted) or work email, a group by displayName or externalId.
 */
export async function idOfNamed(
  kv: Deno.Kv,
  tenantId: string,
  name: string,
): Promise<string | null> {
  for (const idp of await listIdps(kv, tenantId)) {
    const [user, external, unlinked, group, groupExternal] = await kv.getMany<
      [string, string, string, string, string]
    >([
      keys.idpUserByUserName(tenantId, idp.id, name),
      keys.idpUserByExternalId(tenantId, idp.id, name),
      keys.idpUnlinkedByExternalId(tenantId, idp.id, name),
      keys.groupByName(tenantId, idp.id, name),
      keys.groupByExternalId(tenantId, idp.id, name),
    ]);
    const found = user.value ?? external.value ?? unlinked.value ?? group.value ??
      groupExternal.value;
    if (found) return found;
    const first = { limit: 1 };
    for await (
      const e of kv.list({ prefix: keys.idpUsersByExternalIdAny(tenantId, idp.id, name) }, first)
    ) {
      return String(e.key.at(-1));
    }
    for await (
      const e of kv.list({ prefix: keys.idpUsersByEmail(tenantId, idp.id, name) }, first)
    ) {
      return String(e.key.at(-1));
    }
  }
  return null;
}

/** Up to `limit` IdP attribute rows of the tenant, spread over its IdPs (the console's samples). */
export async function sampleIdpRows(
  kv: Deno.Kv,
  tenantId: string,
  limit = 200,
): Promise<IdpUser[]> {
  const idps = await listIdps(kv, tenantId);
  const per = Math.max(1, Math.ceil(limit / Math.max(1, idps.length)));
  const rows = await Promise.all(
    idps.map((idp) =>
      Array.fromAsync(kv.list<IdpUser>({ prefix: keys.idpUsers(tenantId, idp.id) }, { limit: per }))
    ),
  );
  return rows.flat().map((e) => e.value).slice(0, limit);
}
