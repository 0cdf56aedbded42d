/**
 * The seam between the events feed and webhooks: when the sequencer moves events into the feed
 * it adds, in the same atomic commit, one delivery per subscribed endpoint and event (a
 * transactional outbox: the change's commit wrote the outbox note, this commit turns it into
 * feed entries and deliveries at once, so no event is lost and none is delivered that the feed
 * does not have).
 *
 * Each delivery costs 2 mutations plus one per 60 KiB of event JSON, and carries a copy of the
 * event (the feed's entries expire; a retry sends the same body): the sequencer sizes its
 * batches by the count returned.
 * @module
 */
import type { PublicEvent } from "../directory/types.ts";
import { listEndpointRecords } from "./webhooks.ts";
import { addDeliveryOps, deliveriesAdded } from "./webhook_deliveries.ts";
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
    const body = JSON.stringify(event);
    for (const endpoint of targets) {
      mutations += addDeliveryOps(op, tenantId, endpoint.id, {
        id: event.id,
        type: event.type,
        body,
      }, now.getTime());
    }
  }
  if (mutations) deliveriesAdded();
  return mutations;
}
