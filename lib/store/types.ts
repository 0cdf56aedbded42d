/**
 * The records Weft keeps in Deno KV (architecture §2).
 * @module
 */

/** A tenant: one customer, served at `https://<subdomain>.<base domain>`. */
export interface Tenant {
  id: string;
  subdomain: string;
  name: string;
  createdAt: string;
}

/** Kinds of identity provider Weft knows the quirks of. */
export const IDP_KINDS = ["okta", "entra", "onelogin", "jumpcloud", "google", "generic"] as const;

/** One of {@linkcode IDP_KINDS}. */
export type IdpKind = (typeof IDP_KINDS)[number];

/** A SAML IdP connection whose SCIM endpoint receives provisioning. */
export interface Idp {
  id: string;
  tenantId: string;
  name: string;
  kind: IdpKind;
  scimEnabled: boolean;
  /**
   * How a POST finds the user it is about. `externalId` (Okta and most IdPs): the IdP's immutable
   * user id is the merge key, so an email change or a re-assignment lands on the same user.
   * `userName`: the IdP matches users itself and sends externalId as an ordinary, possibly shared,
   * attribute (Entra maps it from mailNickname); users are matched by userName only.
   */
  matchBy: "externalId" | "userName";
  /**
   * What a SCIM DELETE does to the canonical user (absent: `unlink`). `unlink`: the user is
   * deactivated and unlinked from this IdP, the record and its history stay, and a later POST
   * with the same externalId relinks it. `delete`: the user is removed, the names on its audit
   * events and the SCIM requests logged about it are erased; the audit trail keeps ids only.
   */
  deprovisioning?: "unlink" | "delete";
  /**
   * SAML fields given when the connection was created by older versions. The SAML settings live
   * in their own record ({@linkcode SamlSettings}); a migration copies these there.
   */
  saml?: { entityId?: string; ssoUrl?: string; certificate?: string };
  createdAt: string;
  updatedAt?: string;
  /** Set when the connection's deletion started: SCIM is refused until it is gone. */
  deletingSince?: string;
}

/** A SCIM bearer token; only the SHA-256 of the secret is stored. */
export interface ScimToken {
  id: string;
  tenantId: string;
  idpId: string;
  name: string;
  /** SHA-256 hex of the secret. */
  hash: string;
  /** First characters of the secret, safe to show (`weft_AbC1…`). */
  prefix: string;
  createdAt: string;
  createdBy: string;
  expiresAt?: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** When and from where a token was last used (written at most once a minute). */
export interface TokenLastUsed {
  at: string;
  ip: string;
}

/** The canonical user of a tenant; its id is the SCIM `id`. */
export interface User {
  id: string;
  tenantId: string;
  sourceIdpId: string;
  status: "active" | "deactivated";
  userName: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  /** Custom canonical fields (e.g. `department`) derived by attribute mirroring. */
  custom: Record<string, string>;
  /** For each mirrored field, the SCIM attribute path it came from. */
  mirroredFrom: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** A user as one IdP sees it: everything that IdP sent (the IdP attribute row). */
export interface IdpUser {
  userId: string;
  idpId: string;
  /** The IdP's id for the user (Okta user id, Entra object id or mailNickname); case-exact. */
  externalId?: string;
  /** `active` as the IdP last set it. */
  active: boolean;
  /** The SCIM resource last received, without id/meta/schemas/externalId/active/password. */
  resource: Record<string, unknown>;
  created: string;
  lastModified: string;
  /** When the IdP last sent anything for this user. */
  receivedAt: string;
}

/** A group pushed by one IdP. Members are separate rows. */
export interface Group {
  id: string;
  idpId: string;
  displayName: string;
  externalId?: string;
  /** Other attributes the IdP sent (custom or extension), kept as received. */
  extra: Record<string, unknown>;
  created: string;
  lastModified: string;
}

/** A membership row's value: what the IdP called the member, if anything. */
export interface MemberRow {
  display?: string;
}

/** One mirroring rule: canonical field ← first non-empty value of the SCIM paths. */
export interface MirrorRule {
  field: string;
  sources: string[];
  enabled: boolean;
}

/** The tenant's attribute mirroring configuration. */
export interface MirroringConfig {
  rules: MirrorRule[];
}

/** Who made a change and through what: filled from the request. */
export interface ChangeContext {
  tenantId: string;
  idpId: string;
  tokenId?: string;
  actor: string;
  requestId: string;
  clientIp: string;
  /** The IdP's matching rule (see {@linkcode Idp.matchBy}); `externalId` when absent. */
  matchBy?: Idp["matchBy"];
  /** The IdP's deprovisioning policy (see {@linkcode Idp.deprovisioning}); `unlink` when absent. */
  deprovisioning?: Idp["deprovisioning"];
}

/** An IdP connection's SAML settings (Weft is the service provider). */
export interface SamlSettings {
  tenantId: string;
  idpId: string;
  /** The IdP's entity ID: the Issuer of its assertions. */
  entityId?: string;
  /** Where AuthnRequests go (HTTP-Redirect binding). */
  ssoUrl?: string;
  /** Certificates (PEM) whose keys may sign responses; several during a rotation. */
  certificates: string[];
  /** Optional SP key pair: AuthnRequests are signed and encrypted assertions accepted. */
  spKey?: { privateKey: string; certificate: string };
  /** Accept sign-ins the IdP starts (no InResponseTo), e.g. from an Okta dashboard tile. */
  idpInitiated: boolean;
  /** Create a person from the assertion when no user of this IdP matches. */
  jit: boolean;
  /** The attribute whose value is matched to users; absent: the NameID. */
  matchAttribute?: string;
  updatedAt: string;
  updatedBy: string;
}

/** An AuthnRequest Weft sent, kept until the response arrives (10 minutes at most). */
export interface SamlRequestRecord {
  id: string;
  tenantId: string;
  idpId: string;
  createdAt: string;
  /** Where to go after signing in (a same-origin path). */
  returnTo?: string;
  /** Set for an admin's test sign-in: only that admin session sees the result. */
  test?: { adminId: string; sessionId: string };
}

/** A person signed in through SAML. */
export interface PersonSession {
  id: string;
  tenantId: string;
  userId: string;
  idpId: string;
  /** Per-session token for state changes (sign-out). */
  csrf: string;
  createdAt: string;
  expiresAt: string;
  ip: string;
  userAgent: string;
}
