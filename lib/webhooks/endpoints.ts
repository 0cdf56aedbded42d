/**
 * Managing a tenant's webhook endpoints, as the console and the CLI do it: input checked with
 * zod, the URL through the SSRF guard (on create and on every edit), then the store.
 * @module
 */
import { z } from "zod";
import {
  type Actor,
  createEndpoint,
  deleteEndpointRecord,
  type EndpointInput,
  EndpointNotFoundError,
  type EndpointSummary,
  getEndpoint,
  updateEndpoint,
} from "../store/webhooks.ts";
import { addTestDelivery, deleteDeliveriesOf } from "../store/webhook_deliveries.ts";
import { checkWebhookUrl, type UrlCheckOptions, WebhookUrlError } from "./ssrf.ts";
import { parseEventTypes, testEvent } from "./events.ts";

/** An endpoint's input as a form or the CLI sends it. */
export const EndpointFields = z.object({
  url: z.string().trim().min(1, "is required").max(2000, "is longer than 2,000 characters"),
  events: z.union([z.string(), z.array(z.string())]).optional(),
  description: z.string().trim().max(200, "is longer than 200 characters").default(""),
});

/** Input that cannot be used: the message says why, for a 400 or the CLI. */
export class EndpointInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EndpointInputError";
  }
}

/** Checks raw input: fields, event types, and the URL against the SSRF guard. */
export async function checkEndpointInput(
  raw: unknown,
  guard: UrlCheckOptions,
): Promise<EndpointInput> {
  const parsed = EndpointFields.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new EndpointInputError(`Cannot use this endpoint: ${i?.path.join(".")} ${i?.message}`);
  }
  let events: string[];
  try {
    events = parseEventTypes(parsed.data.events);
  } catch (error) {
    throw new EndpointInputError((error as Error).message);
  }
  try {
    const url = await checkWebhookUrl(parsed.data.url, guard);
    return { url: url.href, events, description: parsed.data.description };
  } catch (error) {
    if (error instanceof WebhookUrlError) throw new EndpointInputError(error.message);
    throw error;
  }
}

/** Creates an endpoint from raw input; the secret is returned once. */
export async function createWebhookEndpoint(
  kv: Deno.Kv,
  tenantId: string,
  raw: unknown,
  who: Actor,
  guard: UrlCheckOptions,
): Promise<{ endpoint: EndpointSummary; secret: string }> {
  return await createEndpoint(kv, tenantId, await checkEndpointInput(raw, guard), who);
}

/** Edits an endpoint's URL, events and description from raw input. */
export async function editWebhookEndpoint(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  raw: unknown,
  who: Actor,
  guard: UrlCheckOptions,
): Promise<EndpointSummary> {
  return await updateEndpoint(kv, tenantId, endpointId, await checkEndpointInput(raw, guard), who);
}

/** Deletes an endpoint and then its deliveries. */
export async function deleteWebhookEndpoint(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  who: Actor,
): Promise<void> {
  await deleteEndpointRecord(kv, tenantId, endpointId, who);
  await deleteDeliveriesOf(kv, tenantId, endpointId);
}

/** Queues a `webhook.test` event for one endpoint; returns its event id. */
export async function sendTestEvent(
  kv: Deno.Kv,
  tenantId: string,
  endpointId: string,
  who: Actor,
  now = new Date(),
): Promise<string> {
  if (!await getEndpoint(kv, tenantId, endpointId)) throw new EndpointNotFoundError(endpointId);
  const event = testEvent(endpointId, now);
  await addTestDelivery(
    kv,
    tenantId,
    endpointId,
    {
      id: event.id,
      type: event.type,
      body: JSON.stringify(event),
    },
    who,
    now.getTime(),
  );
  return event.id;
}
