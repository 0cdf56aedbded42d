/**
 * Groups for the directory API, as `loadApiGroups` shows them: the tenant's groups (all IdPs, one
 * after the other, or one IdP's) paged by cursor, found by name through the per-IdP name index,
 * one group by id whatever its IdP, and a user's groups paged over the user's membership rows.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { getManyBatched } from "./kv.ts";
import { loadApiGroups } from "./api_views.ts";
import { type ApiPage, walkPage, type WalkRow } from "./api_pages.ts";
import { getIdp, listIdps } from "./tenants.ts";
import { MissingReferenceError } from "./api_user_list.ts";
import type { Group } from "./types.ts";
import type { ApiGroup } from "../directory/types.ts";

/** The filters and page of a group listing. */
export interface ApiGroupQuery {
  idpId?: string;
  name?: string;
  cursor?: string;
  limit: number;
}

/** Groups by (IdP, id) pairs, aligned with them (null: gone). */
async function loadPairs(
  kv: Deno.Kv,
  tenantId: string,
  pairs: { idpId: string; groupId: string }[],
): Promise<(ApiGroup | null)[]> {
  const byIdp = new Map<string, string[]>();
  for (const p of pairs) byIdp.set(p.idpId, [...(byIdp.get(p.idpId) ?? []), p.groupId]);
  const loaded = new Map<string, ApiGroup>();
  await Promise.all(
    [...byIdp].map(async ([idpId, ids]) => {
      for (const [id, g] of await loadApiGroups(kv, tenantId, idpId, ids)) {
        loaded.set(`${idpId}/${id}`, g);
      }
    }),
  );
  return pairs.map((p) => loaded.get(`${p.idpId}/${p.groupId}`) ?? null);
}

/** Groups of the tenant, filtered and paged. */
export async function listApiGroups(
  kv: Deno.Kv,
  tenantId: string,
  q: ApiGroupQuery,
): Promise<ApiPage<ApiGroup>> {
  if (q.idpId && (!fitsKey(q.idpId) || !(await getIdp(kv, tenantId, q.idpId)))) {
    throw new MissingReferenceError("No IdP connection of this tenant has the id given as idp");
  }
  if (q.name !== undefined) {
    if (!fitsKey(q.name)) return { data: [], next_cursor: null };
    // Names are unique per IdP: one index read per IdP, at most one group each.
    const idpIds = q.idpId ? [q.idpId] : (await listIdps(kv, tenantId)).map((i) => i.id);
    const ids = await getManyBatched<string>(
      kv,
      idpIds.map((idp) => keys.groupByName(tenantId, idp, q.name!)),
    );
    const pairs = idpIds.flatMap((idpId, i) => {
      const groupId = ids[i].value;
      return groupId ? [{ idpId, groupId }] : [];
    });
    const data = (await loadPairs(kv, tenantId, pairs)).filter((g): g is ApiGroup => g !== null);
    return { data: data.slice(0, q.limit), next_cursor: null };
  }
  if (q.idpId) {
    const idpId = q.idpId;
    return await walkPage(kv, keys.groups(tenantId, idpId), q, "groups:idp", {
      load: (rows: WalkRow[]) =>
        loadPairs(kv, tenantId, rows.map((r) => ({ idpId, groupId: r.pos[0] }))),
    });
  }
  // Every group: keys are (IdP, group), so one walk covers the IdPs one after the other.
  return await walkPage(kv, keys.allGroups(tenantId), q, "groups:all", {
    depth: 2,
    load: (rows: WalkRow[]) =>
      loadPairs(kv, tenantId, rows.map((r) => ({ idpId: r.pos[0], groupId: r.pos[1] }))),
  });
}

/** The group with this id, whatever its IdP (a group belongs to one), or null. */
export async function findApiGroup(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
): Promise<ApiGroup | null> {
  if (!fitsKey(groupId)) return null;
  const [group] = await loadPairs(kv, tenantId, await locateGroups(kv, tenantId, [groupId]));
  return group ?? null;
}

/** The IdP of each of these group ids (ids no IdP has are left out). */
async function locateGroups(
  kv: Deno.Kv,
  tenantId: string,
  groupIds: string[],
): Promise<{ idpId: string; groupId: string }[]> {
  const idps = await listIdps(kv, tenantId);
  const entries = await getManyBatched<Group>(
    kv,
    groupIds.flatMap((id) => idps.map((idp) => keys.group(tenantId, idp.id, id))),
  );
  return groupIds.flatMap((groupId, i) => {
    const found = entries.slice(i * idps.length, (i + 1) * idps.length).find((e) => e.value);
    return found?.value ? [{ idpId: found.value.idpId, groupId }] : [];
  });
}

/** The groups a user belongs to, paged over the user's membership rows. */
export async function listApiUserGroups(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  q: { cursor?: string; limit: number },
): Promise<ApiPage<ApiGroup>> {
  return await walkPage(kv, keys.userGroups(tenantId, userId), q, "user_groups", {
    load: async (rows: WalkRow[]) => {
      const ids = rows.map((r) => r.pos[0]);
      const located = new Map(
        (await locateGroups(kv, tenantId, ids)).map((p) => [p.groupId, p] as const),
      );
      const pairs = ids.flatMap((id) => located.has(id) ? [located.get(id)!] : []);
      const groups = new Map(
        (await loadPairs(kv, tenantId, pairs)).flatMap((g) => g ? [[g.id, g] as const] : []),
      );
      return ids.map((id) => groups.get(id) ?? null);
    },
  });
}
