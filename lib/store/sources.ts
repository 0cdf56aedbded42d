/**
 * The query sources of the SCIM list endpoints (see `query.ts`): how an IdP's users and groups
 * are listed, loaded and found through their indexes. Equality on `id`, `userName`,
 * `externalId`, emails and `displayName` is an index read; a user's `groups` are found through
 * membership rows (`groups.value eq`, `groups[value eq]` list the group's members, `groups pr`
 * lists the tenant's reverse rows), never by scanning users.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { getLinkedUsers, type LinkedUser } from "./users.ts";
import { getGroups, type VersionedGroup } from "./groups.ts";
import { ScimError } from "../scim/errors.ts";
import type { Source } from "./query.ts";
import type { Idp } from "./types.ts";

/** A group of a user, as the user's `groups` shows it. */
export interface UserGroupRef {
  id: string;
  displayName: string;
}

/** A user with, when they were asked for, the groups of this IdP it belongs to. */
export interface ListedUser extends LinkedUser {
  groups?: UserGroupRef[];
}

/** Options of {@linkcode idpUserSource}. */
export interface UserSourceOptions {
  /** How filters and sorts see a user (the SCIM resource). */
  view(user: ListedUser): Record<string, unknown>;
  /** Load each user's groups, for filters or projections that name them. */
  withGroups?: boolean;
  /** Most ids an index may yield before the filter must be narrowed (`tooMany`). */
  scanLimit: number;
}

async function listIds(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  limit: number,
  idAt: (key: Deno.KvKey) => string = (k) => String(k.at(-1)),
): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix }, { limit, batchSize: Math.min(limit, 1000) })) {
    out.push(idAt(e.key));
  }
  return out;
}

/** The groups of this IdP each user belongs to (two keys a group, one round trip a user). */
export async function groupsOfUsers(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  userIds: string[],
): Promise<Map<string, UserGroupRef[]>> {
  const out = new Map<string, UserGroupRef[]>();
  await Promise.all(userIds.map(async (userId) => {
    const ids = await listIds(kv, keys.userGroups(tenantId, userId), 1000);
    const groups = await getGroups(kv, tenantId, idpId, ids, { versions: false });
    out.set(userId, groups.map((g) => ({ id: g.group.id, displayName: g.group.displayName })));
  }));
  return out;
}

/** The users of an IdP (its SCIM view) as a query source. */
export function idpUserSource(
  kv: Deno.Kv,
  tenantId: string,
  idp: Pick<Idp, "id" | "matchBy">,
  options: UserSourceOptions,
): Source<ListedUser> {
  const idpId = idp.id;
  const limit = options.scanLimit;
  const tooMany = () =>
    ScimError.tooMany(
      `The filter names more than ${limit} users through one index: narrow it with another condition`,
    );
  const bounded = (ids: string[]) => {
    if (ids.length >= limit) throw tooMany();
    return ids;
  };
  async function load(ids: string[]): Promise<ListedUser[]> {
    const users: ListedUser[] = await getLinkedUsers(kv, tenantId, idpId, ids);
    if (options.withGroups) {
      const groups = await groupsOfUsers(kv, tenantId, idpId, users.map((u) => u.link.userId));
      for (const u of users) u.groups = groups.get(u.link.userId) ?? [];
    }
    return users;
  }
  return {
    resourceType: "User",
    prefix: keys.idpUsers(tenantId, idpId),
    counter: keys.counter(tenantId, "idp_users", idpId),
    anchorKey: (startIndex) => keys.pageAnchor(tenantId, "idp_users", idpId, startIndex),
    load,
    fromEntry: options.withGroups ? undefined : (e) => ({
      link: e.value as LinkedUser["link"],
      versionstamp: e.versionstamp,
    }),
    id: (u) => u.link.userId,
    view: options.view,
    async lookup(attr, value) {
      // No stored identifier is longer than a key part: such a value matches nothing.
      if (!fitsKey(value)) return [];
      switch (attr) {
        case "id":
          return [value];
        case "username": {
          const id = (await kv.get<string>(keys.idpUserByUserName(tenantId, idpId, value))).value;
          return id ? [id] : [];
        }
        case "externalid": {
          if (idp.matchBy !== "userName") {
            // Unique on an IdP that merges on it: one key.
            const id = (await kv.get<string>(keys.idpUserByExternalId(tenantId, idpId, value)))
              .value;
            return id ? [id] : [];
          }
          return bounded(
            await listIds(kv, keys.idpUsersByExternalIdAny(tenantId, idpId, value), limit),
          );
        }
        case "emails":
        case "emails.value":
          return bounded(await listIds(kv, keys.idpUsersByEmail(tenantId, idpId, value), limit));
        case "groups":
        case "groups.value":
          // The group's members (a group belongs to one IdP; another IdP's users fall out on
          // load, as they are not this IdP's).
          return bounded(await listIds(kv, keys.groupMembers(tenantId, value), limit));
        default:
          return null;
      }
    },
    async present(attr) {
      if (attr !== "groups" && attr !== "groups.value") return null;
      // Every reverse membership row of the tenant, in user order: the users in some group.
      const ids = new Set<string>();
      for await (
        const e of kv.list({ prefix: keys.allUserGroups(tenantId) }, { batchSize: 1000 })
      ) {
        ids.add(String(e.key.at(-2)));
        if (ids.size > limit) throw tooMany();
      }
      return [...ids];
    },
  };
}

/** Options of {@linkcode idpGroupSource}. */
export interface GroupSourceOptions {
  /** How filters and sorts see a group (the SCIM resource). */
  view(group: VersionedGroup): Record<string, unknown>;
  /** Called with the groups each load read (to read their members when a filter needs them). */
  loaded?(groups: VersionedGroup[]): Promise<void>;
}

/** The groups of an IdP as a query source. */
export function idpGroupSource(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  options: GroupSourceOptions,
): Source<VersionedGroup> {
  return {
    resourceType: "Group",
    prefix: keys.groups(tenantId, idpId),
    counter: keys.counter(tenantId, "groups", idpId),
    anchorKey: (startIndex) => keys.pageAnchor(tenantId, "groups", idpId, startIndex),
    async load(ids) {
      const found = await getGroups(kv, tenantId, idpId, ids);
      await options.loaded?.(found);
      return found;
    },
    id: (g) => g.group.id,
    view: options.view,
    async lookup(attr, value) {
      // No stored identifier is longer than a key part: such a value matches nothing.
      if (!fitsKey(value)) return [];
      if (attr === "id") return [value];
      if (attr === "displayname") {
        const id = (await kv.get<string>(keys.groupByName(tenantId, idpId, value))).value;
        return id ? [id] : [];
      }
      if (attr === "externalid") {
        const id = (await kv.get<string>(keys.groupByExternalId(tenantId, idpId, value))).value;
        return id ? [id] : [];
      }
      return null;
    },
  };
}
