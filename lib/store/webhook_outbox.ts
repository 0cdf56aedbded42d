/**
 * The seam between the events feed and webhooks: when the sequencer moves events into the feed
 * it adds, in the same atomic commit, one delivery per subscribed endpoint and event.
 * @module
 */
import type { PublicEvent } from "../directory/types.ts";

/** What the sequencer needs of an endpoint. */
export interface EndpointSubscription {
  id: string;
  /** `["*"]` or public event types. */
  events: string[];
  enabled: boolean;
}

/** The tenant's endpoints (read once per sequencing batch). */
export function loadEndpoints(_kv: Deno.Kv, _tenantId: string): Promise<EndpointSubscription[]> {
  // Contract stub: filled in by the webhooks work.
  return Promise.resolve([]);
}

/** Adds the deliveries of `events` to `op`; returns the number of mutations added. */
export function addDeliveries(
  _op: Deno.AtomicOperation,
  _tenantId: string,
  _endpoints: EndpointSubscription[],
  _events: PublicEvent[],
  _now: Date,
): number {
  // Contract stub: filled in by the webhooks work.
  return 0;
}
