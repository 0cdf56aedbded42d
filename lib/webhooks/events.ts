/**
 * What a webhook carries: a public event of the feed exactly as `GET /api/v1/events` shows it,
 * or a `webhook.test` event an admin sends to check an endpoint (never part of the feed).
 * @module
 */
import { ulid } from "ulid";
import { isPublicEventType, type PublicEvent } from "../directory/types.ts";

/** The type of the test event. */
export const TEST_EVENT_TYPE = "webhook.test";

/** A test event: the shape of a feed event, with a `evt_test_` id. */
export interface TestEvent {
  object: "event";
  id: string;
  type: typeof TEST_EVENT_TYPE;
  occurred_at: string;
  idp_id: null;
  data: { object: "webhook_test"; endpoint_id: string; message: string };
}

/** Anything a webhook delivers. */
export type WebhookEvent = PublicEvent | TestEvent;

/** A test event for an endpoint. */
export function testEvent(endpointId: string, now: Date): TestEvent {
  return {
    object: "event",
    id: `evt_test_${ulid(now.getTime())}`,
    type: TEST_EVENT_TYPE,
    occurred_at: now.toISOString(),
    idp_id: null,
    data: {
      object: "webhook_test",
      endpoint_id: endpointId,
      message: "A test event sent from Weft: your endpoint receives and verifies webhooks.",
    },
  };
}

/** Whether an endpoint subscribed to `events` receives an event of `type` (tests: always). */
export function subscribes(events: readonly string[], type: string): boolean {
  return type === TEST_EVENT_TYPE || events.includes("*") || events.includes(type);
}

/** Parses an `--events` / form value: `*` or a comma list of public types; throws naming a bad one. */
export function parseEventTypes(input: string | readonly string[] | undefined): string[] {
  const list = (typeof input === "string" ? input.split(",") : input ?? ["*"])
    .map((s) => s.trim()).filter(Boolean);
  if (!list.length || list.includes("*")) return ["*"];
  for (const t of list) {
    if (!isPublicEventType(t)) {
      throw new RangeError(`Cannot subscribe to "${t}": not an event type`);
    }
  }
  return [...new Set(list)];
}
