/**
 * `GET /api/v1/users` and a group's members: users as the API shows them (`loadApiUsers`),
 * filtered and paged by cursor. The most selective filter drives the read — `userName` and
 * `email` through the per-IdP indexes, `group` through the group's member rows, `idp` through the
 * IdP's linked users, else every user — and the others are applied to what it finds. Every page
 * is bounded ({@linkcode SCAN_BOUND} rows examined), so a filter that matches little answers with
 * a shorter page and a cursor rather than a scan.
 * @module
 */
import { fitsKey, foldName, keys } from "./keys.ts";
import { getManyBatched } from "./kv.ts";
import { loadApiUsers } from "./api_views.ts";
import { type ApiPage, walkPage as walk, type WalkRow } from "./api_pages.ts";
import { getIdp, listIdps } from "./tenants.ts";
import { findGroup } from "./group_list.ts";
import { getGroup } from "./groups.ts";
import type { Group, User } from "./types.ts";
import type { ApiUser } from "../directory/types.ts";
import { decodeCursor, encodeCursor } from "../directory/cursor.ts";

export type { ApiPage };

/**
 * Whether the API serves a user: not once its IdP deleted it (SCIM DELETE unlinks the user from
 * the IdP, and the feed says `user.deleted`). The canonical record stays, inactive, for the
 * console, the audit trail and a later relink (which the feed announces as `user.created`).
 */
export function isServed(user: ApiUser): boolean {
  return user.idps.length > 0;
}

/** Most rows one page examines when filters apply after the read. */
export const SCAN_BOUND = 2000;
/** Most users an email's index entries name (per IdP). */
const EMAIL_MATCHES = 1000;

/** Thrown when a filter names an IdP connection or group the tenant does not have. */
export class MissingReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingReferenceError";
  }
}

/** The filters and page of a user listing. */
export interface ApiUserQuery {
  idpId?: string;
  state?: "active" | "inactive";
  email?: string;
  userName?: string;
  groupId?: string;
  cursor?: string;
  limit: number;
}

function loader(kv: Deno.Kv, tenantId: string) {
  return async (rows: WalkRow[]): Promise<(ApiUser | null)[]> => {
    const ids = rows.map((r) => r.pos.at(-1)!);
    const users = await loadApiUsers(kv, tenantId, ids);
    return ids.map((id) => users.get(id) ?? null);
  };
}

async function groupNamed(kv: Deno.Kv, tenantId: string, groupId: string): Promise<Group> {
  const idps = await listIdps(kv, tenantId);
  const found = fitsKey(groupId) ? await findGroup(kv, tenantId, groupId, idps) : null;
  // Read through getGroup, which completes a pending large membership change first.
  const group = found ? await getGroup(kv, tenantId, found.idpId, found.id) : null;
  if (!group) throw new MissingReferenceError("No group of this tenant has the id given as group");
  return group.group;
}

/** Users of the tenant, filtered and paged (see the module documentation). */
export async function listApiUsers(
  kv: Deno.Kv,
  tenantId: string,
  q: ApiUserQuery,
): Promise<ApiPage<ApiUser>> {
  if (q.idpId && (!fitsKey(q.idpId) || !(await getIdp(kv, tenantId, q.idpId)))) {
    throw new MissingReferenceError("No IdP connection of this tenant has the id given as idp");
  }
  const idpIds = q.idpId ? [q.idpId] : (await listIdps(kv, tenantId)).map((i) => i.id);
  const checks: ((u: ApiUser) => boolean)[] = [isServed];
  if (q.state) checks.push((u) => u.state === q.state);
  const load = loader(kv, tenantId);
  const group = q.groupId === undefined ? null : await groupNamed(kv, tenantId, q.groupId);
  if (group && q.idpId && group.idpId !== q.idpId) return { data: [], next_cursor: null };

  if (q.userName !== undefined || q.email !== undefined) {
    // Nothing longer than a stored identifier names a user (and it could not be a key).
    if (![q.userName, q.email].every((s) => s === undefined || fitsKey(s))) {
      return { data: [], next_cursor: null };
    }
    // An index lookup: a handful of users, paged by id.
    const ids = new Set<string>();
    if (q.userName !== undefined) {
      const found = await getManyBatched<string>(
        kv,
        idpIds.map((idp) => keys.idpUserByUserName(tenantId, idp, q.userName!)),
      );
      for (const e of found) if (e.value) ids.add(e.value);
      if (q.email !== undefined) {
        const email = foldName(q.email);
        checks.push((u) => foldName(u.email ?? "") === email);
      }
    } else {
      for (const idp of idpIds) {
        const prefix = keys.idpUsersByEmail(tenantId, idp, q.email!);
        for await (const e of kv.list({ prefix }, { limit: EMAIL_MATCHES })) {
          ids.add(String(e.key.at(-1)));
        }
      }
    }
    if (group) {
      const members = await getManyBatched(
        kv,
        [...ids].map((id) => keys.groupMember(tenantId, group.id, id)),
      );
      for (const m of members) if (m.versionstamp === null) ids.delete(String(m.key.at(-1)));
    }
    return await pageOfIds(kv, tenantId, [...ids].sort(), q, checks, "users:index");
  }

  if (group) {
    return await walk(kv, keys.groupMembers(tenantId, group.id), q, "users:group", {
      load,
      keep: checks.length ? (u) => checks.every((c) => c(u)) : undefined,
    });
  }

  if (q.idpId) {
    return await walk(kv, keys.idpUsers(tenantId, q.idpId), q, "users:idp", {
      load,
      keep: checks.length ? (u) => checks.every((c) => c(u)) : undefined,
    });
  }

  // Every canonical user: the state is on the record the walk reads, so it filters for free.
  const status = q.state === undefined
    ? undefined
    : q.state === "active"
    ? "active"
    : "deactivated";
  return await walk(kv, keys.users(tenantId), q, "users:all", {
    load,
    prefilter: status ? (v) => (v as User | null)?.status === status : undefined,
    keep: isServed,
  });
}

/** A page of a small, sorted set of user ids (an index lookup), continuing after the cursor's id. */
async function pageOfIds(
  kv: Deno.Kv,
  tenantId: string,
  ids: string[],
  q: ApiUserQuery,
  checks: ((u: ApiUser) => boolean)[],
  listing: string,
): Promise<ApiPage<ApiUser>> {
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, listing, 1)[0];
  const rest = after === undefined ? ids : ids.filter((id) => id > after);
  const users = await loadApiUsers(kv, tenantId, rest);
  const kept = rest.flatMap((id) => {
    const u = users.get(id);
    return u && checks.every((c) => c(u)) ? [u] : [];
  });
  const data = kept.slice(0, q.limit);
  return {
    data,
    next_cursor: kept.length > q.limit ? encodeCursor(listing, [data.at(-1)!.id]) : null,
  };
}

/** A group's members as users, paged by cursor: one page of member rows read, never the group. */
export async function listApiGroupMembers(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
  q: { cursor?: string; limit: number },
): Promise<ApiPage<ApiUser>> {
  return await walk(kv, keys.groupMembers(tenantId, groupId), q, "members", {
    load: loader(kv, tenantId),
    keep: isServed,
  });
}
