/**
 * Audit events: types, and the mutations that write one inside the caller's atomic operation,
 * so a change is never visible without its event and a failed write leaves none.
 * @module
 */
import { encodeTime, monotonicFactory } from "ulid";
import { fromCursor, getManyBatched, stripUndefined } from "../store/kv.ts";
import { keys } from "../store/keys.ts";
import type { ChangeContext } from "../store/types.ts";

/** Every event type Weft records. */
export const EVENT_TYPES = [
  "scim_user_received",
  "scim_user_updated",
  "scim_user_deactivated",
  "scim_user_reactivated",
  "scim_user_deleted",
  "scim_group_received",
  "scim_group_updated",
  "scim_group_deleted",
  "scim_token_created",
  "scim_token_revoked",
  "scim_auth_failed",
  "tenant_created",
  "idp_created",
  "mirroring_updated",
  "admin_created",
  "admin_removed",
  "admin_setup_link_created",
  "admin_setup_link_revoked",
  "idp_saml_updated",
  "saml_sign_in",
  "saml_sign_in_refused",
  "user_sessions_revoked",
] as const;

/** An event type. */
export type EventType = typeof EVENT_TYPES[number];

/** A recorded event. Never holds secrets, passwords or attribute values. */
export interface AuditEvent {
  id: string;
  at: string;
  type: EventType;
  tenantId: string;
  idpId?: string;
  tokenId?: string;
  actor: string;
  target?: {
    kind: "user" | "group" | "token" | "idp" | "tenant" | "admin" | "admin_link";
    id: string;
  };
  /** Names of the attributes that changed. */
  changed?: string[];
  /** Small numeric facts, e.g. `{membersAdded: 3}`. */
  counts?: Record<string, number>;
  /** Short human summary, free of attribute values. */
  summary: string;
  requestId?: string;
  clientIp?: string;
}

const nextUlid = monotonicFactory();

/** Input for {@linkcode addEvent}. */
export type EventInput = Omit<AuditEvent, "id" | "at" | "tenantId" | "actor" | "idpId"> & {
  idpId?: string;
};

/** Adds the event and its index entries to `op`; returns the event. */
export function addEvent(
  op: Deno.AtomicOperation,
  ctx: Pick<ChangeContext, "tenantId" | "actor"> & Partial<ChangeContext>,
  input: EventInput,
  now: Date = new Date(),
): AuditEvent {
  const id = nextUlid(now.getTime());
  const event: AuditEvent = {
    id,
    at: now.toISOString(),
    tenantId: ctx.tenantId,
    actor: ctx.actor,
    idpId: input.idpId ?? ctx.idpId,
    tokenId: input.tokenId ?? ctx.tokenId,
    requestId: input.requestId ?? ctx.requestId,
    clientIp: input.clientIp ?? ctx.clientIp,
    ...stripUndefined(input),
  };
  op.set(keys.event(ctx.tenantId, id), stripUndefined(event));
  if (event.idpId) op.set(keys.eventByIdp(ctx.tenantId, event.idpId, id), null);
  op.set(keys.eventByType(ctx.tenantId, event.type, id), null);
  if (event.target) op.set(keys.eventByTarget(ctx.tenantId, event.target.id, id), null);
  return event;
}

/** Query options for {@linkcode listEvents}. */
export interface EventQuery {
  idpId?: string;
  type?: EventType;
  targetId?: string;
  /** Inclusive lower bound (ISO time). */
  since?: string;
  /** Exclusive upper bound (ISO time). */
  until?: string;
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/** Events newest first, by one index (IdP, type or target) or all, within a time range. */
export async function listEvents(
  kv: Deno.Kv,
  tenantId: string,
  query: EventQuery = {},
): Promise<{ events: AuditEvent[]; cursor?: string }> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
  const prefix = query.idpId
    ? keys.eventByIdp(tenantId, query.idpId, "").slice(0, -1)
    : query.type
    ? keys.eventByType(tenantId, query.type, "").slice(0, -1)
    : query.targetId
    ? keys.eventByTarget(tenantId, query.targetId, "").slice(0, -1)
    : keys.events(tenantId);
  const start = query.since ? [...prefix, ulidBound(query.since)] : undefined;
  const end = query.until ? [...prefix, ulidBound(query.until)] : undefined;
  const selector: Deno.KvListSelector = start && end
    ? { start, end }
    : start
    ? { prefix, start }
    : end
    ? { prefix, end }
    : { prefix };
  const iter = kv.list(selector, { reverse: true, cursor: query.cursor, batchSize: limit + 1 });
  const direct = !query.idpId && !query.type && !query.targetId;
  const out: AuditEvent[] = [];
  const ids: string[] = [];
  await fromCursor(async () => {
    for await (const entry of iter) {
      if (direct) out.push(entry.value as AuditEvent);
      else ids.push(String(entry.key[entry.key.length - 1]));
      if (out.length + ids.length >= limit) break;
    }
  });
  if (!direct) {
    const entries = await getManyBatched<AuditEvent>(kv, ids.map((id) => keys.event(tenantId, id)));
    for (const e of entries) if (e.value) out.push(e.value);
  }
  // The index narrowed by one criterion; apply the others.
  const events = out.filter((e) =>
    (!query.idpId || e.idpId === query.idpId) &&
    (!query.type || e.type === query.type) &&
    (!query.targetId || e.target?.id === query.targetId)
  );
  const cursor = out.length + ids.length >= limit ? iter.cursor : undefined;
  return { events, cursor };
}

/** The smallest ULID of a moment, as a range bound. */
function ulidBound(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`Cannot read time "${iso}"`);
  return encodeTime(ms, 10);
}
