/**
 * Console admins of a tenant and their one-time setup links (architecture §2, §8). Passwords are
 * stored only as PBKDF2 hashes (see `lib/auth/admin.ts`); setup links only as SHA-256 hashes.
 * @module
 */
import { keys } from "./keys.ts";
import { withLockRetry } from "./kv.ts";
import { ConflictError } from "./tenants.ts";
import { randomId } from "../auth/tokens.ts";

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
}

/** How long a setup link stays valid. */
export const SETUP_LINK_TTL_MS = 24 * 3600_000;

/** An admin by id. */
export async function getAdmin(kv: Deno.Kv, tenantId: string, adminId: string) {
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

/** Stores a setup link under the hash of its secret; it expires on its own. */
export async function storeSetupLink(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
  input: { role: AdminRole; email?: string; createdBy: string },
): Promise<SetupLink> {
  const now = Date.now();
  const link: SetupLink = {
    role: input.role,
    createdBy: input.createdBy,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + SETUP_LINK_TTL_MS).toISOString(),
  };
  if (input.email) link.email = input.email.trim().toLowerCase();
  await withLockRetry(() =>
    kv.set(keys.adminSetupLink(tenantId, hash), link, { expireIn: SETUP_LINK_TTL_MS })
  );
  return link;
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
 * works once even when submitted twice at the same moment. Throws `ConflictError` when the link
 * is gone or the email is taken.
 */
export async function createAdminFromLink(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
  input: { email: string; passwordHash: string },
): Promise<Admin> {
  const linkEntry = await kv.get<SetupLink>(keys.adminSetupLink(tenantId, hash));
  const link = linkEntry.value;
  if (!link || Date.parse(link.expiresAt) <= Date.now()) {
    throw new ConflictError("This setup link has expired or was already used");
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
  const res = await withLockRetry(() =>
    kv.atomic()
      .check(linkEntry)
      .check({ key: keys.adminByEmail(tenantId, email), versionstamp: null })
      .delete(linkEntry.key)
      .set(keys.admin(tenantId, admin.id), admin)
      .set(keys.adminByEmail(tenantId, email), admin.id)
      .commit()
  );
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
export async function deleteAdmin(kv: Deno.Kv, tenantId: string, adminId: string): Promise<void> {
  const admin = await getAdmin(kv, tenantId, adminId);
  if (!admin) return;
  await withLockRetry(() =>
    kv.atomic()
      .delete(keys.admin(tenantId, adminId))
      .delete(keys.adminByEmail(tenantId, admin.email))
      .commit()
  );
}
