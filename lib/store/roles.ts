/**
 * Roles of a tenant and the IdP groups mapped to them; a user's roles are derived from their
 * memberships (none while inactive). A role record holds its mappings (a tenant has a handful of
 * roles, each mapped to a few groups), so every role change is one checked write of one record,
 * with its audit event and, for mapping changes, the events feed's note: the sequencer compares
 * the mapped groups' members' roles and emits `role.assigned` / `role.unassigned`.
 * @module
 */
import { z } from "zod";
import { fitsKey, keys } from "./keys.ts";
import { getManyBatched, withLockRetry } from "./kv.ts";
import { addEvent } from "./events.ts";
import { noteRolesChange } from "./feed_notes.ts";
import { listUserGroupIds } from "./memberships.ts";
import { ConflictError } from "./tenants.ts";
import type { Group, User } from "./types.ts";
import type { ApiRole, ApiRoleRef } from "../directory/types.ts";

/** What a role slug looks like. */
export const ROLE_SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Most roles a tenant may define. */
export const MAX_ROLES = 200;
/** Most groups mapped to one role. */
export const MAX_ROLE_GROUPS = 100;

/** A role as stored. */
export interface Role {
  slug: string;
  name: string;
  description?: string;
  groups: { idpId: string; groupId: string }[];
  createdAt: string;
  updatedAt: string;
}

/** A bad role input: the message says what and how to fix it. */
export class RoleInputError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "RoleInputError";
  }
}

/** The fields of a new role. */
export const RoleInput = z.object({
  slug: z.string().regex(
    ROLE_SLUG,
    "must be 1–63 lower-case letters, digits, '-' or '_', starting with a letter or digit",
  ),
  name: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
  description: z.string().trim().max(1000, "must be at most 1000 characters").optional(),
});

function parseRoleInput(input: unknown): z.infer<typeof RoleInput> {
  const parsed = RoleInput.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`);
    throw new RoleInputError(`Cannot create the role: ${issues.join("; ")}`);
  }
  return parsed.data;
}

/** Every role record of a tenant, in slug order. */
export async function listRoleRecords(kv: Deno.Kv, tenantId: string): Promise<Role[]> {
  const rows = await Array.fromAsync(
    kv.list<Role>({ prefix: keys.roles(tenantId) }, { limit: MAX_ROLES }),
  );
  return rows.map((r) => r.value);
}

/** One role, or null. */
export async function getRole(kv: Deno.Kv, tenantId: string, slug: string): Promise<Role | null> {
  if (!fitsKey(slug)) return null;
  return (await kv.get<Role>(keys.role(tenantId, slug))).value;
}

/** A role as the directory API shows it. */
export function renderRole(role: Role): ApiRole {
  return {
    object: "role",
    slug: role.slug,
    name: role.name,
    description: role.description ?? null,
    groups: role.groups.map((g) => ({ idp_id: g.idpId, group_id: g.groupId })),
    created_at: role.createdAt,
    updated_at: role.updatedAt,
  };
}

/** The tenant's roles as `GET /api/v1/roles` lists them (slug order). */
export async function listRoles(kv: Deno.Kv, tenantId: string): Promise<ApiRole[]> {
  return (await listRoleRecords(kv, tenantId)).map(renderRole);
}

/** Creates a role; a taken slug is a {@linkcode ConflictError}. */
export async function createRole(
  kv: Deno.Kv,
  tenantId: string,
  input: unknown,
  actor: string,
): Promise<Role> {
  const fields = parseRoleInput(input);
  const count = (await listRoleRecords(kv, tenantId)).length;
  if (count >= MAX_ROLES) {
    throw new RoleInputError(`Cannot create the role: a tenant has at most ${MAX_ROLES} roles`);
  }
  const now = new Date().toISOString();
  const role: Role = {
    slug: fields.slug,
    name: fields.name,
    ...(fields.description ? { description: fields.description } : {}),
    groups: [],
    createdAt: now,
    updatedAt: now,
  };
  const key = keys.role(tenantId, role.slug);
  const op = kv.atomic().check({ key, versionstamp: null }).set(key, role);
  addEvent(op, { tenantId, actor }, {
    type: "role_created",
    target: { kind: "role", id: role.slug, name: role.name },
    summary: `Role "${role.slug}" created`,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) throw new ConflictError(`A role with the slug "${role.slug}" already exists`);
  return role;
}

async function roleEntry(kv: Deno.Kv, tenantId: string, slug: string) {
  const entry = fitsKey(slug) ? await kv.get<Role>(keys.role(tenantId, slug)) : null;
  if (!entry?.value) throw new RoleInputError(`No role "${slug}"`);
  return entry as Deno.KvEntry<Role>;
}

/**
 * Deletes a role: its members lose it (`role.unassigned` for each, from the feed's sequencer,
 * which the note of its mapped groups asks to compare them).
 */
export async function deleteRole(
  kv: Deno.Kv,
  tenantId: string,
  slug: string,
  actor: string,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await roleEntry(kv, tenantId, slug);
    const now = new Date().toISOString();
    const op = kv.atomic().check(entry).delete(entry.key);
    addEvent(op, { tenantId, actor }, {
      type: "role_deleted",
      target: { kind: "role", id: slug, name: entry.value.name },
      counts: { groups: entry.value.groups.length },
      summary: `Role "${slug}" deleted`,
    });
    noteRolesChange(kv, op, tenantId, { at: now, groups: entry.value.groups });
    if ((await withLockRetry(() => op.commit())).ok) return;
  }
  throw new ConflictError(`Cannot delete role "${slug}": it is being changed, try again`);
}

/** Finds a group of an IdP by id or by displayName (case-insensitive). */
export async function findGroup(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  ref: string,
): Promise<Group | null> {
  if (!fitsKey(idpId) || !fitsKey(ref)) return null;
  const [byId, byName] = await kv.getMany<[Group, string]>([
    keys.group(tenantId, idpId, ref),
    keys.groupByName(tenantId, idpId, ref),
  ]);
  if (byId.value) return byId.value;
  if (!byName.value) return null;
  return (await kv.get<Group>(keys.group(tenantId, idpId, byName.value))).value;
}

/** The group a mapping change named (a deleted one keeps only its ids). */
export type MappedGroup = Pick<Group, "id" | "idpId" | "displayName">;

/** What a mapping change names. */
export interface MappingInput {
  slug: string;
  idpId: string;
  /** A group id or displayName of the IdP. */
  group: string;
}

/**
 * Maps (`mapped: true`) or unmaps an IdP group to a role. Returns the group and whether anything
 * changed (mapping twice is a no-op).
 */
export async function setRoleMapping(
  kv: Deno.Kv,
  tenantId: string,
  input: MappingInput & { mapped: boolean },
  actor: string,
): Promise<{ group: MappedGroup; changed: boolean }> {
  // A deleted group's mapping can still be removed, by the group id it was mapped with.
  const gone = !input.mapped && fitsKey(input.group)
    ? { id: input.group, idpId: input.idpId, displayName: "(deleted group)" }
    : null;
  const found: MappedGroup | null = await findGroup(kv, tenantId, input.idpId, input.group);
  const group = found ??
    ((await getRole(kv, tenantId, input.slug))?.groups.some((g) => g.groupId === input.group)
      ? gone
      : null);
  if (!group) {
    throw new RoleInputError(`No group "${input.group}" in IdP connection "${input.idpId}"`);
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await roleEntry(kv, tenantId, input.slug);
    const role = entry.value;
    const has = role.groups.some((g) => g.groupId === group.id);
    if (has === input.mapped) return { group, changed: false };
    if (input.mapped && role.groups.length >= MAX_ROLE_GROUPS) {
      throw new RoleInputError(
        `Cannot map more groups to role "${role.slug}": at most ${MAX_ROLE_GROUPS}`,
      );
    }
    const now = new Date().toISOString();
    const groups = input.mapped
      ? [...role.groups, { idpId: group.idpId, groupId: group.id }]
      : role.groups.filter((g) => g.groupId !== group.id);
    const op = kv.atomic().check(entry).set(entry.key, { ...role, groups, updatedAt: now });
    addEvent(op, { tenantId, actor, idpId: group.idpId }, {
      type: input.mapped ? "role_mapped" : "role_unmapped",
      target: { kind: "role", id: role.slug, name: role.name },
      summary: input.mapped
        ? `Group "${group.displayName}" mapped to role "${role.slug}"`
        : `Group "${group.displayName}" unmapped from role "${role.slug}"`,
    });
    noteRolesChange(kv, op, tenantId, {
      at: now,
      groups: [{ idpId: group.idpId, groupId: group.id }],
    });
    if ((await withLockRetry(() => op.commit())).ok) return { group, changed: true };
  }
  throw new ConflictError(`Cannot change role "${input.slug}": it is being changed, try again`);
}

/** Group id → the roles mapped to it (slug order). */
export function rolesByGroup(roles: Role[]): Map<string, ApiRoleRef[]> {
  const out = new Map<string, ApiRoleRef[]>();
  for (const r of roles) {
    for (const g of r.groups) {
      const list = out.get(g.groupId) ?? [];
      list.push({ slug: r.slug, name: r.name });
      out.set(g.groupId, list);
    }
  }
  return out;
}

/**
 * Each user's roles: the roles mapped to any group they are a member of, in slug order (users
 * without any are absent). One listing of the roles; when some are mapped, one listing of each
 * user's groups. Inactive users keep them here: the renderer shows none for them.
 */
export async function rolesOfUsers(
  kv: Deno.Kv,
  tenantId: string,
  users: User[],
): Promise<Map<string, ApiRoleRef[]>> {
  const out = new Map<string, ApiRoleRef[]>();
  if (!users.length) return out;
  const byGroup = rolesByGroup(await listRoleRecords(kv, tenantId));
  if (!byGroup.size) return out;
  const groupIds = await Promise.all(users.map((u) => listUserGroupIds(kv, tenantId, u.id)));
  users.forEach((u, i) => {
    const roles = new Map<string, ApiRoleRef>();
    for (const g of groupIds[i]) for (const r of byGroup.get(g) ?? []) roles.set(r.slug, r);
    if (roles.size) out.set(u.id, [...roles.values()].sort((a, b) => a.slug < b.slug ? -1 : 1));
  });
  return out;
}

/**
 * Whether the tenant has any role snapshot (one key listed). Snapshots are written only by the
 * feed's sequencer, in commits that also write the feed's head, which every sequencing commit
 * checks as it read it first: a round that finds none here, after reading the head, either sees
 * the store as it is when it commits or fails its check and starts again. So a tenant that never
 * had a role user (the common case) reads no snapshot per user.
 */
async function anyRoleSnapshot(kv: Deno.Kv, tenantId: string): Promise<boolean> {
  for await (const _ of kv.list({ prefix: keys.roleSnapshots(tenantId) }, { limit: 1 })) {
    return true;
  }
  return false;
}

/** The roles the feed last reported, by user id (absent: none). */
export async function roleSnapshots(
  kv: Deno.Kv,
  tenantId: string,
  userIds: string[],
): Promise<Map<string, ApiRoleRef[]>> {
  const out = new Map<string, ApiRoleRef[]>();
  if (!userIds.length || !(await anyRoleSnapshot(kv, tenantId))) return out;
  const entries = await getManyBatched<ApiRoleRef[]>(
    kv,
    userIds.map((id) => keys.roleSnapshot(tenantId, id)),
  );
  userIds.forEach((id, i) => {
    if (entries[i].value) out.set(id, entries[i].value!);
  });
  return out;
}

/** A group an admin can map to a role. */
export interface GroupChoice {
  idpId: string;
  groupId: string;
  displayName: string;
}

/** The tenant's groups to pick from (every IdP's, at most `limit`, in IdP then id order). */
export async function listGroupChoices(
  kv: Deno.Kv,
  tenantId: string,
  limit = 1000,
): Promise<GroupChoice[]> {
  const rows = await Array.fromAsync(
    kv.list<Group>({ prefix: keys.allGroups(tenantId) }, { limit }),
  );
  return rows.map((r) => ({
    idpId: r.value.idpId,
    groupId: r.value.id,
    displayName: r.value.displayName,
  }));
}
