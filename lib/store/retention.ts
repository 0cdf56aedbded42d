/**
 * What a backup keeps of each kind of record, and until when. Deno KV never says when a record
 * set with `expireIn` expires, so every kind written with an expiry is named here with how its
 * expiry is known again:
 *
 * - `drop`: working state that rebuilds itself or whose loss only relaxes a short-lived limit:
 *   throttle hits and delays, page anchors, pending SAML AuthnRequests (a sign-in under way is
 *   answered `unknown_request` and started again), test sign-in results, "already reported"
 *   marks, the readiness probe, and the coordination records of running instances.
 * - `until`: the record's own value says when it ends (sessions, setup links): restored with the
 *   time it had left, and not restored at all once past it.
 * - `bound`: the record ends at most this long after the backup (an index beside a session, a
 *   seen SAML assertion id): restored with that bound, so it never outlives what it guards by
 *   more than the bound and replay protection holds across a restore.
 *
 * Every other kind is kept with no expiry, as it was stored. A new kind written with `expireIn`
 * must be added here.
 * @module
 */
import { SESSION_TTL_MS } from "./admin_sessions.ts";
import { PERSON_SESSION_TTL_MS } from "./person_sessions.ts";
import { DELIVERY_RETENTION_MS } from "./webhook_deliveries.ts";

/** How a backup treats one kind of record. */
export type Retention =
  | { keep: "always" }
  | { keep: "never" }
  | { keep: "until"; expiresAt(value: unknown): number | undefined }
  | { keep: "bound"; ms: number };

const DROP: Retention = { keep: "never" };
const ALWAYS: Retention = { keep: "always" };

/** A record's own ISO `expiresAt` field. */
function ownExpiry(value: unknown): number | undefined {
  const at = (value as { expiresAt?: unknown } | null)?.expiresAt;
  const ms = typeof at === "string" ? Date.parse(at) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Retention of the kinds under a tenant (the key part after the tenant id). */
const TENANT_KINDS: Record<string, Retention> = {
  admin_sessions: { keep: "until", expiresAt: ownExpiry },
  admin_sessions_by_admin: { keep: "bound", ms: SESSION_TTL_MS },
  admin_setup_links: { keep: "until", expiresAt: ownExpiry },
  person_sessions: { keep: "until", expiresAt: ownExpiry },
  person_sessions_touched: {
    keep: "until",
    expiresAt: (v) => typeof v === "string" ? Date.parse(v) + PERSON_SESSION_TTL_MS : undefined,
  },
  // Kept as long as any assertion an IdP issues is valid, so none can be replayed after a restore.
  saml_assertions_seen: { keep: "bound", ms: 24 * 3600_000 },
  admin_signin_failures: DROP,
  admin_signin_delays: DROP,
  admin_known_addresses: DROP,
  rate_limits: DROP,
  auth_failure_event_marks: DROP,
  page_anchors: DROP,
  saml_requests: DROP,
  saml_test_results: DROP,
  // The SCIM request log: entries until their own expiry, their parts and indexes at most as
  // long as the longest log (`WEFT_REQUEST_LOG_DAYS` ≤ 90).
  scim_requests: { keep: "until", expiresAt: ownExpiry },
  scim_request_bodies: { keep: "bound", ms: 90 * 86_400_000 },
  scim_request_errors: { keep: "bound", ms: 90 * 86_400_000 },
  scim_requests_by_user: { keep: "bound", ms: 90 * 86_400_000 },
  scim_requests_by_request_id: { keep: "bound", ms: 90 * 86_400_000 },
  // Webhook deliveries until their own expiry; their bodies and due entries at most as long as
  // a delivery is kept after its last change.
  webhook_deliveries: { keep: "until", expiresAt: ownExpiry },
  webhook_payloads: { keep: "bound", ms: DELIVERY_RETENTION_MS },
  webhook_due: { keep: "bound", ms: DELIVERY_RETENTION_MS },
  // The events feed: entries and deleted groups' last records until their own expiry, the parts
  // of large entries at most as long as the longest retention (`WEFT_EVENT_RETENTION_DAYS` ≤ 365).
  feed: { keep: "until", expiresAt: ownExpiry },
  feed_parts: { keep: "bound", ms: 365 * 86_400_000 },
  feed_gone_groups: { keep: "until", expiresAt: ownExpiry },
};

/** Retention of `["meta", <name>, …]` records. */
const META_KINDS: Record<string, Retention> = {
  schema: ALWAYS,
};

/** Top-level kinds other than `t` and `meta`. */
const TOP_KINDS: Record<string, Retention> = {
  readyz: DROP,
  // The events feed's "notes waiting" marks: the worker looks at every outbox once a minute, so
  // a restored outbox is sequenced without them.
  feed_pending: DROP,
};

/**
 * How a backup treats the record at `key`. Coordination records of running instances (every
 * `meta` record but the schema version) are never kept: they describe processes, not data.
 */
export function retentionOf(key: Deno.KvKey): Retention {
  const top = key[0];
  if (top === "t") return TENANT_KINDS[String(key[2])] ?? ALWAYS;
  if (top === "meta") return META_KINDS[String(key[1])] ?? DROP;
  return TOP_KINDS[String(top)] ?? ALWAYS;
}

/**
 * When a record read now should expire after a restore: `undefined` for never, `null` when it is
 * not to be kept at all (dropped, or already past its expiry).
 */
export function expiryOf(key: Deno.KvKey, value: unknown, now: number): number | undefined | null {
  const r = retentionOf(key);
  switch (r.keep) {
    case "always":
      return undefined;
    case "never":
      return null;
    case "until": {
      const at = r.expiresAt(value);
      // A record whose end cannot be read is kept no longer than a day.
      const end = at ?? now + 24 * 3600_000;
      return end > now ? end : null;
    }
    case "bound":
      return now + r.ms;
  }
}
