/**
 * The console's group list: groups of one IdP or of all, with search by displayName prefix, paged
 * by cursor, member counts from the maintained counters; a group found by id alone.
 * @module
 */
import { keys } from "./keys.ts";
import { fromCursor, getManyBatched, InvalidCursorError } from "./kv.ts";
import type { Group, Idp } from "./types.ts";
import { listIdps } from "./tenants.ts";
import { countMembers } from "./memberships.ts";
import { prefixRange } from "./user_list.ts";

/** A group with its member count. */
export interface GroupRow {
  group: Group;
  members: number;
}

/** Console group list query. */
export interface GroupListQuery {
  idpId?: string;
  /** Prefix of displayName (case-insensitive). */
  q?: string;
  cursor?: string;
  limit?: number;
}

/** Groups of one IdP or of all IdPs (one after the other), paged; counts from counters. */
export async function listDirectoryGroups(
  kv: Deno.Kv,
  tenantId: string,
  query: GroupListQuery,
): Promise<{ groups: GroupRow[]; cursor?: string }> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const idps = query.idpId ? [query.idpId] : (await listIdps(kv, tenantId)).map((i) => i.id);
  // Cursor: "<idp index>:<kv cursor>".
  const m = query.cursor ? /^(\d{1,4}):(.*)$/.exec(query.cursor) : null;
  if (query.cursor && (!m || Number(m[1]) >= idps.length)) throw new InvalidCursorError();
  let idpIndex = m ? Number(m[1]) : 0;
  let kvCursor = m && m[2] ? m[2] : undefined;
  const groups: Group[] = [];
  let next: string | undefined;
  const q = query.q?.trim().toLowerCase();
  while (idpIndex < idps.length && groups.length < limit) {
    const idpId = idps[idpIndex];
    const selector = q
      ? prefixRange(keys.groupByName(tenantId, idpId, "").slice(0, -1), q)
      : { prefix: keys.groups(tenantId, idpId) };
    const iter = kv.list<unknown>(selector, { cursor: kvCursor, limit: limit - groups.length });
    let n = 0;
    const ids: string[] = [];
    await fromCursor(async () => {
      for await (const e of iter) {
        n++;
        if (q) ids.push(String(e.value));
        else groups.push(e.value as Group);
      }
    });
    if (ids.length) {
      const loaded = await getManyBatched<Group>(
        kv,
        ids.map((id) => keys.group(tenantId, idpId, id)),
      );
      for (const e of loaded) if (e.value) groups.push(e.value);
    }
    if (groups.length >= limit && n > 0) {
      next = `${idpIndex}:${iter.cursor}`;
      break;
    }
    idpIndex++;
    kvCursor = undefined;
  }
  const counts = await Promise.all(groups.map((g) => countMembers(kv, tenantId, g.id)));
  return { groups: groups.map((group, i) => ({ group, members: counts[i] })), cursor: next };
}

/** A group by id when the IdP is not known (tries each IdP). */
export async function findGroup(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
  idps: Idp[],
): Promise<Group | null> {
  const entries = await getManyBatched<Group>(
    kv,
    idps.map((idp) => keys.group(tenantId, idp.id, groupId)),
  );
  return entries.find((e) => e.value)?.value ?? null;
}
