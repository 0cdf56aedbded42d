/**
 * The events feed: public events in sequence order (see `lib/directory/types.ts`).
 * @module
 */
import type { PublicEvent, PublicEventType } from "../directory/types.ts";

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

/** Reads the feed after sequencing what is waiting in the outbox. */
export function readFeed(_kv: Deno.Kv, _tenantId: string, _query: FeedQuery): Promise<FeedPage> {
  // Contract stub: filled in by the events feed work.
  return Promise.resolve({ events: [], next: null });
}
