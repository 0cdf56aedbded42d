/**
 * Reads the records behind the directory API's shapes and renders them (`lib/directory/views.ts`):
 * one owner for "what a user/group looks like to the application", used by the read API, the
 * events feed and webhooks alike.
 * @module
 */
import { getManyBatched } from "./kv.ts";
import { keys } from "./keys.ts";
import { countMembers } from "./memberships.ts";
import { getGroups } from "./groups.ts";
import { rolesOfUsers } from "./roles.ts";
import type { IdpUser, User } from "./types.ts";
import { laterVersion, renderGroup, renderUser } from "../directory/views.ts";
import type { ApiGroup, ApiUser } from "../directory/types.ts";

/** Users by id as the API shows them (missing ids are absent from the map). */
export async function loadApiUsers(
  kv: Deno.Kv,
  tenantId: string,
  userIds: string[],
): Promise<Map<string, ApiUser>> {
  const out = new Map<string, ApiUser>();
  if (!userIds.length) return out;
  const users = await getManyBatched<User>(kv, userIds.map((id) => keys.user(tenantId, id)));
  const found = users.flatMap((e) => e.value ? [{ user: e.value, vs: e.versionstamp! }] : []);
  return await renderUsers(kv, tenantId, found);
}

/**
 * Users already read (records with their versionstamps, e.g. from a listing of `users`) as the
 * API shows them: {@linkcode loadApiUsers} without reading the records again.
 */
export async function renderUsers(
  kv: Deno.Kv,
  tenantId: string,
  found: { user: User; vs: string }[],
): Promise<Map<string, ApiUser>> {
  const out = new Map<string, ApiUser>();
  if (!found.length) return out;
  const rows = await getManyBatched<IdpUser>(
    kv,
    found.map(({ user }) => keys.idpUser(tenantId, user.sourceIdpId, user.id)),
  );
  const roles = await rolesOfUsers(kv, tenantId, found.map(({ user }) => user));
  found.forEach(({ user, vs }, i) => {
    const row = rows[i];
    out.set(
      user.id,
      renderUser(
        user,
        row.value ? [row.value] : [],
        roles.get(user.id) ?? [],
        laterVersion(vs, row.versionstamp),
      ),
    );
  });
  return out;
}

/** One user as the API shows it, or null. */
export async function loadApiUser(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
): Promise<ApiUser | null> {
  return (await loadApiUsers(kv, tenantId, [userId])).get(userId) ?? null;
}

/** Groups of one IdP by id as the API shows them (pending member changes are completed first). */
export async function loadApiGroups(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  groupIds: string[],
): Promise<Map<string, ApiGroup>> {
  const out = new Map<string, ApiGroup>();
  const groups = await getGroups(kv, tenantId, idpId, groupIds);
  const counts = await Promise.all(groups.map((g) => countMembers(kv, tenantId, g.group.id)));
  groups.forEach((g, i) => out.set(g.group.id, renderGroup(g.group, counts[i], g.versionstamp)));
  return out;
}
