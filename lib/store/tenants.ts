/**
 * Tenants, IdP connections and SCIM tokens.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { counterValue, stripUndefined, withLockRetry } from "./kv.ts";
import type { Idp, IdpKind, SamlSettings, ScimToken, Tenant, TokenLastUsed } from "./types.ts";
import { addEvent } from "./events.ts";
import { generateTokenSecret, hashTokenSecret, randomId, TOKEN_PREFIX } from "../auth/tokens.ts";
import { readCertificates } from "../saml/x509.ts";

/** A DNS label: lower-case letters, digits and inner hyphens, 1–63 characters. */
export const SUBDOMAIN_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Thrown when a name or id is already taken. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}

/** Creates a tenant with a unique subdomain. */
export async function createTenant(
  kv: Deno.Kv,
  input: { subdomain: string; name?: string; actor?: string },
): Promise<Tenant> {
  const subdomain = input.subdomain.toLowerCase();
  if (!SUBDOMAIN_PATTERN.test(subdomain)) {
    throw new RangeError(`Cannot create tenant: "${input.subdomain}" is not a valid DNS label`);
  }
  const tenant: Tenant = {
    id: randomId(9),
    subdomain,
    name: input.name ?? subdomain,
    createdAt: new Date().toISOString(),
  };
  const op = kv.atomic()
    .check({ key: keys.tenantBySubdomain(subdomain), versionstamp: null })
    .set(keys.tenant(tenant.id), tenant)
    .set(keys.tenantBySubdomain(subdomain), tenant.id);
  addEvent(op, { tenantId: tenant.id, actor: input.actor ?? "cli" }, {
    type: "tenant_created",
    target: { kind: "tenant", id: tenant.id },
    summary: `Tenant ${subdomain} created`,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) throw new ConflictError(`Cannot create tenant: "${subdomain}" is already taken`);
  return tenant;
}

/** A tenant by id. */
export async function getTenant(kv: Deno.Kv, tenantId: string): Promise<Tenant | null> {
  return (await kv.get<Tenant>(keys.tenant(tenantId))).value;
}

/** A tenant by subdomain (case-insensitive). */
export async function getTenantBySubdomain(
  kv: Deno.Kv,
  subdomain: string,
): Promise<Tenant | null> {
  const id = (await kv.get<string>(keys.tenantBySubdomain(subdomain.toLowerCase()))).value;
  return id ? await getTenant(kv, id) : null;
}

/** All tenants. */
export async function listTenants(kv: Deno.Kv): Promise<Tenant[]> {
  return (await Array.fromAsync(kv.list<Tenant>({ prefix: keys.tenants() }))).map((e) => e.value);
}

/**
 * SAML settings from the three fields a connection can be created with. A certificate text that
 * holds no readable certificate is kept as it was given, so the console can show it and say it
 * cannot be used; it never verifies anything.
 */
export function samlSettingsFrom(
  tenantId: string,
  idpId: string,
  fields: { entityId?: string; ssoUrl?: string; certificate?: string },
  actor: string,
  at: string,
): SamlSettings {
  const text = fields.certificate?.trim();
  const certificates = text ? readCertificates(text) : [];
  const settings: SamlSettings = {
    tenantId,
    idpId,
    certificates: text && certificates.length === 0 ? [text] : certificates,
    idpInitiated: true,
    jit: false,
    updatedAt: at,
    updatedBy: actor,
  };
  if (fields.entityId?.trim()) settings.entityId = fields.entityId.trim();
  if (fields.ssoUrl?.trim()) settings.ssoUrl = fields.ssoUrl.trim();
  return settings;
}

/** Creates an IdP connection with SCIM enabled (and its SAML settings, when given). */
export async function createIdp(
  kv: Deno.Kv,
  tenantId: string,
  input: {
    name: string;
    kind?: IdpKind;
    matchBy?: Idp["matchBy"];
    deprovisioning?: Idp["deprovisioning"];
    actor?: string;
    saml?: Idp["saml"];
  },
): Promise<Idp> {
  const name = input.name.trim();
  if (!name || name.length > 200) {
    throw new RangeError("Cannot create IdP: name must be 1–200 characters");
  }
  const idp: Idp = {
    id: randomId(9),
    tenantId,
    name,
    kind: input.kind ?? "generic",
    scimEnabled: true,
    // Entra matches users itself and its externalId (mailNickname) is not an immutable id.
    matchBy: input.matchBy ?? (input.kind === "entra" ? "userName" : "externalId"),
    ...(input.deprovisioning === "delete" ? { deprovisioning: "delete" as const } : {}),
    createdAt: new Date().toISOString(),
  };
  const op = kv.atomic()
    .check({ key: keys.idp(tenantId, idp.id), versionstamp: null })
    .set(keys.idp(tenantId, idp.id), idp);
  const saml = input.saml;
  if (saml && (saml.entityId || saml.ssoUrl || saml.certificate)) {
    op.check({ key: keys.idpSaml(tenantId, idp.id), versionstamp: null }).set(
      keys.idpSaml(tenantId, idp.id),
      samlSettingsFrom(tenantId, idp.id, saml, input.actor ?? "cli", idp.createdAt),
    );
  }
  addEvent(op, { tenantId, actor: input.actor ?? "cli", idpId: idp.id }, {
    type: "idp_created",
    target: { kind: "idp", id: idp.id },
    summary: `IdP ${idp.kind} connection created`,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) throw new ConflictError("Cannot create IdP: id collision, try again");
  return idp;
}

/** An IdP connection. */
export async function getIdp(kv: Deno.Kv, tenantId: string, idpId: string): Promise<Idp | null> {
  // An id too long to be part of a key names no connection.
  if (!fitsKey(idpId)) return null;
  return (await kv.get<Idp>(keys.idp(tenantId, idpId))).value;
}

const DEFAULTS: Partial<Record<keyof Idp, unknown>> = { deprovisioning: "unlink" };

/** What an admin may change on an IdP connection. */
export interface IdpChanges {
  name?: string;
  kind?: IdpKind;
  matchBy?: Idp["matchBy"];
  deprovisioning?: Idp["deprovisioning"];
  scimEnabled?: boolean;
}

/**
 * Changes an IdP connection, with an `idp_updated` event (or `idp_scim_enabled` /
 * `idp_scim_disabled` when that is the change). The matching rule moves the identity indexes
 * users are kept under, so it changes only while the connection has no users: otherwise a
 * `ConflictError` says so. Returns the connection as it now is.
 */
export async function updateIdp(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  changes: IdpChanges,
  actor: string,
): Promise<Idp> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [entry, users] = await kv.getMany<[Idp, Deno.KvU64]>([
      keys.idp(tenantId, idpId),
      keys.counter(tenantId, "idp_users", idpId),
    ]);
    const prev = entry.value;
    if (!prev || prev.deletingSince) throw new RangeError(`IdP "${idpId}" does not exist`);
    const name = changes.name?.trim();
    if (name !== undefined && (!name || name.length > 200)) {
      throw new RangeError("Cannot change the IdP: name must be 1–200 characters");
    }
    const next: Idp = stripUndefined({
      ...prev,
      name: name ?? prev.name,
      kind: changes.kind ?? prev.kind,
      matchBy: changes.matchBy ?? prev.matchBy,
      deprovisioning: changes.deprovisioning ?? prev.deprovisioning,
      scimEnabled: changes.scimEnabled ?? prev.scimEnabled,
      updatedAt: new Date().toISOString(),
    });
    const changed = (["name", "kind", "matchBy", "deprovisioning", "scimEnabled"] as const)
      .filter((k) => (next[k] ?? DEFAULTS[k]) !== (prev[k] ?? DEFAULTS[k]));
    if (changed.length === 0) return prev;
    const op = kv.atomic().check(entry).set(entry.key, next);
    if (next.matchBy !== prev.matchBy) {
      if (counterValue(users) > 0) {
        throw new ConflictError(
          `Cannot change the matching rule: ${
            counterValue(users)
          } users are linked to this connection. Create a new connection for the other rule, or delete its users first.`,
        );
      }
      op.check(users);
    }
    const scimOnly = changed.length === 1 && changed[0] === "scimEnabled";
    addEvent(op, { tenantId, actor, idpId }, {
      type: scimOnly
        ? (next.scimEnabled ? "idp_scim_enabled" : "idp_scim_disabled")
        : "idp_updated",
      target: { kind: "idp", id: idpId },
      changed: [...changed],
      summary: scimOnly
        ? `SCIM provisioning turned ${next.scimEnabled ? "on" : "off"}`
        : `IdP connection changed: ${changed.join(", ")}`,
    });
    if ((await withLockRetry(() => op.commit())).ok) return next;
  }
  throw new ConflictError("Cannot change the IdP: it is being changed by someone else, try again");
}

/** All IdP connections of a tenant. */
export async function listIdps(kv: Deno.Kv, tenantId: string): Promise<Idp[]> {
  return (await Array.fromAsync(kv.list<Idp>({ prefix: keys.idps(tenantId) }))).map((e) => e.value);
}

/** A token as listed to admins: never the hash or the secret. */
export type TokenSummary = Omit<ScimToken, "hash"> & { lastUsed?: TokenLastUsed };

/** Mints a named token for an IdP; the plaintext secret is returned once and never stored. */
export async function createToken(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  input: { name: string; createdBy: string; expiresAt?: string; requestId?: string },
): Promise<{ token: TokenSummary; secret: string }> {
  const name = input.name.trim();
  if (!name || name.length > 100) {
    throw new RangeError("Cannot create token: name must be 1–100 characters");
  }
  const idp = await getIdp(kv, tenantId, idpId);
  if (!idp) throw new RangeError(`Cannot create token: IdP "${idpId}" does not exist`);
  const secret = generateTokenSecret();
  const hash = await hashTokenSecret(secret);
  const token: ScimToken = {
    id: randomId(9),
    tenantId,
    idpId,
    name,
    hash,
    prefix: secret.slice(0, TOKEN_PREFIX.length + 4),
    createdAt: new Date().toISOString(),
    createdBy: input.createdBy,
    expiresAt: input.expiresAt,
  };
  const op = kv.atomic()
    .check({ key: keys.token(tenantId, hash), versionstamp: null })
    .set(keys.token(tenantId, hash), stripUndefined(token))
    .set(keys.idpToken(tenantId, idpId, token.id), hash);
  addEvent(op, { tenantId, actor: input.createdBy, idpId, tokenId: token.id }, {
    type: "scim_token_created",
    target: { kind: "token", id: token.id },
    summary: `SCIM token "${name}" created`,
    requestId: input.requestId,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) throw new ConflictError("Cannot create token: collision, try again");
  const { hash: _hash, ...summary } = token;
  return { token: summary, secret };
}

/** An IdP's tokens, newest first, with last-use times. */
export async function listTokens(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<TokenSummary[]> {
  const index = await Array.fromAsync(kv.list<string>({ prefix: keys.idpTokens(tenantId, idpId) }));
  const out: TokenSummary[] = [];
  for (const entry of index) {
    const [token, used] = await kv.getMany<[ScimToken, TokenLastUsed]>([
      keys.token(tenantId, entry.value),
      keys.tokenLastUsed(tenantId, entry.value),
    ]);
    if (!token.value) continue;
    const { hash: _hash, ...summary } = token.value;
    out.push({ ...summary, lastUsed: used.value ?? undefined });
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Revokes a token at once; returns false when it does not exist or was already revoked. */
export async function revokeToken(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  tokenId: string,
  actor: string,
): Promise<boolean> {
  if (!fitsKey(idpId) || !fitsKey(tokenId)) return false;
  const hash = (await kv.get<string>(keys.idpToken(tenantId, idpId, tokenId))).value;
  if (!hash) return false;
  const entry = await kv.get<ScimToken>(keys.token(tenantId, hash));
  if (!entry.value || entry.value.revokedAt) return false;
  const revoked: ScimToken = {
    ...entry.value,
    revokedAt: new Date().toISOString(),
    revokedBy: actor,
  };
  const op = kv.atomic().check(entry).set(entry.key, revoked);
  addEvent(op, { tenantId, actor, idpId, tokenId }, {
    type: "scim_token_revoked",
    target: { kind: "token", id: tokenId },
    summary: `SCIM token "${revoked.name}" revoked`,
  });
  const res = await withLockRetry(() => op.commit());
  return res.ok;
}
