/**
 * Renders stored records as the directory API's public shapes. Pure: the loaders in
 * `lib/store/api_views.ts` read the records; the read API and the events feed both render here,
 * so a user looks the same in `GET /api/v1/users/{id}`, in an event and in a webhook.
 * @module
 */
import type { Group, IdpUser, User } from "../store/types.ts";
import type { ApiGroup, ApiRoleRef, ApiUser } from "./types.ts";

/** The later of two versionstamps (hex strings of one width). */
export function laterVersion(a: string | null | undefined, b: string | null | undefined): string {
  if (!a) return b ?? "";
  if (!b) return a;
  return a > b ? a : b;
}

/** A user with its IdP rows and roles. */
export function renderUser(
  user: User,
  idpRows: IdpUser[],
  roles: ApiRoleRef[],
  version: string,
): ApiUser {
  const active = user.status === "active";
  return {
    object: "user",
    id: user.id,
    user_name: user.userName,
    email: user.email ?? null,
    first_name: user.firstName ?? null,
    last_name: user.lastName ?? null,
    display_name: user.displayName ?? null,
    custom: { ...user.custom },
    state: active ? "active" : "inactive",
    idp_id: user.sourceIdpId,
    idps: idpRows.map((row) => ({
      idp_id: row.idpId,
      state: row.active ? "active" : "inactive",
      external_id: row.externalId ?? null,
      attributes: row.resource,
    })),
    roles: active ? roles : [],
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    version,
  };
}

/** A group with its member count. */
export function renderGroup(group: Group, memberCount: number, version: string): ApiGroup {
  return {
    object: "group",
    id: group.id,
    idp_id: group.idpId,
    name: group.displayName,
    external_id: group.externalId ?? null,
    attributes: group.extra,
    member_count: memberCount,
    created_at: group.created,
    updated_at: group.lastModified,
    version,
  };
}

/**
 * A user whose IdP deletes people and who is gone with its names (deprovisioning policy
 * `delete`): only the ids remain, so the events about it still say who left which group.
 */
export function erasedUser(userId: string, idpId: string, at: string): ApiUser {
  return {
    object: "user",
    id: userId,
    user_name: "",
    email: null,
    first_name: null,
    last_name: null,
    display_name: null,
    custom: {},
    state: "inactive",
    idp_id: idpId,
    idps: [],
    roles: [],
    created_at: at,
    updated_at: at,
    version: "",
  };
}
