/**
 * Webhook endpoints of a tenant: URL, subscribed event types, enabled or disabled (and why),
 * description, and the signing secrets.
 *
 * Secrets are stored as they are, not hashed: Weft must sign with them. They are shown once (on
 * create and rotate), never logged, never in audit events, and the console and CLI read
 * endpoints through {@linkcode EndpointSummary}, which leaves them out. Like the console's own
 * signing keys they are in the store's backups (which hold every record as stored; backup
 * summaries count records per kind only). During a rotation the previous secret keeps signing
 * beside the new one until `previousUntil`.
 *
 * Every change writes its audit event in the same atomic operation.
 * @module
 */
import { ulid } from "ulid";
import { fitsKey, keys } from "./keys.ts";
import { stripUndefined, withLockRetry } from "./kv.ts";
import { addEvent } from "./events.ts";
import type { EventType } from "../audit/events.ts";
import { newWebhookSecret } from "../webhooks/secrets.ts";

/** How long a rotated-out secret keeps signing beside the new one. */
export const ROTATION_OVERLAP_MS = 24 * 3600_000;

/** A stored endpoint, secrets included (only the delivery worker and rotation read these). */
export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  url: string;
  /** `["*"]` or public event types. */
  events: string[];
  enabled: boolean;
  /** Why it is disabled (an admin's action or 5 days of failures). */
  disabledReason?: string;
  disabledAt?: string;
  description: string;
  secret: string;
  /** The secret before the last rotation, signing beside `secret` until `previousUntil`. */
  previousSecret?: string;
  previousUntil?: string;
  secretCreatedAt: string;
  /** When the current run of failed attempts began (cleared by a success). */
  failingSince?: string;
  lastSuccessAt?: string;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint as the console and CLI show it: no secrets. */
export type EndpointSummary = Omit<WebhookEndpoint, "secret" | "previousSecret"> & {
  /** Whether a previous secret still signs (a rotation under way). */
  rotating: boolean;
};

/** What creating or editing an endpoint takes (the URL already passed the SSRF guard). */
export interface EndpointInput {
  url: string;
  events: string[];
  description: string;
}

/** Who made a change, for its audit event. */
export interface Actor {
  actor: string;
  requestId?: string;
  clientIp?: string;
}

/** The endpoint does not exist (deleted, or another tenant's). */
export class EndpointNotFoundError extends Error {
  constructor(endpointId: string) {
    super(`No webhook endpoint "${endpointId}"`);
    this.name = "EndpointNotFoundError";
  }
}

/** The endpoint without its secrets. */
export function summarize(e: WebhookEndpoint, now = Date.now()): EndpointSummary {
  const { secret: _s, previousSecret, ...rest } = e;
  return {
    ...rest,
    rotating: !!previousSecret && !!e.previousUntil && Date.parse(e.previousUntil) > now,
  };
}

/** The secrets that sign now: the current one, and the previous one during a rotation. */
export function signingSecrets(e: WebhookEndpoint, now = Date.now()): string[] {
  const previous = e.previousSecret && e.previousUntil && Date.parse(e.previousUntil) > now
    ? [e.previousSecret]
    : [];
  return [e.secret, ...previous];
}

/** The endpoint with its secrets, or null. */
export async function getEndpointRecord(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
): Promise<WebhookEndpoint | null> {
  // An id too long to be part of a key names no endpoint.
  if (!fitsKey(endpointId)) return null;
  return (await kv.get<WebhookEndpoint>(keys.webhookEndpoint(tenantId, endpointId))).value;
}

/** The endpoint without secrets, or null. */
export async function getEndpoint(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
): Promise<EndpointSummary | null> {
  const e = await getEndpointRecord(kv, tenantId, endpointId);
  return e ? summarize(e) : null;
}

/** The tenant's endpoints with their secrets (oldest first). */
export async function listEndpointRecords(
  kv: Deno.Kv,
  tenantId: string,
): Promise<WebhookEndpoint[]> {
  const out: WebhookEndpoint[] = [];
  for await (const e of kv.list<WebhookEndpoint>({ prefix: keys.webhookEndpoints(tenantId) })) {
    out.push(e.value);
  }
  return out;
}

/** The tenant's endpoints without secrets (oldest first). */
export async function listEndpoints(kv: Deno.Kv, tenantId: string): Promise<EndpointSummary[]> {
  const now = Date.now();
  return (await listEndpointRecords(kv, tenantId)).map((e) => summarize(e, now));
}

function audit(
  op: Deno.AtomicOperation,
  tenantId: string,
  who: Actor,
  type: EventType,
  e: WebhookEndpoint,
  summary: string,
  changed?: string[],
): void {
  addEvent(op, { tenantId, actor: who.actor, requestId: who.requestId, clientIp: who.clientIp }, {
    type,
    target: { kind: "webhook", id: e.id, name: e.description || e.url },
    summary,
    changed,
  });
}

/** Creates an endpoint; returns it and its secret, which is shown once. */
export async function createEndpoint(
  kv: Deno.Kv,
  tenantId: string,
  input: EndpointInput,
  who: Actor,
): Promise<{ endpoint: EndpointSummary; secret: string }> {
  const now = new Date().toISOString();
  const endpoint: WebhookEndpoint = {
    id: `ep_${ulid().toLowerCase()}`,
    tenantId,
    url: input.url,
    events: input.events,
    enabled: true,
    description: input.description,
    secret: newWebhookSecret(),
    secretCreatedAt: now,
    createdAt: now,
    updatedAt: now,
  };
  const op = kv.atomic()
    .check({ key: keys.webhookEndpoint(tenantId, endpoint.id), versionstamp: null })
    .set(keys.webhookEndpoint(tenantId, endpoint.id), endpoint)
    .set(keys.webhookTenant(tenantId), true);
  audit(op, tenantId, who, "webhook_endpoint_created", endpoint, "Webhook endpoint created");
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) throw new Error("Cannot create the webhook endpoint: its id was taken");
  return { endpoint: summarize(endpoint), secret: endpoint.secret };
}

/**
 * Read-modify-write of an endpoint with a check on what was read, retried on a concurrent
 * change. `change` returns the new record and its audit event, or null to write nothing.
 */
async function updateRecord(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  change: (
    e: WebhookEndpoint,
  ) =>
    | { next: WebhookEndpoint; event?: { type: EventType; summary: string; changed?: string[] } }
    | null,
  who?: Actor,
): Promise<WebhookEndpoint> {
  const key = keys.webhookEndpoint(tenantId, endpointId);
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get<WebhookEndpoint>(key);
    if (!entry.value) throw new EndpointNotFoundError(endpointId);
    const result = change(entry.value);
    if (!result) return entry.value;
    const next = stripUndefined({ ...result.next, updatedAt: new Date().toISOString() });
    const op = kv.atomic().check(entry).set(key, next);
    if (result.event) {
      audit(
        op,
        tenantId,
        who ?? { actor: "system:webhooks" },
        result.event.type,
        next,
        result.event.summary,
        result.event.changed,
      );
    }
    const res = await withLockRetry(() => op.commit());
    if (res.ok) return next;
  }
  throw new Error("Cannot update the webhook endpoint: it kept changing");
}

/** Changes URL, events and description; names the changed fields in the audit event. */
export async function updateEndpoint(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  input: EndpointInput,
  who: Actor,
): Promise<EndpointSummary> {
  const next = await updateRecord(kv, tenantId, endpointId, (e) => {
    const changed: string[] = [];
    if (e.url !== input.url) changed.push("url");
    if (e.events.join(",") !== input.events.join(",")) changed.push("events");
    if (e.description !== input.description) changed.push("description");
    if (!changed.length) return null;
    return {
      next: { ...e, ...input },
      event: { type: "webhook_endpoint_updated", summary: "Webhook endpoint changed", changed },
    };
  }, who);
  return summarize(next);
}

/** Disables (with the reason shown to admins) or enables an endpoint. */
export async function setEndpointEnabled(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  enabled: boolean,
  who: Actor,
  reason = "Disabled by an admin",
): Promise<EndpointSummary> {
  const next = await updateRecord(kv, tenantId, endpointId, (e) => {
    if (e.enabled === enabled) return null;
    return enabled
      ? {
        next: {
          ...e,
          enabled,
          disabledReason: undefined,
          disabledAt: undefined,
          failingSince: undefined,
        },
        event: { type: "webhook_endpoint_enabled", summary: "Webhook endpoint enabled" },
      }
      : {
        next: { ...e, enabled, disabledReason: reason, disabledAt: new Date().toISOString() },
        event: {
          type: "webhook_endpoint_disabled",
          summary: `Webhook endpoint disabled: ${reason}`,
        },
      };
  }, who);
  return summarize(next);
}

/** A new secret; the previous one keeps signing for {@linkcode ROTATION_OVERLAP_MS}. */
export async function rotateSecret(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  who: Actor,
  now = new Date(),
): Promise<{ endpoint: EndpointSummary; secret: string; previousUntil: string }> {
  const secret = newWebhookSecret();
  const previousUntil = new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString();
  const next = await updateRecord(kv, tenantId, endpointId, (e) => ({
    next: {
      ...e,
      secret,
      previousSecret: e.secret,
      previousUntil,
      secretCreatedAt: now.toISOString(),
    },
    event: {
      type: "webhook_secret_rotated",
      summary: "Webhook signing secret rotated; the previous one signs for 24 hours more",
    },
  }), who);
  return { endpoint: summarize(next), secret, previousUntil };
}

/**
 * Records an attempt's outcome on its endpoint: a success ends a run of failures; a failure
 * starts one, and disables the endpoint once the run has lasted `disableAfterMs`. Writes only
 * when something changes. Returns the endpoint as it now is.
 */
export async function recordEndpointOutcome(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  outcome: { ok: boolean; at: number; error?: string; disableAfterMs: number },
): Promise<WebhookEndpoint | null> {
  try {
    return await updateRecord(kv, tenantId, endpointId, (e) => {
      const at = new Date(outcome.at).toISOString();
      if (outcome.ok) {
        // A success every minute would rewrite the record every minute: once an hour is enough.
        const fresh = e.lastSuccessAt && outcome.at - Date.parse(e.lastSuccessAt) < 3600_000;
        if (!e.failingSince && fresh) return null;
        return { next: { ...e, failingSince: undefined, lastSuccessAt: at } };
      }
      if (!e.failingSince) return { next: { ...e, failingSince: at } };
      if (!e.enabled || outcome.at - Date.parse(e.failingSince) < outcome.disableAfterMs) {
        return null;
      }
      const days = Math.round(outcome.disableAfterMs / 86_400_000);
      const reason = `Every delivery failed for ${days} days (since ${e.failingSince})${
        outcome.error ? `; the last: ${outcome.error}` : ""
      }`.slice(0, 500);
      return {
        next: { ...e, enabled: false, disabledReason: reason, disabledAt: at },
        event: {
          type: "webhook_endpoint_disabled",
          summary: `Webhook endpoint disabled after ${days} days of failed deliveries`,
        },
      };
    });
  } catch (error) {
    if (error instanceof EndpointNotFoundError) return null;
    throw error;
  }
}

/**
 * Deletes an endpoint (and its audit event in the same write); its deliveries are removed after
 * it, in batches (`deleteDeliveriesOf`), and the worker drops any it meets first.
 */
export async function deleteEndpointRecord(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  who: Actor,
): Promise<void> {
  const key = keys.webhookEndpoint(tenantId, endpointId);
  const entry = await kv.get<WebhookEndpoint>(key);
  if (!entry.value) throw new EndpointNotFoundError(endpointId);
  const op = kv.atomic().check(entry).delete(key);
  audit(op, tenantId, who, "webhook_endpoint_deleted", entry.value, "Webhook endpoint deleted");
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) return await deleteEndpointRecord(kv, tenantId, endpointId, who);
}

/** The tenants that have (or had) webhook endpoints: the worker scans their due indexes. */
export async function listWebhookTenants(kv: Deno.Kv): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: keys.webhookTenants() })) out.push(String(e.key[1]));
  return out;
}

/**
 * Rebuilds the registry of tenants with endpoints from the tenants' own records (after a
 * restore of one tenant, say, which brings its endpoints but not the registry). One short read
 * per tenant; run when a worker starts.
 */
export async function rebuildWebhookTenants(kv: Deno.Kv): Promise<number> {
  let found = 0;
  for await (const t of kv.list({ prefix: keys.tenants() })) {
    const tenantId = String(t.key[1]);
    for await (const _ of kv.list({ prefix: keys.webhookEndpoints(tenantId) }, { limit: 1 })) {
      found++;
      await withLockRetry(() => kv.set(keys.webhookTenant(tenantId), true));
    }
  }
  return found;
}
