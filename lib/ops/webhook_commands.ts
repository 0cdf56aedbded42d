/**
 * The operator CLI's `webhook` commands: create (the secret printed once), list, disable,
 * enable, delete, deliveries, rotate, test and resend, straight on the store. `webhook test`
 * queues a `webhook.test` event and runs its first attempt at once, through the same lease as
 * the servers' workers, and prints the outcome.
 * @module
 */
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import type { Tenant } from "../store/types.ts";
import {
  EndpointNotFoundError,
  listEndpoints,
  rotateSecret,
  setEndpointEnabled,
} from "../store/webhooks.ts";
import {
  type Delivery,
  DeliveryNotFoundError,
  getDelivery,
  listDeliveries,
  resendDelivery,
} from "../store/webhook_deliveries.ts";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  EndpointInputError,
  sendTestEvent,
} from "../webhooks/endpoints.ts";
import { runAttempt } from "../webhooks/attempt.ts";
import { AUTO_DISABLE_AFTER_MS } from "../webhooks/schedule.ts";

/** Usage lines of the webhook commands. */
export const WEBHOOK_USAGE =
  `  webhook create --tenant <subdomain> --url <url> [--events <type,…|*>] [--description <d>]
  webhook list --tenant <subdomain>
  webhook disable|enable|delete --tenant <subdomain> --endpoint <id>
  webhook deliveries --tenant <subdomain> --endpoint <id> [--limit <n>]
  webhook rotate --tenant <subdomain> --endpoint <id>
  webhook test --tenant <subdomain> --endpoint <id>
  webhook resend --tenant <subdomain> --endpoint <id> --event <event id>`;

/** The webhook commands' flags (`node:util` parseArgs options). */
export const WEBHOOK_OPTIONS = {
  url: { type: "string" },
  events: { type: "string" },
  endpoint: { type: "string" },
  event: { type: "string" },
} as const;

/** The flags as parsed. */
export interface WebhookFlags {
  url?: string;
  events?: string;
  description?: string;
  endpoint?: string;
  event?: string;
  limit?: string;
}

/** Wrong usage or input (exit code 2). */
export class WebhookUsageError extends Error {}

function need(value: string | undefined, name: string): string {
  if (!value) throw new WebhookUsageError(`Missing --${name}`);
  return value;
}

function deliveryLine(d: Delivery): string {
  const last = d.attempts.at(-1);
  const next = d.nextAttemptAt === null ? "-" : new Date(d.nextAttemptAt).toISOString();
  return [
    d.eventId,
    d.eventType,
    d.status,
    `attempts=${d.attemptCount}`,
    `last=${last ? `${last.statusCode ?? "-"} ${last.latencyMs}ms ${last.at}` : "-"}`,
    `next=${next}`,
    last?.error ? `error=${JSON.stringify(last.error)}` : "",
  ].filter(Boolean).join("\t");
}

/** Runs `webhook <action>`; returns the lines to print. */
export async function runWebhookCommand(
  action: string | undefined,
  flags: WebhookFlags,
  kv: Deno.Kv,
  config: Config,
  tenant: Tenant,
): Promise<string[]> {
  const who = { actor: "cli" };
  const guard = { allowPrivate: config.webhookAllowPrivate };
  try {
    switch (action) {
      case "create": {
        const { endpoint, secret } = await createWebhookEndpoint(
          kv,
          tenant.id,
          {
            url: need(flags.url, "url"),
            events: flags.events,
            description: flags.description,
          },
          who,
          guard,
        );
        return [
          `Created webhook endpoint ${endpoint.id}`,
          `  url: ${endpoint.url}`,
          `  events: ${endpoint.events.join(",")}`,
          `  secret: ${secret}`,
          "Store the secret now: it is shown only once. Verify each delivery with it (Standard Webhooks).",
        ];
      }
      case "list": {
        const endpoints = await listEndpoints(kv, tenant.id);
        if (!endpoints.length) return ["No webhook endpoints"];
        return endpoints.map((e) =>
          [
            e.id,
            e.enabled ? "enabled" : `disabled (${e.disabledReason ?? "by an admin"})`,
            e.events.join(","),
            e.url,
            e.description,
            e.rotating ? `rotating until ${e.previousUntil}` : "",
          ].filter(Boolean).join("\t")
        );
      }
      case "disable":
      case "enable": {
        const e = await setEndpointEnabled(
          kv,
          tenant.id,
          need(flags.endpoint, "endpoint"),
          action === "enable",
          who,
        );
        return [`Webhook endpoint ${e.id} ${e.enabled ? "enabled" : "disabled"}`];
      }
      case "delete": {
        const id = need(flags.endpoint, "endpoint");
        await deleteWebhookEndpoint(kv, tenant.id, id, who);
        return [`Deleted webhook endpoint ${id} and its deliveries`];
      }
      case "deliveries": {
        const limit = flags.limit ? Number(flags.limit) : 50;
        if (!Number.isInteger(limit) || limit < 1) {
          throw new WebhookUsageError("--limit must be a whole number");
        }
        const { deliveries } = await listDeliveries(
          kv,
          tenant.id,
          need(flags.endpoint, "endpoint"),
          {
            limit,
          },
        );
        return deliveries.length ? deliveries.map(deliveryLine) : ["No deliveries yet"];
      }
      case "rotate": {
        const r = await rotateSecret(kv, tenant.id, need(flags.endpoint, "endpoint"), who);
        return [
          `Rotated the signing secret of ${r.endpoint.id}`,
          `  secret: ${r.secret}`,
          `The previous secret also signs until ${r.previousUntil}. Store the new one now: it is shown only once.`,
        ];
      }
      case "test": {
        const endpointId = need(flags.endpoint, "endpoint");
        const eventId = await sendTestEvent(kv, tenant.id, endpointId, who);
        const d = await getDelivery(kv, tenant.id, endpointId, eventId);
        const attempt = d && d.nextAttemptAt !== null
          ? await runAttempt(kv, {
            tenantId: tenant.id,
            endpointId,
            eventId,
            at: d.nextAttemptAt,
          }, {
            log: createLogger("off"),
            allowPrivate: config.webhookAllowPrivate,
            timeoutMs: config.webhookTimeoutMs,
            leaseMs: config.webhookTimeoutMs + 30_000,
            holder: `cli-${crypto.randomUUID()}`,
            now: Date.now,
            random: Math.random,
            disableAfterMs: AUTO_DISABLE_AFTER_MS,
          })
          : null;
        if (!attempt) return [`Queued test event ${eventId}; a running Weft delivers it`];
        const ok = attempt.statusCode !== undefined && attempt.statusCode >= 200 &&
          attempt.statusCode < 300;
        return [
          `Sent test event ${eventId}: ${
            ok
              ? `delivered (${attempt.statusCode}, ${attempt.latencyMs} ms)`
              : `failed (${attempt.error ?? attempt.statusCode}); it is retried on the schedule`
          }`,
        ];
      }
      case "resend": {
        const d = await resendDelivery(
          kv,
          tenant.id,
          need(flags.endpoint, "endpoint"),
          need(flags.event, "event"),
          who,
        );
        return [`Resending ${d.eventId} (${d.eventType}); a running Weft sends it now`];
      }
      default:
        throw new WebhookUsageError(`Unknown command "webhook ${action ?? ""}"`);
    }
  } catch (error) {
    if (
      error instanceof EndpointInputError || error instanceof EndpointNotFoundError ||
      error instanceof DeliveryNotFoundError || error instanceof RangeError
    ) {
      throw new WebhookUsageError(error.message);
    }
    throw error;
  }
}
