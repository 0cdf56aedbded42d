/**
 * Webhook deliveries: one record per (endpoint, event) with its status (`pending`, `succeeded`,
 * `failed`), its attempts (time, status code, latency, the first 1 KiB of the response, error)
 * and its next attempt time; the body it sends, in parts of at most 60 KiB; and a due index
 * `webhook_due/<endpoint>/<next attempt ms>/<event>` that the worker scans up to now.
 *
 * The sequencer's commit (the transactional outbox) adds only the due entry of each (event,
 * endpoint) — one small mutation, within the sequencer's budget — holding the event's feed
 * sequence number. The first claim creates the delivery record and copies the event's JSON from
 * its feed entry into the delivery's body (feed entries expire; every retry and resend sends
 * these same bytes). Test events are not in the feed: they are written whole at once.
 *
 * An attempt is leased in the delivery record itself: claiming it is one atomic check-and-set of
 * the record (holder and lease end, which also becomes its next attempt time in the due index),
 * so among every instance on the store one runs it; recording the result checks the record
 * again, so a holder whose lease ran out (a stalled or killed process) cannot overwrite a newer
 * attempt. A process that dies mid-attempt leaves the lease to expire: the attempt runs again
 * (at least once).
 *
 * Every record here is written with an expiry ({@linkcode DELIVERY_RETENTION_MS} after its last
 * change; see `retention.ts`), so deliveries do not pile up.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { getManyBatched, maxChecks, stripUndefined, withLockRetry } from "./kv.ts";
import { addEvent } from "./events.ts";
import type { Actor } from "./webhooks.ts";
import type { FeedEntryValue } from "./feed_sequencer.ts";

/** How long a delivery (and its body) is kept after its last change. */
export const DELIVERY_RETENTION_MS = 30 * 86_400_000;
/** The most attempts a delivery record keeps (the newest; `attemptCount` counts them all). */
export const ATTEMPTS_KEPT = 20;
/** Bytes of a receiver's response kept per attempt. */
export const RESPONSE_BODY_BYTES = 1024;
/** Bytes per body part (a KV value holds at most 64 KiB). */
const PART_BYTES = 60 * 1024;

/** One attempt of a delivery. */
export interface DeliveryAttempt {
  at: string;
  /** The receiver's HTTP status, when it answered. */
  statusCode?: number;
  latencyMs: number;
  /** The first 1 KiB of the response body, as text (shown escaped). */
  responseBody?: string;
  /** Why it failed without a status, or what was wrong with it (timeout, refused, 3xx…). */
  error?: string;
}

/** Where a delivery stands. */
export type DeliveryStatus = "pending" | "succeeded" | "failed";

/** One event to one endpoint. */
export interface Delivery {
  tenantId: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  createdAt: string;
  /** The first attempt of the current retry window (a resend starts a new one). */
  firstAttemptAt?: string;
  attemptCount: number;
  attempts: DeliveryAttempt[];
  /** When the next attempt is due (ms since the epoch), null once finished. */
  nextAttemptAt: number | null;
  /** The instance running an attempt now, and until when its lease holds. */
  lease?: { holder: string; until: number };
  /** The body's size and number of parts. */
  bytes: number;
  parts: number;
  /** When the record expires (retention). */
  expiresAt: string;
}

/** A due index entry. */
export interface DueDelivery {
  tenantId: string;
  at: number;
  endpointId: string;
  eventId: string;
}

/** A due entry's value: the feed event of a delivery not yet attempted, or null. */
export type DueValue = { seq: number; type: string } | null;

/** A delivery leased to this instance, with the body to send. */
export interface ClaimedDelivery {
  delivery: Delivery;
  versionstamp: string;
  body: string;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

const listeners = new Set<() => void>();

/** Calls `listener` whenever this process adds deliveries (the worker's nudge). */
export function onDeliveriesAdded(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tells this process's worker that deliveries were (or are about to be) committed. */
export function deliveriesAdded(): void {
  // After the caller's commit, which runs on this turn or the next.
  setTimeout(() => listeners.forEach((l) => l()), 5);
}

function parts(body: string): Uint8Array[] {
  const bytes = utf8.encode(body);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += PART_BYTES) {
    out.push(bytes.slice(i, i + PART_BYTES));
  }
  return out;
}

/**
 * Adds a new delivery of `event` (its JSON `body`) to `endpointId` to `op`, due now; returns the
 * number of mutations added (2 + one per 60 KiB of body).
 */
export function addDeliveryOps(
  op: Deno.AtomicOperation,
  tenantId: string,
  endpointId: string,
  event: { id: string; type: string; body: string },
  now: number,
): number {
  const chunks = parts(event.body);
  const expireIn = DELIVERY_RETENTION_MS;
  const delivery: Delivery = {
    tenantId,
    endpointId,
    eventId: event.id,
    eventType: event.type,
    status: "pending",
    createdAt: new Date(now).toISOString(),
    attemptCount: 0,
    attempts: [],
    nextAttemptAt: now,
    bytes: chunks.reduce((n, c) => n + c.length, 0),
    parts: chunks.length,
    expiresAt: new Date(now + expireIn).toISOString(),
  };
  op.set(keys.webhookDelivery(tenantId, endpointId, event.id), delivery, { expireIn });
  chunks.forEach((c, i) =>
    op.set(keys.webhookPayload(tenantId, endpointId, event.id, i), c, { expireIn })
  );
  op.set(keys.webhookDue(tenantId, endpointId, now, event.id), null, { expireIn });
  return 2 + chunks.length;
}

/**
 * Adds the due entry of a feed event's delivery to `endpointId` to `op` (the sequencer's
 * commit): one mutation; the delivery record is created by its first claim.
 */
export function addFeedDeliveryOp(
  op: Deno.AtomicOperation,
  tenantId: string,
  endpointId: string,
  event: { id: string; type: string; seq: number },
  now: number,
): number {
  const value: DueValue = { seq: event.seq, type: event.type };
  op.set(keys.webhookDue(tenantId, endpointId, now, event.id), value, {
    expireIn: DELIVERY_RETENTION_MS,
  });
  return 1;
}

/** The JSON of the feed event `seq`, as the feed holds it, or null once it expired. */
async function feedEventJson(kv: Deno.Kv, tenantId: string, seq: number): Promise<string | null> {
  const entry = (await kv.get<FeedEntryValue>(keys.feedEntry(tenantId, seq))).value;
  if (!entry) return null;
  if ("event" in entry) return JSON.stringify(entry.event);
  const parts = await getManyBatched<string>(
    kv,
    Array.from({ length: entry.parts }, (_, i) => keys.feedEntryPart(tenantId, seq, i)),
  );
  if (parts.some((p) => typeof p.value !== "string")) return null;
  return JSON.stringify(JSON.parse(parts.map((p) => p.value).join("")));
}

/** The due entry of a delivery not yet attempted: it names its feed event. */
type FreshDue = Deno.KvEntry<NonNullable<DueValue>>;

/**
 * Adds the first claim of a feed event's delivery to `op` — its record (leased to `holder`) and
 * its body's parts, checked against the due entry and the absence of a record — and returns
 * the record.
 */
function addFreshClaim(
  op: Deno.AtomicOperation,
  due: DueDelivery,
  dueEntry: FreshDue,
  body: string,
  options: { holder: string; leaseMs: number; now: number },
): Delivery {
  const chunks = parts(body);
  const until = options.now + options.leaseMs;
  const expireIn = DELIVERY_RETENTION_MS;
  const delivery: Delivery = {
    tenantId: due.tenantId,
    endpointId: due.endpointId,
    eventId: due.eventId,
    eventType: dueEntry.value.type,
    status: "pending",
    createdAt: new Date(due.at).toISOString(),
    attemptCount: 0,
    attempts: [],
    nextAttemptAt: until,
    lease: { holder: options.holder, until },
    bytes: chunks.reduce((n, c) => n + c.length, 0),
    parts: chunks.length,
    expiresAt: new Date(options.now + expireIn).toISOString(),
  };
  const key = keys.webhookDelivery(due.tenantId, due.endpointId, due.eventId);
  op.check(dueEntry)
    .check({ key, versionstamp: null })
    .set(key, delivery, { expireIn })
    .delete(dueEntry.key)
    .set(keys.webhookDue(due.tenantId, due.endpointId, until, due.eventId), null, { expireIn });
  chunks.forEach((c, i) =>
    op.set(keys.webhookPayload(due.tenantId, due.endpointId, due.eventId, i), c, { expireIn })
  );
  return delivery;
}

/** The first claim of a feed event's delivery: creates its record and copies its body. */
async function claimFresh(
  kv: Deno.Kv,
  due: DueDelivery,
  dueEntry: Deno.KvEntry<DueValue>,
  options: { holder: string; leaseMs: number; now: number },
): Promise<ClaimedDelivery | null> {
  const value = dueEntry.value;
  if (!value) return null;
  const body = await feedEventJson(kv, due.tenantId, value.seq);
  if (body === null) {
    // The feed entry expired before a first attempt (the retention is shorter than a backlog).
    await withLockRetry(() => kv.atomic().check(dueEntry).delete(dueEntry.key).commit());
    return null;
  }
  const op = kv.atomic();
  const delivery = addFreshClaim(op, due, { ...dueEntry, value }, body, options);
  const res = await withLockRetry(() => op.commit());
  return res.ok ? { delivery, versionstamp: res.versionstamp, body } : null;
}

/** An endpoint's due deliveries up to `now`, oldest first. */
export async function listDue(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  now: number,
  limit: number,
): Promise<DueDelivery[]> {
  const prefix = keys.webhookDueOf(tenantId, endpointId);
  const out: DueDelivery[] = [];
  for await (const e of kv.list({ start: prefix, end: [...prefix, now + 1] }, { limit })) {
    const [at, eventId] = e.key.slice(prefix.length);
    if (typeof at !== "number") continue;
    out.push({ tenantId, at, endpointId, eventId: String(eventId) });
  }
  return out;
}

async function readBody(kv: Deno.Kv, d: Delivery): Promise<string | null> {
  const partKeys = Array.from(
    { length: d.parts },
    (_, i) => keys.webhookPayload(d.tenantId, d.endpointId, d.eventId, i),
  );
  const entries = await getManyBatched<Uint8Array>(kv, partKeys);
  if (entries.some((e) => !(e.value instanceof Uint8Array))) return null;
  const bytes = new Uint8Array(d.bytes);
  let at = 0;
  for (const e of entries) {
    bytes.set(e.value as Uint8Array, at);
    at += (e.value as Uint8Array).length;
  }
  return fromUtf8.decode(bytes);
}

/**
 * Leases a due delivery to `holder` for `leaseMs`; null when it is not due any more, leased by
 * another instance, or gone (its stale index entry is then removed).
 */
export async function claimDelivery(
  kv: Deno.Kv,
  due: DueDelivery,
  options: { holder: string; leaseMs: number; now: number },
): Promise<ClaimedDelivery | null> {
  const key = keys.webhookDelivery(due.tenantId, due.endpointId, due.eventId);
  const dueKey = keys.webhookDue(due.tenantId, due.endpointId, due.at, due.eventId);
  const [entry, dueEntry] = await kv.getMany<[Delivery, DueValue]>([key, dueKey]);
  const d = entry.value;
  if (!d && dueEntry.value) {
    return await claimFresh(kv, due, dueEntry as Deno.KvEntry<DueValue>, options);
  }
  if (!d || d.status !== "pending" || d.nextAttemptAt !== due.at) {
    // Finished, rescheduled or deleted since the index was read: the entry is stale.
    if (dueEntry.versionstamp && (!d || d.nextAttemptAt !== due.at)) {
      await withLockRetry(() => kv.atomic().check(dueEntry).delete(dueKey).commit());
    }
    return null;
  }
  if (d.lease && d.lease.until > options.now) return null;
  const until = options.now + options.leaseMs;
  const next: Delivery = { ...d, lease: { holder: options.holder, until }, nextAttemptAt: until };
  const expireIn = Math.max(Date.parse(d.expiresAt) - options.now, 60_000);
  const res = await withLockRetry(() =>
    kv.atomic().check(entry)
      .set(key, next, { expireIn })
      .delete(dueKey)
      .set(keys.webhookDue(due.tenantId, due.endpointId, until, due.eventId), null, { expireIn })
      .commit()
  );
  if (!res.ok) return null;
  const body = await readBody(kv, d);
  if (body === null) {
    // The body expired or was removed with its endpoint: nothing can be sent.
    await finishAttempt(kv, { delivery: next, versionstamp: res.versionstamp, body: "" }, {
      attempt: { at: new Date(options.now).toISOString(), latencyMs: 0, error: "The body is gone" },
      status: "failed",
      nextAttemptAt: null,
      now: options.now,
    });
    return null;
  }
  return { delivery: next, versionstamp: res.versionstamp, body };
}

/**
 * {@linkcode claimDelivery} for an endpoint's due deliveries at once: the first claims of feed
 * events (the usual case) are read with batched reads and leased in one atomic operation per
 * {@linkcode BATCH}; a retry, a stale entry, a body kept in parts, or a batch that lost a race
 * with another instance is claimed on its own. The claimed deliveries (those this instance
 * holds), in no particular order.
 */
export async function claimDeliveries(
  kv: Deno.Kv,
  dues: DueDelivery[],
  options: { holder: string; leaseMs: number; now: number },
): Promise<ClaimedDelivery[]> {
  if (dues.length <= 1) {
    const one = dues.length ? await claimDelivery(kv, dues[0], options) : null;
    return one ? [one] : [];
  }
  const entries = await getManyBatched<Delivery | DueValue>(
    kv,
    dues.flatMap((d) => [
      keys.webhookDelivery(d.tenantId, d.endpointId, d.eventId),
      keys.webhookDue(d.tenantId, d.endpointId, d.at, d.eventId),
    ]),
  );
  const fresh: { due: DueDelivery; entry: FreshDue }[] = [];
  const single: DueDelivery[] = [];
  const seen = new Set<string>();
  dues.forEach((due, i) => {
    const record = entries[2 * i];
    const dueEntry = entries[2 * i + 1] as Deno.KvEntryMaybe<DueValue>;
    const id = `${due.endpointId}/${due.eventId}`;
    const first = !seen.has(id);
    seen.add(id);
    if (first && !record.versionstamp && dueEntry.versionstamp && dueEntry.value) {
      fresh.push({ due, entry: dueEntry as FreshDue });
    } else single.push(due);
  });
  const seqs = [...new Set(fresh.map((f) => f.entry.value.seq))];
  const tenantId = dues[0].tenantId;
  const events = new Map<number, FeedEntryValue | null>();
  if (fresh.every((f) => f.due.tenantId === tenantId)) {
    const read = await getManyBatched<FeedEntryValue>(
      kv,
      seqs.map((seq) => keys.feedEntry(tenantId, seq)),
    );
    seqs.forEach((seq, i) => events.set(seq, read[i].value));
  }
  const claimed: ClaimedDelivery[] = [];
  let batch: { due: DueDelivery; entry: FreshDue; body: string }[] = [];
  let bytes = 0;
  const commit = async () => {
    if (!batch.length) return;
    const taken = batch;
    batch = [];
    bytes = 0;
    const op = kv.atomic();
    const deliveries = taken.map((b) => addFreshClaim(op, b.due, b.entry, b.body, options));
    const res = await withLockRetry(() => op.commit());
    if (res.ok) {
      taken.forEach((b, i) =>
        claimed.push({ delivery: deliveries[i], versionstamp: res.versionstamp, body: b.body })
      );
    } else single.push(...taken.map((b) => b.due));
  };
  const size = Math.max(1, Math.min(BATCH, Math.floor(maxChecks(kv) / 2)));
  for (const f of fresh) {
    const event = events.get(f.entry.value.seq);
    if (!event || !("event" in event)) {
      single.push(f.due);
      continue;
    }
    const body = JSON.stringify(event.event);
    if (batch.length >= size || bytes + body.length * 3 > BATCH_BYTES) await commit();
    batch.push({ due: f.due, entry: f.entry, body });
    bytes += body.length * 3;
  }
  await commit();
  for (const due of single) {
    const one = await claimDelivery(kv, due, options);
    if (one) claimed.push(one);
  }
  return claimed;
}

/**
 * Records an attempt of a claimed delivery and what comes next (`pending` with a next attempt
 * time, or finished). False when the lease was lost meanwhile (the result is dropped: another
 * attempt has run or will run).
 */
export async function finishAttempt(
  kv: Deno.Kv,
  claimed: ClaimedDelivery,
  result: FinishResult,
): Promise<boolean> {
  const op = kv.atomic();
  addFinishOps(op, claimed, result);
  const res = await withLockRetry(() => op.commit());
  return res.ok;
}

/** How an attempt ended, as {@linkcode finishAttempt} records it. */
export interface FinishResult {
  attempt?: DeliveryAttempt;
  status: DeliveryStatus;
  nextAttemptAt: number | null;
  now: number;
}

/** Adds the writes that record `result` on the claimed delivery (checked against it) to `op`. */
function addFinishOps(
  op: Deno.AtomicOperation,
  claimed: ClaimedDelivery,
  result: FinishResult,
): void {
  const d = claimed.delivery;
  const key = keys.webhookDelivery(d.tenantId, d.endpointId, d.eventId);
  const expireIn = DELIVERY_RETENTION_MS;
  const attempts = result.attempt
    ? [...d.attempts, result.attempt].slice(-ATTEMPTS_KEPT)
    : d.attempts;
  const next: Delivery = stripUndefined({
    ...d,
    lease: undefined,
    attempts,
    attemptCount: d.attemptCount + (result.attempt ? 1 : 0),
    firstAttemptAt: d.firstAttemptAt ?? result.attempt?.at,
    status: result.status,
    nextAttemptAt: result.status === "pending" ? result.nextAttemptAt : null,
    expiresAt: new Date(result.now + expireIn).toISOString(),
  });
  op.check({ key, versionstamp: claimed.versionstamp }).set(key, next, { expireIn });
  if (d.lease) op.delete(keys.webhookDue(d.tenantId, d.endpointId, d.lease.until, d.eventId));
  if (next.status === "pending" && next.nextAttemptAt !== null) {
    op.set(keys.webhookDue(d.tenantId, d.endpointId, next.nextAttemptAt, d.eventId), null, {
      expireIn,
    });
  }
}

/** Claims, or finishes, that one atomic operation holds (2 checks a claim, 1 a finish). */
const BATCH = 32;
/** Bytes of bodies one batched claim copies (KV: 800 KB per atomic operation). */
const BATCH_BYTES = 400_000;

/**
 * {@linkcode finishAttempt} for several attempts in one atomic operation (the worker records the
 * attempts that ended together at once); if any record changed since its claim, each is
 * recorded on its own, so one stale lease never costs the others theirs. Whether each was
 * recorded, in order.
 */
export async function finishAttempts(
  kv: Deno.Kv,
  items: { claimed: ClaimedDelivery; result: FinishResult }[],
): Promise<boolean[]> {
  if (items.length === 1) return [await finishAttempt(kv, items[0].claimed, items[0].result)];
  const out: boolean[] = [];
  const size = Math.max(1, Math.min(BATCH, maxChecks(kv)));
  for (let i = 0; i < items.length; i += size) {
    const chunk = items.slice(i, i + size);
    const op = kv.atomic();
    for (const { claimed, result } of chunk) addFinishOps(op, claimed, result);
    const res = await withLockRetry(() => op.commit());
    if (res.ok) out.push(...chunk.map(() => true));
    else {
      for (const { claimed, result } of chunk) out.push(await finishAttempt(kv, claimed, result));
    }
  }
  return out;
}

/** A delivery, or null. */
export async function getDelivery(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  eventId: string,
): Promise<Delivery | null> {
  if (!fitsKey(endpointId) || !fitsKey(eventId)) return null;
  return (await kv.get<Delivery>(keys.webhookDelivery(tenantId, endpointId, eventId))).value;
}

/** The body a delivery sends, or null once it is gone. */
export async function getDeliveryBody(kv: Deno.Kv, d: Delivery): Promise<string | null> {
  return await readBody(kv, d);
}

/** An endpoint's deliveries, newest event first (test events, `evt_test_…`, sort first). */
export async function listDeliveries(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  options: { limit?: number; cursor?: string } = {},
): Promise<{ deliveries: Delivery[]; cursor?: string }> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const iter = kv.list<Delivery>({ prefix: keys.webhookDeliveries(tenantId, endpointId) }, {
    reverse: true,
    limit,
    cursor: options.cursor,
  });
  const deliveries: Delivery[] = [];
  for await (const e of iter) deliveries.push(e.value);
  return { deliveries, cursor: deliveries.length === limit ? iter.cursor : undefined };
}

/** The delivery (or its body) is gone. */
export class DeliveryNotFoundError extends Error {
  constructor(eventId: string, why = "no such delivery") {
    super(`Cannot resend "${eventId}": ${why}`);
    this.name = "DeliveryNotFoundError";
  }
}

/**
 * Sends a delivery again, now, whatever its status: a new retry window starts (its past attempts
 * stay listed). An attempt in flight loses its lease and its result is dropped.
 */
export async function resendDelivery(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  eventId: string,
  who: Actor,
  now = Date.now(),
): Promise<Delivery> {
  const key = keys.webhookDelivery(tenantId, endpointId, eventId);
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get<Delivery>(key);
    const d = entry.value;
    if (!d) throw new DeliveryNotFoundError(eventId);
    const body = await readBody(kv, d);
    if (body === null) throw new DeliveryNotFoundError(eventId, "its body is no longer kept");
    const expireIn = DELIVERY_RETENTION_MS;
    const next: Delivery = stripUndefined({
      ...d,
      lease: undefined,
      status: "pending" as const,
      firstAttemptAt: undefined,
      nextAttemptAt: now,
      expiresAt: new Date(now + expireIn).toISOString(),
    });
    const op = kv.atomic().check(entry).set(key, next, { expireIn });
    if (d.nextAttemptAt !== null) {
      op.delete(keys.webhookDue(tenantId, endpointId, d.nextAttemptAt, eventId));
    }
    op.set(keys.webhookDue(tenantId, endpointId, now, eventId), null, { expireIn });
    // The body lives as long as its delivery.
    parts(body).forEach((c, i) =>
      op.set(keys.webhookPayload(tenantId, endpointId, eventId, i), c, { expireIn })
    );
    addEvent(op, { tenantId, actor: who.actor, requestId: who.requestId, clientIp: who.clientIp }, {
      type: "webhook_delivery_resent",
      target: { kind: "webhook", id: endpointId },
      summary: `Webhook delivery of ${eventId} (${d.eventType}) resent`,
    });
    const res = await withLockRetry(() => op.commit());
    if (res.ok) {
      deliveriesAdded();
      return next;
    }
  }
  throw new Error(`Cannot resend "${eventId}": the delivery kept changing`);
}

/** Removes a delivery, its body and its due entry (its endpoint is gone, or it is stale). */
export async function dropDelivery(kv: Deno.Kv, due: DueDelivery): Promise<void> {
  const op = kv.atomic()
    .delete(keys.webhookDelivery(due.tenantId, due.endpointId, due.eventId))
    .delete(keys.webhookDue(due.tenantId, due.endpointId, due.at, due.eventId));
  for (let i = 0; i < 17; i++) {
    op.delete(keys.webhookPayload(due.tenantId, due.endpointId, due.eventId, i));
  }
  await withLockRetry(() => op.commit());
}

/** Deletes every delivery and body of an endpoint (after it was deleted), in batches. */
export async function deleteDeliveriesOf(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
): Promise<number> {
  let deleted = 0;
  for (
    const prefix of [
      keys.webhookDeliveries(tenantId, endpointId),
      keys.webhookPayloads(tenantId, endpointId),
      keys.webhookDueOf(tenantId, endpointId),
    ]
  ) {
    let batch: Deno.KvKey[] = [];
    const flush = async () => {
      const op = kv.atomic();
      batch.forEach((k) => op.delete(k));
      await withLockRetry(() => op.commit());
      deleted += batch.length;
      batch = [];
    };
    for await (const e of kv.list({ prefix })) {
      batch.push(e.key);
      if (batch.length >= 500) await flush();
    }
    if (batch.length) await flush();
  }
  return deleted;
}

/**
 * Creates the delivery of a `webhook.test` event to one endpoint (not part of the feed), with its
 * audit event; the worker sends it through the same path as every other delivery.
 */
export async function addTestDelivery(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  event: { id: string; type: string; body: string },
  who: Actor,
  now = Date.now(),
): Promise<void> {
  const op = kv.atomic()
    .check({ key: keys.webhookDelivery(tenantId, endpointId, event.id), versionstamp: null });
  addDeliveryOps(op, tenantId, endpointId, event, now);
  addEvent(op, { tenantId, actor: who.actor, requestId: who.requestId, clientIp: who.clientIp }, {
    type: "webhook_test_sent",
    target: { kind: "webhook", id: endpointId },
    summary: `Test event ${event.id} queued for the webhook endpoint`,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) throw new Error("Cannot queue the test event: its id was taken");
  deliveriesAdded();
}
