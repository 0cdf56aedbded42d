/**
 * Writing and reading audit events (architecture §5): {@linkcode addEvent} adds an event and its
 * index entries (IdP, type, target) to the caller's atomic operation; {@linkcode listEvents}
 * reads them newest first through one index.
 * @module
 */
import { encodeTime, monotonicFactory } from "ulid";
import { fromCursor, getManyBatched, stripUndefined, withLockRetry } from "./kv.ts";
import { keys } from "./keys.ts";
import type { ChangeContext } from "./types.ts";
import type { AuditEvent, EventInput, EventQuery } from "../audit/events.ts";

const nextUlid = monotonicFactory();

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

/** One event by id. */
export async function getEvent(
  kv: Deno.Kv,
  tenantId: string,
  eventId: string,
): Promise<AuditEvent | null> {
  return (await kv.get<AuditEvent>(keys.event(tenantId, eventId))).value;
}

/** What a live view follows: all of a tenant's events, one IdP's, or one user's or group's. */
export interface EventScope {
  idpId?: string;
  targetId?: string;
}

/** The id of the newest event in a scope (one index key read), or null when there is none. */
export async function latestEventId(
  kv: Deno.Kv,
  tenantId: string,
  scope: EventScope = {},
): Promise<string | null> {
  const prefix = scope.targetId
    ? keys.eventByTarget(tenantId, scope.targetId, "").slice(0, -1)
    : scope.idpId
    ? keys.eventByIdp(tenantId, scope.idpId, "").slice(0, -1)
    : keys.events(tenantId);
  for await (const e of kv.list({ prefix }, { reverse: true, limit: 1 })) {
    return String(e.key.at(-1));
  }
  return null;
}

/**
 * Removes the names recorded on the events about one target (a user whose IdP deletes people):
 * the audit trail keeps the ids, the types and the times. Returns the events rewritten.
 */
export async function dropTargetNames(
  kv: Deno.Kv,
  tenantId: string,
  targetId: string,
): Promise<number> {
  const prefix = keys.eventByTarget(tenantId, targetId, "").slice(0, -1);
  let rewritten = 0;
  let batch: string[] = [];
  const flush = async () => {
    const entries = await getManyBatched<AuditEvent>(
      kv,
      batch.map((id) => keys.event(tenantId, id)),
    );
    let op = kv.atomic();
    let n = 0;
    for (const e of entries) {
      if (!e.value?.target?.name) continue;
      const { name: _name, ...target } = e.value.target;
      op.set(e.key, { ...e.value, target });
      rewritten++;
      if (++n % 200 === 0) {
        await withLockRetry(() => op.commit());
        op = kv.atomic();
      }
    }
    if (n % 200) await withLockRetry(() => op.commit());
    batch = [];
  };
  for await (const e of kv.list({ prefix })) {
    batch.push(String(e.key.at(-1)));
    if (batch.length >= 200) await flush();
  }
  if (batch.length) await flush();
  return rewritten;
}
