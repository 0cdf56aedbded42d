/**
 * Console admins of a tenant and their one-time setup links (architecture §2, §8). Passwords are
 * stored only as PBKDF2 hashes (see `lib/auth/admin.ts`); setup links only as SHA-256 hashes.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { withLockRetry } from "./kv.ts";
import { ConflictError } from "./tenants.ts";
import { randomId } from "../auth/tokens.ts";
import { addEvent } from "./events.ts";

/** What an admin may do: `super_admin` everything, `admin` read-only on tokens and settings. */
export type AdminRole = "super_admin" | "admin";

/** Every role, for validation. */
export const ADMIN_ROLES = ["super_admin", "admin"] as const;

/** A console admin. */
export interface Admin {
  id: string;
  tenantId: string;
  email: string;
  role: AdminRole;
  /** `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`. */
  passwordHash: string;
  createdAt: string;
  createdBy: string;
}

/** A pending setup link: who may be created through it. */
export interface SetupLink {
  role: AdminRole;
  /** When set, the account must use this email. */
  email?: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /**
   * Made while the tenant had no super admin (the first start, or the CLI then): it ends as soon
   * as any super admin exists, however that admin was created.
   */
  firstRun?: boolean;
}

/** A pending setup link as listed to admins and operators: never its secret or its hash. */
export interface SetupLinkSummary extends SetupLink {
  /** Short public id (a prefix of the secret's hash): names the link for revocation. */
  id: string;
}

/** The public id of a link stored under `hash`. */
function linkIdOf(hash: string): string {
  return hash.slice(0, 12);
}

/** How long a setup link stays valid. */
export const SETUP_LINK_TTL_MS = 24 * 3600_000;

/** An admin by id. */
export async function getAdmin(kv: Deno.Kv, tenantId: string, adminId: string) {
  if (!fitsKey(adminId)) return null;
  return (await kv.get<Admin>(keys.admin(tenantId, adminId))).value;
}

/** An admin by email (case-insensitive). */
export async function getAdminByEmail(
  kv: Deno.Kv,
  tenantId: string,
  email: string,
): Promise<Admin | null> {
  const id = (await kv.get<string>(keys.adminByEmail(tenantId, email.trim().toLowerCase()))).value;
  return id ? await getAdmin(kv, tenantId, id) : null;
}

/** All admins of a tenant. */
export async function listAdmins(kv: Deno.Kv, tenantId: string): Promise<Admin[]> {
  const entries = await Array.fromAsync(kv.list<Admin>({ prefix: keys.admins(tenantId) }));
  return entries.map((e) => e.value).sort((a, b) => a.email.localeCompare(b.email));
}

/** Whether the tenant has any admin yet (one key read). */
export async function hasAdmins(kv: Deno.Kv, tenantId: string): Promise<boolean> {
  for await (const _ of kv.list({ prefix: keys.admins(tenantId) }, { limit: 1 })) return true;
  return false;
}

/** Whether the tenant has a super admin. */
export async function hasSuperAdmin(kv: Deno.Kv, tenantId: string): Promise<boolean> {
  return (await listAdmins(kv, tenantId)).some((a) => a.role === "super_admin");
}

/**
 * Stores a setup link under the hash of its secret; it expires on its own. A link made while the
 * tenant has no super admin is a first-run link (see {@linkcode SetupLink.firstRun}).
 */
export async function storeSetupLink(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
  input: { role: AdminRole; email?: string; createdBy: string },
): Promise<SetupLinkSummary> {
  const now = Date.now();
  const link: SetupLink = {
    role: input.role,
    createdBy: input.createdBy,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + SETUP_LINK_TTL_MS).toISOString(),
  };
  if (input.email) link.email = input.email.trim().toLowerCase();
  if (input.role === "super_admin" && !(await hasSuperAdmin(kv, tenantId))) link.firstRun = true;
  const op = kv.atomic().set(keys.adminSetupLink(tenantId, hash), link, {
    expireIn: SETUP_LINK_TTL_MS,
  });
  addEvent(op, { tenantId, actor: input.createdBy }, {
    type: "admin_setup_link_created",
    target: { kind: "admin_link", id: linkIdOf(hash) },
    summary: `Setup link for a new ${
      input.role === "super_admin" ? "super admin" : "admin"
    } created`,
  });
  await withLockRetry(() => op.commit());
  return { ...link, id: linkIdOf(hash) };
}

/** Pending (unexpired) setup links, newest first. */
export async function listSetupLinks(
  kv: Deno.Kv,
  tenantId: string,
): Promise<SetupLinkSummary[]> {
  return (await pendingLinks(kv, tenantId))
    .map((e) => ({ ...e.value, id: linkIdOf(String(e.key.at(-1))) }))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

async function pendingLinks(kv: Deno.Kv, tenantId: string): Promise<Deno.KvEntry<SetupLink>[]> {
  const now = Date.now();
  const rows = await Array.fromAsync(
    kv.list<SetupLink>({ prefix: keys.adminSetupLinks(tenantId) }),
  );
  // expireIn deletes lazily; the recorded expiry is the rule.
  return rows.filter((e) => Date.parse(e.value.expiresAt) > now);
}

/** Revokes a pending setup link by its public id; false when there is none. */
export async function revokeSetupLink(
  kv: Deno.Kv,
  tenantId: string,
  linkId: string,
  actor: string,
): Promise<boolean> {
  const entry = (await pendingLinks(kv, tenantId)).find((e) =>
    linkIdOf(String(e.key.at(-1))) === linkId
  );
  if (!entry) return false;
  const op = kv.atomic().check(entry).delete(entry.key);
  addEvent(op, { tenantId, actor }, {
    type: "admin_setup_link_revoked",
    target: { kind: "admin_link", id: linkId },
    summary: "Setup link revoked",
  });
  return (await withLockRetry(() => op.commit())).ok;
}

/** A setup link by the hash of its secret, when it exists and has not expired. */
export async function getSetupLink(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
): Promise<SetupLink | null> {
  const link = (await kv.get<SetupLink>(keys.adminSetupLink(tenantId, hash))).value;
  // expireIn deletes lazily; the recorded expiry is the rule.
  return link && Date.parse(link.expiresAt) > Date.now() ? link : null;
}

/**
 * Creates an admin through a setup link: the link is consumed in the same atomic operation, so it
 * works once even when submitted twice at the same moment. A new super admin also ends every
 * pending first-run link in that operation, and a first-run link is refused once a super admin
 * exists. Throws `ConflictError` when the link is gone or the email is taken.
 */
export async function createAdminFromLink(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
  input: { email: string; passwordHash: string },
): Promise<Admin> {
  const linkEntry = await kv.get<SetupLink>(keys.adminSetupLink(tenantId, hash));
  const link = linkEntry.value;
  const gone = new ConflictError("This setup link has expired or was already used");
  if (!link || Date.parse(link.expiresAt) <= Date.now()) throw gone;
  if (link.firstRun && await hasSuperAdmin(kv, tenantId)) {
    await withLockRetry(() => kv.atomic().check(linkEntry).delete(linkEntry.key).commit());
    throw gone;
  }
  const email = input.email.trim().toLowerCase();
  if (link.email && link.email !== email) {
    throw new ConflictError(`This setup link is for ${link.email}`);
  }
  const admin: Admin = {
    id: randomId(9),
    tenantId,
    email,
    role: link.role,
    passwordHash: input.passwordHash,
    createdAt: new Date().toISOString(),
    createdBy: link.createdBy,
  };
  const op = kv.atomic()
    .check(linkEntry)
    .check({ key: keys.adminByEmail(tenantId, email), versionstamp: null })
    .delete(linkEntry.key)
    .set(keys.admin(tenantId, admin.id), admin)
    .set(keys.adminByEmail(tenantId, email), admin.id);
  if (admin.role === "super_admin") {
    // Every first-run link is checked and ended here, so two of them used at the same moment
    // cannot both create a super admin.
    for (const other of await pendingLinks(kv, tenantId)) {
      if (other.value.firstRun && String(other.key.at(-1)) !== hash) {
        op.check(other).delete(other.key);
      }
    }
  }
  addEvent(op, { tenantId, actor: `admin:${email}` }, {
    type: "admin_created",
    target: { kind: "admin", id: admin.id },
    summary: `${
      admin.role === "super_admin" ? "Super admin" : "Admin"
    } account created from a setup link`,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) {
    const taken = (await kv.get(keys.adminByEmail(tenantId, email))).value;
    throw new ConflictError(
      taken
        ? `An admin with the email ${email} already exists`
        : "This setup link has expired or was already used",
    );
  }
  return admin;
}

/** Deletes an admin (its sessions are revoked separately, see `lib/auth/sessions.ts`). */
export async function deleteAdmin(
  kv: Deno.Kv,
  tenantId: string,
  adminId: string,
  actor = "cli",
): Promise<void> {
  const admin = await getAdmin(kv, tenantId, adminId);
  if (!admin) return;
  const op = kv.atomic()
    .delete(keys.admin(tenantId, adminId))
    .delete(keys.adminByEmail(tenantId, admin.email));
  addEvent(op, { tenantId, actor }, {
    type: "admin_removed",
    target: { kind: "admin", id: adminId },
    summary: "Admin account removed",
  });
  await withLockRetry(() => op.commit());
}
