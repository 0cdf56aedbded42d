/**
 * The events feed: public events in sequence order (see `lib/directory/types.ts`). A read first
 * runs the tenant's sequencer (`feed_sequencer.ts`), so a read right after an acknowledged write
 * sees its events; then it lists the feed after `after`, filtering by type and IdP in memory over
 * a bounded scan. `next` is the last event examined, filtered or not, so a filtered page never
 * scans the same events again; pass it as `after` to continue (and to poll for new events).
 * @module
 */
import { keys } from "./keys.ts";
import { getManyBatched } from "./kv.ts";
import { type FeedEntryValue, sequenceTenant } from "./feed_sequencer.ts";
import { getPause, livePause } from "./write_pause.ts";
import { eventId, eventSeq, type PublicEvent, type PublicEventType } from "../directory/types.ts";

/** What a feed read asks for. */
export interface FeedQuery {
  /** Events after this id (exclusive); absent: from the oldest retained. */
  after?: string;
  types?: PublicEventType[];
  idpId?: string;
  /** 1–500. */
  limit: number;
}

/** A page of the feed; `next` is the id to pass as `after` (the last event read, even if filtered). */
export interface FeedPage {
  events: PublicEvent[];
  next: string | null;
}

/** Most events a filtered read examines for one page. */
export const FEED_SCAN_LIMIT = 5000;

/** Reads the feed after sequencing what is waiting in the outbox. */
export async function readFeed(kv: Deno.Kv, tenantId: string, query: FeedQuery): Promise<FeedPage> {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 500) {
    throw new RangeError(`Cannot read the feed: limit must be 1–500, not ${query.limit}`);
  }
  const afterSeq = query.after === undefined ? 0 : eventSeq(query.after);
  if (afterSeq === null) {
    throw new RangeError(`Cannot read the feed after "${query.after}": not an event id`);
  }
  // During a point-in-time backup's write pause nothing is sequenced (the instances' workers wait
  // at their write gates): the read serves what is already in the feed.
  if (!livePause(await getPause(kv))) await sequenceTenant(kv, tenantId, { maxRounds: 50 });
  const filtered = !!query.types?.length || query.idpId !== undefined;
  const prefix = keys.feedEntries(tenantId);
  const iter = kv.list<FeedEntryValue>(
    { prefix, start: keys.feedEntry(tenantId, afterSeq + 1) },
    { limit: filtered ? FEED_SCAN_LIMIT : query.limit, batchSize: filtered ? 500 : query.limit },
  );
  const events: PublicEvent[] = [];
  let last: number | null = null;
  for await (const entry of iter) {
    last = Number(entry.key.at(-1));
    const event = await eventOf(kv, tenantId, last, entry.value);
    if (!event) continue;
    if (query.types?.length && !query.types.includes(event.type)) continue;
    if (query.idpId !== undefined && event.idp_id !== query.idpId) continue;
    events.push(event);
    if (events.length >= query.limit) break;
  }
  const next = last !== null ? eventId(last) : query.after ?? null;
  return { events, next };
}

/** The event of a stored entry (joining its parts when it has them). */
async function eventOf(
  kv: Deno.Kv,
  tenantId: string,
  seq: number,
  value: FeedEntryValue,
): Promise<PublicEvent | null> {
  if ("event" in value) return value.event;
  const parts = await getManyBatched<string>(
    kv,
    Array.from({ length: value.parts }, (_, i) => keys.feedEntryPart(tenantId, seq, i)),
  );
  if (parts.some((p) => typeof p.value !== "string")) return null; // expired meanwhile
  return JSON.parse(parts.map((p) => p.value).join("")) as PublicEvent;
}

/** The sequence number of the newest event (0 when the feed is empty). */
export async function feedHeadSeq(kv: Deno.Kv, tenantId: string): Promise<number> {
  return (await kv.get<{ seq: number }>(keys.feedHead(tenantId))).value?.seq ?? 0;
}
