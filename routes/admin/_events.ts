/**
 * Event Log queries shared by the page, its JSON endpoint and the export: the URL's filters
 * validated with zod, a user given by userName resolved to its id, and pages filled across the
 * index's sparse stretches.
 * @module
 */
import { z } from "zod";
import { type AuditEvent, EVENT_TYPES, type EventQuery } from "../../lib/audit/events.ts";
import { listEvents } from "../../lib/store/events.ts";
import { type EventNames, nameEvents } from "../../lib/store/event_names.ts";
import { idOfNamed } from "../../lib/store/user_list.ts";
import type { EventFilters } from "../../islands/EventLog.tsx";
import { HttpError } from "./_shared.tsx";

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z)?$/;

/** The Event Log's URL parameters. */
export const EventParams = z.object({
  idp: z.string().max(64).optional().default(""),
  type: z.union([z.literal(""), z.enum(EVENT_TYPES)]).optional().default(""),
  target: z.string().trim().max(254).optional().default(""),
  since: z.union([
    z.literal(""),
    z.string().regex(LOCAL_TIME, "must be a time like 2025-01-31T13:00"),
  ])
    .optional().default(""),
  until: z.union([
    z.literal(""),
    z.string().regex(LOCAL_TIME, "must be a time like 2025-01-31T13:00"),
  ])
    .optional().default(""),
  cursor: z.string().max(2000).optional(),
});

/** Parsed filters, or the reason they were refused. */
export function parseEventParams(
  query: Record<string, string>,
): { filters: EventFilters; cursor?: string } {
  const res = EventParams.safeParse(query);
  if (!res.success) {
    const i = res.error.issues[0];
    throw new HttpError(
      400,
      `Filter “${String(i?.path[0] ?? "?")}” ${i?.message ?? "is not valid"}`,
    );
  }
  const { cursor, ...filters } = res.data;
  return { filters, cursor };
}

/** A `datetime-local` value read as UTC. */
function utc(value: string): string {
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  return withSeconds.endsWith("Z") ? withSeconds : `${withSeconds}Z`;
}

/** The store query of a set of filters. */
export async function toEventQuery(
  kv: Deno.Kv,
  tenantId: string,
  filters: EventFilters,
): Promise<EventQuery> {
  return {
    idpId: filters.idp || undefined,
    type: (filters.type || undefined) as EventQuery["type"],
    // A user or group given by userName or displayName (any IdP) is its id; ids pass through.
    targetId: filters.target
      ? await idOfNamed(kv, tenantId, filters.target) ?? filters.target
      : undefined,
    since: filters.since ? utc(filters.since) : undefined,
    until: filters.until ? utc(filters.until) : undefined,
  };
}

/** A page of events with the names to show for them. */
export interface EventPage {
  events: AuditEvent[];
  cursor?: string;
  names: Record<string, EventNames>;
}

/**
 * One page of events, named. The store narrows by one index and filters the rest, so a page can
 * come back short; this keeps reading (a bounded number of times) until the page is full.
 */
export async function eventPage(
  kv: Deno.Kv,
  tenantId: string,
  query: EventQuery,
  cursor: string | undefined,
  limit = 50,
): Promise<EventPage> {
  const events: AuditEvent[] = [];
  let next = cursor;
  for (let round = 0; round < 20; round++) {
    const res = await listEvents(kv, tenantId, {
      ...query,
      cursor: next,
      limit: limit - events.length,
    });
    events.push(...res.events);
    next = res.cursor;
    if (!next || events.length >= limit) break;
  }
  return { events, cursor: next, names: await nameEvents(kv, tenantId, events) };
}
