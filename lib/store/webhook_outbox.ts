/**
 * The seam between the events feed and webhooks: when the sequencer moves events into the feed
 * it adds, in the same atomic commit, one delivery per subscribed endpoint and event (a
 * transactional outbox: the change's commit wrote the outbox note, this commit turns it into
 * feed entries and deliveries at once, so no event is lost and none is delivered that the feed
 * does not have).
 *
 * Each delivery costs one small mutation here: its due entry, naming the event's feed sequence
 * number. The delivery record, and the copy of the event's JSON that every retry sends, are
 * written by the first attempt's claim (`webhook_deliveries.ts`), off the sequencer's commit.
 * @module
 */
import { eventSeq, type PublicEvent } from "../directory/types.ts";
import { listEndpointRecords } from "./webhooks.ts";
import { addFeedDeliveryOp, deliveriesAdded } from "./webhook_deliveries.ts";
import { subscribes } from "../webhooks/events.ts";

/** What the sequencer needs of an endpoint. */
export interface EndpointSubscription {
  id: string;
  /** `["*"]` or public event types. */
  events: string[];
  enabled: boolean;
}

/** The tenant's endpoints (read once per sequencing batch). */
export async function loadEndpoints(
  kv: Deno.Kv,
  tenantId: string,
): Promise<EndpointSubscription[]> {
  return (await listEndpointRecords(kv, tenantId)).map((e) => ({
    id: e.id,
    events: e.events,
    enabled: e.enabled,
  }));
}

/** Adds the deliveries of `events` to `op`; returns the number of mutations added. */
export function addDeliveries(
  op: Deno.AtomicOperation,
  tenantId: string,
  endpoints: EndpointSubscription[],
  events: PublicEvent[],
  now: Date,
): number {
  const live = endpoints.filter((e) => e.enabled);
  if (!live.length || !events.length) return 0;
  let mutations = 0;
  for (const event of events) {
    const targets = live.filter((e) => subscribes(e.events, event.type));
    if (!targets.length) continue;
    const seq = eventSeq(event.id);
    if (seq === null) continue;
    for (const endpoint of targets) {
      mutations += addFeedDeliveryOp(op, tenantId, endpoint.id, {
        id: event.id,
        type: event.type,
        seq,
      }, now.getTime());
    }
  }
  if (mutations) deliveriesAdded();
  return mutations;
}
