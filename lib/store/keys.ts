/**
 * Every Deno KV key Weft uses, as typed functions. All tenant data lives under `["t", tenantId, …]`,
 * so listing or wiping a tenant is one prefix operation. The only keys outside a tenant are the
 * tenant registry itself (`tenants`, `tenants_by_subdomain`), needed to resolve a Host to a tenant,
 * the list of tenants with webhook endpoints (`webhook_tenants`), which the delivery worker scans,
 * the marks of tenants with events waiting to be sequenced (`feed_pending`), which the feed's
 * worker scans, and the store's own coordination records (`meta`, `readyz`).
 *
 * Records are stored once; index keys hold ids (or nothing), never copies.
 * @module
 */

/** A tuple key. */
export type Key = Deno.KvKey;

function t(tenantId: string, ...rest: Deno.KvKeyPart[]): Key {
  return ["t", tenantId, ...rest];
}

/** Key builders, grouped by entity. */
export const keys = {
  /** Schema version of the store (migrations). */
  schemaVersion: (): Key => ["meta", "schema"],
  /** Present while a restore or copy into this store is under way (instances refuse to start). */
  restoreMarker: (): Key => ["meta", "restore"],
  /** The write pause a point-in-time backup asks every instance to honour (expires). */
  writePause: (): Key => ["meta", "write_pause"],
  /** An instance's acknowledgement that it holds writes for pause `pauseId` (expires). */
  writePauseAck: (
    pauseId: string,
    instanceId: string,
  ): Key => ["meta", "write_pause_acks", pauseId, instanceId],
  /** Prefix of the acknowledgements of one pause. */
  writePauseAcks: (pauseId: string): Key => ["meta", "write_pause_acks", pauseId],
  /** A running instance's heartbeat (expires unless renewed). */
  instance: (instanceId: string): Key => ["meta", "instances", instanceId],
  /** Prefix of the running instances' heartbeats. */
  instances: (): Key => ["meta", "instances"],
  /** The lease held by the instance running migrations (expires unless renewed). */
  migrationLease: (): Key => ["meta", "migration_lease"],
  /** Written by the readiness probe: the store accepts writes. */
  readyProbe: (): Key => ["readyz"],
  /** Tenant record. */
  tenant: (tenantId: string): Key => ["tenants", tenantId],
  /** Prefix of all tenant records. */
  tenants: (): Key => ["tenants"],
  /** Unique index: subdomain → tenant id. */
  tenantBySubdomain: (subdomain: string): Key => ["tenants_by_subdomain", subdomain],
  /** Everything a tenant owns. */
  tenantData: (tenantId: string): Key => t(tenantId),

  /** Tenant settings document by name (e.g. `mirroring`). */
  setting: (tenantId: string, name: string): Key => t(tenantId, "settings", name),

  /** IdP connection record. */
  idp: (tenantId: string, idpId: string): Key => t(tenantId, "idps", idpId),
  /** Prefix of the tenant's IdP connections. */
  idps: (tenantId: string): Key => t(tenantId, "idps"),

  /** A logged SCIM request of an IdP connection (expires). */
  requestLog: (tenantId: string, idpId: string, logId: string): Key =>
    t(tenantId, "scim_requests", idpId, logId),
  /** Prefix of an IdP connection's logged requests (time order). */
  requestLogs: (tenantId: string, idpId: string): Key => t(tenantId, "scim_requests", idpId),
  /** One part of a logged request's long body (expires with it). */
  requestLogBody: (
    tenantId: string,
    idpId: string,
    logId: string,
    which: string,
    part: number,
  ): Key => t(tenantId, "scim_request_bodies", idpId, logId, which, part),
  /** Index: a logged request that was answered with an error. */
  requestLogError: (tenantId: string, idpId: string, logId: string): Key =>
    t(tenantId, "scim_request_errors", idpId, logId),
  /** Prefix of a connection's logged errors. */
  requestLogErrors: (tenantId: string, idpId: string): Key =>
    t(tenantId, "scim_request_errors", idpId),
  /** Index: a logged request about a user. */
  requestLogByUser: (tenantId: string, idpId: string, userId: string, logId: string): Key =>
    t(tenantId, "scim_requests_by_user", idpId, userId, logId),
  /** Prefix of the logged requests about a user. */
  requestLogsByUser: (tenantId: string, idpId: string, userId: string): Key =>
    t(tenantId, "scim_requests_by_user", idpId, userId),
  /** Index: the logged write request that carried a request id (which events name). */
  requestLogByRequestId: (tenantId: string, requestId: string, idpId: string, logId: string) =>
    t(tenantId, "scim_requests_by_request_id", requestId, idpId, logId),
  /** Prefix of the logged requests of a request id. */
  requestLogsByRequestId: (tenantId: string, requestId: string): Key =>
    t(tenantId, "scim_requests_by_request_id", requestId),
  /** The deletion job of an IdP connection and its progress. */
  idpDeletion: (tenantId: string, idpId: string): Key => t(tenantId, "idp_deletions", idpId),
  /**
   * The records an IdP connection owns beyond its users, groups and tokens, removed when it is
   * deleted (its events stay, as history): exact keys and prefixes. A new per-IdP record belongs
   * here.
   */
  idpOwned: (tenantId: string, idpId: string): { keys: Key[]; prefixes: Key[] } => ({
    keys: [
      keys.idpSaml(tenantId, idpId),
      ...["idp_users", "groups", "member_adds", "user_unlinks"].map((name) =>
        keys.counter(tenantId, name, idpId)
      ),
    ],
    prefixes: [
      keys.samlRefusals(tenantId, idpId),
      keys.samlAssertionSeen(tenantId, idpId, "").slice(0, -1),
      keys.authFailures(tenantId, idpId),
      keys.authFailureEventMark(tenantId, idpId, "").slice(0, -1),
      keys.idpUnlinkedByExternalId(tenantId, idpId, "").slice(0, -1),
      keys.pageAnchor(tenantId, "idp_users", idpId, 0).slice(0, -1),
      keys.pageAnchor(tenantId, "groups", idpId, 0).slice(0, -1),
      keys.requestLogs(tenantId, idpId),
      keys.requestLogErrors(tenantId, idpId),
      t(tenantId, "scim_requests_by_user", idpId),
      t(tenantId, "scim_request_bodies", idpId),
    ],
  }),
  /** SCIM token record, keyed by the SHA-256 hex of its secret. */
  token: (tenantId: string, hash: string): Key => t(tenantId, "scim_tokens", hash),
  /** Index: IdP → token id → secret hash. */
  idpToken: (tenantId: string, idpId: string, tokenId: string): Key =>
    t(tenantId, "idp_tokens", idpId, tokenId),
  /** Prefix of an IdP's tokens. */
  idpTokens: (tenantId: string, idpId: string): Key => t(tenantId, "idp_tokens", idpId),
  /** Last use of a token (by secret hash, read with it in one round trip), at most once a minute. */
  tokenLastUsed: (tenantId: string, hash: string): Key => t(tenantId, "token_last_used", hash),

  /** Canonical user record (its id is the SCIM `id`). */
  user: (tenantId: string, userId: string): Key => t(tenantId, "users", userId),
  /** Prefix of canonical users. */
  users: (tenantId: string): Key => t(tenantId, "users"),
  /** The IdP attribute row of a user: everything that IdP sent, plus its externalId. */
  idpUser: (tenantId: string, idpId: string, userId: string): Key =>
    t(tenantId, "idp_users", idpId, userId),
  /** Prefix of every IdP attribute row of a tenant (all IdPs). */
  allIdpUsers: (tenantId: string): Key => t(tenantId, "idp_users"),
  /** Prefix of an IdP's linked users (its SCIM view). */
  idpUsers: (tenantId: string, idpId: string): Key => t(tenantId, "idp_users", idpId),
  /** Unique index: (IdP, folded userName) → user id. */
  idpUserByUserName: (tenantId: string, idpId: string, userName: string): Key =>
    t(tenantId, "idp_users_by_username", idpId, foldName(userName)),
  /** Unique index: (IdP, externalId, case-exact) → user id. */
  idpUserByExternalId: (tenantId: string, idpId: string, externalId: string): Key =>
    t(tenantId, "idp_users_by_external_id", idpId, externalId),
  /** Non-unique index: (IdP, externalId, user id) → null; serves `externalId eq` filters. */
  idpUserByExternalIdAny: (
    tenantId: string,
    idpId: string,
    externalId: string,
    userId: string,
  ): Key => t(tenantId, "idp_users_by_external_id_any", idpId, externalId, userId),
  /** Prefix of one externalId's entries in the non-unique index. */
  idpUsersByExternalIdAny: (tenantId: string, idpId: string, externalId: string): Key =>
    t(tenantId, "idp_users_by_external_id_any", idpId, externalId),
  /** Non-unique index: (IdP, lower-cased work email, user id) → null. */
  idpUserByEmail: (tenantId: string, idpId: string, email: string, userId: string): Key =>
    t(tenantId, "idp_users_by_email", idpId, foldName(email), userId),
  /** Prefix of one email's entries in the email index. */
  idpUsersByEmail: (tenantId: string, idpId: string, email: string): Key =>
    t(tenantId, "idp_users_by_email", idpId, foldName(email)),
  /**
   * A deleted user whose trail (names on audit events, logged SCIM requests) is still to be
   * erased; written in the deletion's commit, removed when the erasure is done.
   */
  userErasure: (tenantId: string, userId: string): Key => t(tenantId, "user_erasures", userId),
  /** Prefix of a tenant's pending erasures (finished at start-up). */
  userErasures: (tenantId: string): Key => t(tenantId, "user_erasures"),
  /** Users an IdP deleted: externalId → user id, so a later POST relinks instead of duplicating. */
  idpUnlinkedByExternalId: (tenantId: string, idpId: string, externalId: string): Key =>
    t(tenantId, "idp_unlinked_by_external_id", idpId, externalId),

  // — Events feed, its outbox and roles (lib/store/feed*.ts, lib/store/roles.ts) —

  /** An outbox note: what one directory change commit did, waiting for the sequencer (ULID order). */
  feedNote: (tenantId: string, noteId: string): Key => t(tenantId, "feed_outbox", noteId),
  /**
   * Set by every note's commit (a plain set, so writers never conflict on it): the tenant has
   * notes waiting. Outside the tenant so that one listing finds every such tenant; the worker
   * removes it, checked against the versionstamp it read, once the outbox is empty.
   */
  feedPending: (tenantId: string): Key => ["feed_pending", tenantId],
  /** Prefix of the tenants with notes waiting. */
  feedPendings: (): Key => ["feed_pending"],
  /** Prefix of a tenant's waiting outbox notes. */
  feedNotes: (tenantId: string): Key => t(tenantId, "feed_outbox"),
  /** The feed's head `{seq}`: the last sequence number given; its single writer checks it. */
  feedHead: (tenantId: string): Key => t(tenantId, "feed_head"),
  /** A public event of the feed by sequence number (expires after the retention). */
  feedEntry: (tenantId: string, seq: number): Key => t(tenantId, "feed", seq),
  /** Prefix of the feed (sequence order). */
  feedEntries: (tenantId: string): Key => t(tenantId, "feed"),
  /** One part of an event too large for one value (expires with it). */
  feedEntryPart: (tenantId: string, seq: number, part: number): Key =>
    t(tenantId, "feed_parts", seq, part),
  /** The last record of a deleted group, so its later-sequenced events still render (expires). */
  feedGoneGroup: (tenantId: string, groupId: string): Key =>
    t(tenantId, "feed_gone_groups", groupId),
  /** The roles the feed last reported for a user (slugs), to emit role.assigned / unassigned. */
  roleSnapshot: (tenantId: string, userId: string): Key => t(tenantId, "role_snapshots", userId),
  /** Prefix of the role snapshots. */
  roleSnapshots: (tenantId: string): Key => t(tenantId, "role_snapshots"),
  /** A role of the tenant, with the IdP groups mapped to it. */
  role: (tenantId: string, slug: string): Key => t(tenantId, "roles", slug),
  /** Prefix of the tenant's roles (slug order). */
  roles: (tenantId: string): Key => t(tenantId, "roles"),

  /** Group record (groups belong to one IdP). */
  group: (tenantId: string, idpId: string, groupId: string): Key =>
    t(tenantId, "groups", idpId, groupId),
  /** Prefix of every group record of a tenant (all IdPs). */
  allGroups: (tenantId: string): Key => t(tenantId, "groups"),
  /** Prefix of an IdP's groups. */
  groups: (tenantId: string, idpId: string): Key => t(tenantId, "groups", idpId),
  /** Unique index: (IdP, folded displayName) → group id. */
  groupByName: (tenantId: string, idpId: string, displayName: string): Key =>
    t(tenantId, "groups_by_name", idpId, foldName(displayName)),
  /** Unique index: (IdP, externalId) → group id. */
  groupByExternalId: (tenantId: string, idpId: string, externalId: string): Key =>
    t(tenantId, "groups_by_external_id", idpId, externalId),
  /** Membership row: group → user. */
  groupMember: (tenantId: string, groupId: string, userId: string): Key =>
    t(tenantId, "group_members", groupId, userId),
  /** Prefix of a group's members. */
  groupMembers: (tenantId: string, groupId: string): Key => t(tenantId, "group_members", groupId),
  /** Reverse membership row: user → group. */
  userGroup: (tenantId: string, userId: string, groupId: string): Key =>
    t(tenantId, "user_groups", userId, groupId),
  /** Prefix of every reverse membership row of a tenant (the users in some group). */
  allUserGroups: (tenantId: string): Key => t(tenantId, "user_groups"),
  /** Prefix of a user's groups. */
  userGroups: (tenantId: string, userId: string): Key => t(tenantId, "user_groups", userId),
  /** When a group's membership last changed (its versionstamp joins the group's ETag). */
  groupMembersTouched: (tenantId: string, groupId: string): Key =>
    t(tenantId, "group_members_touched", groupId),
  /** Pending large membership change, applied in chunks (see `store/groups.ts`). */
  memberJournal: (tenantId: string, groupId: string): Key => t(tenantId, "member_journal", groupId),
  /** One part of a pending membership change's id lists. */
  memberJournalPart: (tenantId: string, groupId: string, part: number): Key =>
    t(tenantId, "member_journal_parts", groupId, part),
  /** Prefix of every pending membership change of a tenant (completed at start-up). */
  memberJournals: (tenantId: string): Key => t(tenantId, "member_journal"),

  /** Index-paging anchor: the id found at a start index of a listing (expires). */
  pageAnchor: (tenantId: string, listing: string, scope: string, startIndex: number): Key =>
    t(tenantId, "page_anchors", listing, scope, startIndex),
  /** Maintained counter (`Deno.KvU64`). */
  counter: (tenantId: string, name: string, scope: string): Key =>
    t(tenantId, "counters", name, scope),

  /** Event record by ULID. */
  event: (tenantId: string, eventId: string): Key => t(tenantId, "events", eventId),
  /** Prefix of all events (ULID order = time order). */
  events: (tenantId: string): Key => t(tenantId, "events"),
  /** Event index by IdP. */
  eventByIdp: (tenantId: string, idpId: string, eventId: string): Key =>
    t(tenantId, "events_by_idp", idpId, eventId),
  /** Event index by type. */
  eventByType: (tenantId: string, type: string, eventId: string): Key =>
    t(tenantId, "events_by_type", type, eventId),
  /** Event index by target (user or group id). */
  eventByTarget: (tenantId: string, targetId: string, eventId: string): Key =>
    t(tenantId, "events_by_target", targetId, eventId),

  /** Authentication failure tally per (IdP, hour, reason). */
  authFailure: (tenantId: string, idpId: string, hour: string, reason: string): Key =>
    t(tenantId, "auth_failures", idpId, hour, reason),
  /** Prefix of an IdP's authentication failure tallies. */
  authFailures: (tenantId: string, idpId: string): Key => t(tenantId, "auth_failures", idpId),
  /** One failed attempt of a client in a throttle window (expires after the window). */
  rateLimitHit: (
    tenantId: string,
    bucket: string,
    client: string,
    window: number,
    hit: string,
  ): Key => t(tenantId, "rate_limits", bucket, client, window, hit),
  /** Prefix of a client's failed attempts in a throttle window. */
  rateLimitHits: (tenantId: string, bucket: string, client: string, window: number): Key =>
    t(tenantId, "rate_limits", bucket, client, window),
  /** Marker that suppresses repeated `scim_auth_failed` events (expires). */
  authFailureEventMark: (tenantId: string, idpId: string, reason: string): Key =>
    t(tenantId, "auth_failure_event_marks", idpId, reason),

  /** Admin account of the console (architecture §2). */
  admin: (tenantId: string, adminId: string): Key => t(tenantId, "admins", adminId),
  /** Prefix of a tenant's admins. */
  admins: (tenantId: string): Key => t(tenantId, "admins"),
  /** Unique index: lower-cased admin email → admin id. */
  adminByEmail: (tenantId: string, emailLower: string): Key =>
    t(tenantId, "admins_by_email", emailLower),
  /** One-time admin setup link, keyed by the SHA-256 hex of its secret (expires). */
  adminSetupLink: (tenantId: string, hash: string): Key => t(tenantId, "admin_setup_links", hash),
  /** Prefix of a tenant's pending setup links. */
  adminSetupLinks: (tenantId: string): Key => t(tenantId, "admin_setup_links"),
  /** Admin console session record (expires; deleting it signs the session out). */
  adminSession: (tenantId: string, sessionId: string): Key =>
    t(tenantId, "admin_sessions", sessionId),
  /** Index: admin → session id, so every session of an admin can be revoked. */
  adminSessionOf: (tenantId: string, adminId: string, sessionId: string): Key =>
    t(tenantId, "admin_sessions_by_admin", adminId, sessionId),
  /** Prefix of an admin's sessions. */
  adminSessionsOf: (tenantId: string, adminId: string): Key =>
    t(tenantId, "admin_sessions_by_admin", adminId),
  /** The tenant's key for signing console session cookies (HS256, created on first use). */
  adminSigningKey: (tenantId: string): Key => t(tenantId, "admin_signing_key"),
  /** Failed sign-in counter per scope (`ip`) and window (expires with the window). */
  adminSignInFailures: (tenantId: string, scope: string, id: string, window: number): Key =>
    t(tenantId, "admin_signin_failures", scope, id, window),
  /** Failed sign-ins and the last one's time per scope (`pair`, `account`), for delays (expires). */
  adminSignInDelay: (tenantId: string, scope: string, id: string): Key =>
    t(tenantId, "admin_signin_delays", scope, id),
  /** An address an account signed in from (expires), exempt from the account's delays. */
  adminKnownAddress: (tenantId: string, emailLower: string, address: string): Key =>
    t(tenantId, "admin_known_addresses", emailLower, address),
  /** The tenant's "re-apply attribute mirroring to all users" job and its progress. */
  mirroringJob: (tenantId: string): Key => t(tenantId, "mirroring_job"),

  // — Directory API keys (lib/store/api_keys.ts) —

  /** Directory API key record, keyed by the SHA-256 hex of its secret. */
  apiKey: (tenantId: string, hash: string): Key => t(tenantId, "api_keys", hash),
  /** Index: API key id → secret hash (listing and revocation by id). */
  apiKeyById: (tenantId: string, keyId: string): Key => t(tenantId, "api_keys_by_id", keyId),
  /** Prefix of the tenant's API key ids. */
  apiKeysById: (tenantId: string): Key => t(tenantId, "api_keys_by_id"),
  /** Last use of an API key (by secret hash), written at most once a minute per process. */
  apiKeyLastUsed: (tenantId: string, hash: string): Key => t(tenantId, "api_key_last_used", hash),

  /** SAML settings of an IdP connection (kept apart from the IdP record, which is never rewritten). */
  idpSaml: (tenantId: string, idpId: string): Key => t(tenantId, "idp_saml", idpId),
  /** An AuthnRequest Weft sent, by its id, for the InResponseTo check (expires, consumed once). */
  samlRequest: (tenantId: string, requestId: string): Key =>
    t(tenantId, "saml_requests", requestId),
  /** An assertion id already accepted from an IdP (expires after the assertion's NotOnOrAfter). */
  samlAssertionSeen: (tenantId: string, idpId: string, assertionId: string): Key =>
    t(tenantId, "saml_assertions_seen", idpId, assertionId),
  /** Refused SAML sign-in tally per (IdP, hour, reason). */
  samlRefusal: (tenantId: string, idpId: string, hour: string, reason: string): Key =>
    t(tenantId, "saml_refusals", idpId, hour, reason),
  /** Prefix of an IdP's refused sign-in tallies. */
  samlRefusals: (tenantId: string, idpId: string): Key => t(tenantId, "saml_refusals", idpId),
  /** What an admin's test sign-in received and each check's result (expires). */
  samlTestResult: (tenantId: string, requestId: string): Key =>
    t(tenantId, "saml_test_results", requestId),

  /** A person's sign-in session, listed under its user so all of them end in one write (expires). */
  personSession: (tenantId: string, userId: string, sessionId: string): Key =>
    t(tenantId, "person_sessions", userId, sessionId),
  /** Prefix of a user's sign-in sessions. */
  personSessions: (tenantId: string, userId: string): Key => t(tenantId, "person_sessions", userId),
  /**
   * Set by every new session of a user; a write that ends the user's sessions checks it, so a
   * session started while it listed them makes it list again.
   */
  personSessionsTouched: (tenantId: string, userId: string): Key =>
    t(tenantId, "person_sessions_touched", userId),
  /** The tenant's key for signing person session cookies (HS256, apart from the console's). */
  personSigningKey: (tenantId: string): Key => t(tenantId, "person_signing_key"),
  // — Webhook endpoints and deliveries (lib/store/webhooks*.ts) —

  /** Webhook endpoint record (its secrets included: never listed to the console as such). */
  webhookEndpoint: (tenantId: string, endpointId: string): Key =>
    t(tenantId, "webhook_endpoints", endpointId),
  /** Prefix of the tenant's webhook endpoints. */
  webhookEndpoints: (tenantId: string): Key => t(tenantId, "webhook_endpoints"),
  /** One delivery: an event to an endpoint, its status and attempts (expires, see retention). */
  webhookDelivery: (tenantId: string, endpointId: string, eventId: string): Key =>
    t(tenantId, "webhook_deliveries", endpointId, eventId),
  /** Prefix of an endpoint's deliveries (event id order). */
  webhookDeliveries: (tenantId: string, endpointId: string): Key =>
    t(tenantId, "webhook_deliveries", endpointId),
  /** One part of the body a delivery sends, exactly the same bytes on every attempt (expires). */
  webhookPayload: (tenantId: string, endpointId: string, eventId: string, part: number): Key =>
    t(tenantId, "webhook_payloads", endpointId, eventId, part),
  /** Prefix of a delivery's body parts. */
  webhookPayloadParts: (tenantId: string, endpointId: string, eventId: string): Key =>
    t(tenantId, "webhook_payloads", endpointId, eventId),
  /** Prefix of an endpoint's body parts. */
  webhookPayloads: (tenantId: string, endpointId: string): Key =>
    t(tenantId, "webhook_payloads", endpointId),
  /**
   * Due index: an endpoint's delivery by next attempt time (ms) → null; the worker scans each
   * endpoint's up to now (per endpoint, so a dead endpoint's backlog never hides another's).
   */
  webhookDue: (tenantId: string, endpointId: string, atMs: number, eventId: string): Key =>
    t(tenantId, "webhook_due", endpointId, atMs, eventId),
  /** Prefix of an endpoint's due index. */
  webhookDueOf: (tenantId: string, endpointId: string): Key =>
    t(tenantId, "webhook_due", endpointId),
  /** Prefix of the tenant's due index. */
  webhookDueAll: (tenantId: string): Key => t(tenantId, "webhook_due"),
  /**
   * Registry of the tenants that have webhook endpoints, so the delivery worker scans only their
   * due indexes. Beside the tenant registry, outside tenants; rebuilt when a worker starts.
   */
  webhookTenant: (tenantId: string): Key => ["webhook_tenants", tenantId],
  /** Prefix of the registry of tenants with webhook endpoints. */
  webhookTenants: (): Key => ["webhook_tenants"],
};

const utf8 = new TextEncoder();

// deno-lint-ignore no-control-regex -- every ASCII character, controls included
const ASCII = /^[\x00-\x7f]*$/;

/** Accents on Latin, Greek and Cyrillic letters (after canonical decomposition). */
const ACCENTS = /(\p{Script=Latin}|\p{Script=Greek}|\p{Script=Cyrillic})\p{Mn}+/gu;

/**
 * The form a name takes in a uniqueness index: compatibility-normalised (NFKC), accents on
 * Latin, Greek and Cyrillic letters removed, lower-cased, trimmed. Names that differ only by
 * case, fullwidth or mathematical letters, accents or surrounding spaces are one name, so a
 * look-alike cannot be created beside the real one (`userName` and `displayName` are
 * case-insensitive, RFC 7643 §4.1.1, §4.2). Mixed-script look-alikes are refused at validation.
 */
export function foldName(name: string): string {
  // ASCII is its own NFKD/NFKC form and carries no combining accents.
  if (ASCII.test(name)) return name.toLowerCase().trim();
  return name.normalize("NFKD").replace(ACCENTS, "$1").normalize("NFKC").toLowerCase().trim();
}

/**
 * Whether a client-supplied string can be part of a key: Deno KV keys hold at most 2 KiB, and
 * every identifier Weft stores is at most 1 KiB (see `validate.ts`), so a longer one names
 * nothing and is answered as "not found" rather than reaching the store.
 */
export function fitsKey(part: string): boolean {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short strings fit without encoding them.
  if (part.length <= 341) return true;
  return part.length <= 1024 && utf8.encode(part).length <= 1024;
}
