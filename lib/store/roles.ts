/**
 * Roles of a tenant and the IdP groups mapped to them; a user's roles are derived from their
 * memberships (none while inactive).
 * @module
 */
import type { User } from "./types.ts";
import type { ApiRoleRef } from "../directory/types.ts";

/** Each user's roles (users without any are absent). */
export function rolesOfUsers(
  _kv: Deno.Kv,
  _tenantId: string,
  _users: User[],
): Promise<Map<string, ApiRoleRef[]>> {
  // Contract stub: filled in by the roles work.
  return Promise.resolve(new Map());
}
