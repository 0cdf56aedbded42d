/**
 * One webhook attempt as the worker (and `webhook test` in the CLI) runs it: lease the due
 * delivery, read its endpoint (gone: the delivery is dropped; disabled: failed, resendable),
 * check the URL against the SSRF guard again, send, record the attempt and its next retry, and
 * the outcome on the endpoint (5 days of failures disable it).
 * @module
 */
import type { Logger } from "../log.ts";
import {
  claimDelivery,
  type ClaimedDelivery,
  type DeliveryAttempt,
  dropDelivery,
  type DueDelivery,
  finishAttempt,
  type FinishResult,
} from "../store/webhook_deliveries.ts";
import {
  getEndpointRecord,
  recordEndpointOutcome,
  signingSecrets,
  type WebhookEndpoint,
} from "../store/webhooks.ts";
import { checkWebhookUrl, WebhookUrlError } from "./ssrf.ts";
import { sendWebhook } from "./send.ts";
import { nextAttemptAfterFailure } from "./schedule.ts";

/** What an attempt needs. */
export interface AttemptOptions {
  log: Logger;
  allowPrivate: boolean;
  timeoutMs: number;
  leaseMs: number;
  holder: string;
  now: () => number;
  random: () => number;
  resolve?: (host: string) => Promise<string[]>;
  disableAfterMs: number;
  /** Records an attempt's end (default: {@linkcode finishAttempt}; the worker batches them). */
  finish?: (claimed: ClaimedDelivery, result: FinishResult) => Promise<boolean>;
}

/**
 * Runs one due delivery's attempt if this instance gets its lease (never sends without one);
 * returns the attempt recorded, or null when none was.
 */
export async function runAttempt(
  kv: Deno.Kv,
  item: DueDelivery,
  o: AttemptOptions,
  /** The endpoint as the worker just read it (saves a read per attempt); else read here. */
  known?: WebhookEndpoint,
): Promise<DeliveryAttempt | null> {
  const claimed = await claimDelivery(kv, item, {
    holder: o.holder,
    leaseMs: o.leaseMs,
    now: o.now(),
  });
  if (!claimed) return null;
  return await runClaimed(kv, claimed, o, known);
}

/**
 * Runs the attempt of a delivery this instance has just claimed (leased): the part of
 * {@linkcode runAttempt} after the claim, for the worker, which claims several at once.
 */
export async function runClaimed(
  kv: Deno.Kv,
  claimed: ClaimedDelivery,
  o: AttemptOptions,
  known?: WebhookEndpoint,
): Promise<DeliveryAttempt | null> {
  const d = claimed.delivery;
  const item: DueDelivery = {
    tenantId: d.tenantId,
    endpointId: d.endpointId,
    eventId: d.eventId,
    at: d.nextAttemptAt ?? 0,
  };
  const endpoint = known ?? await getEndpointRecord(kv, item.tenantId, item.endpointId);
  if (!endpoint) {
    await dropDelivery(kv, item);
    return null;
  }
  if (!endpoint.enabled) {
    const attempt: DeliveryAttempt = {
      at: new Date(o.now()).toISOString(),
      latencyMs: 0,
      error: `Not sent: the endpoint is disabled (${endpoint.disabledReason ?? "by an admin"})`,
    };
    return await finish(kv, o, claimed, attempt, false, true) ? attempt : null;
  }
  let result: { ok: boolean; attempt: DeliveryAttempt };
  try {
    await checkWebhookUrl(endpoint.url, {
      allowPrivate: o.allowPrivate,
      resolve: o.resolve,
    });
    result = await sendWebhook({
      url: endpoint.url,
      eventId: claimed.delivery.eventId,
      body: claimed.body,
      secrets: signingSecrets(endpoint, o.now()),
      timeoutMs: o.timeoutMs,
    });
  } catch (error) {
    if (!(error instanceof WebhookUrlError)) throw error;
    result = {
      ok: false,
      attempt: { at: new Date(o.now()).toISOString(), latencyMs: 0, error: error.message },
    };
  }
  const recorded = await finish(kv, o, claimed, result.attempt, result.ok, false);
  if (!recorded) return null;
  o.log.log("debug", "webhooks: attempt", {
    tenantId: item.tenantId,
    endpointId: item.endpointId,
    eventId: item.eventId,
    status: result.attempt.statusCode,
    latencyMs: result.attempt.latencyMs,
    ok: result.ok,
  });
  // A success on a healthy endpoint that recorded one within the hour changes nothing.
  const healthy = result.ok && !endpoint.failingSince && !!endpoint.lastSuccessAt &&
    o.now() - Date.parse(endpoint.lastSuccessAt) < 3600_000;
  if (healthy) return result.attempt;
  const after = await recordEndpointOutcome(kv, item.tenantId, item.endpointId, {
    ok: result.ok,
    at: o.now(),
    error: result.attempt.error,
    disableAfterMs: o.disableAfterMs,
  });
  if (after && !after.enabled && endpoint.enabled) {
    o.log.log("warn", "webhooks: endpoint disabled after days of failed deliveries", {
      tenantId: item.tenantId,
      endpointId: item.endpointId,
    });
  }
  return result.attempt;
}

/** Records an attempt: success, a retry on the schedule, or failed for good. */
async function finish(
  kv: Deno.Kv,
  o: AttemptOptions,
  claimed: ClaimedDelivery,
  attempt: DeliveryAttempt,
  ok: boolean,
  final: boolean,
): Promise<boolean> {
  const d = claimed.delivery;
  const t = o.now();
  const record = o.finish ?? ((c: ClaimedDelivery, r: FinishResult) => finishAttempt(kv, c, r));
  if (ok) {
    return await record(claimed, {
      attempt,
      status: "succeeded",
      nextAttemptAt: null,
      now: t,
    });
  }
  const first = d.firstAttemptAt ?? attempt.at;
  const failed = d.attempts.filter((a) => a.at >= first).length + 1;
  const next = final ? null : nextAttemptAfterFailure({
    firstAttemptAt: Date.parse(first),
    failedAttempts: failed,
    now: t,
  }, o.random());
  return await record(claimed, {
    attempt,
    status: next === null ? "failed" : "pending",
    nextAttemptAt: next,
    now: t,
  });
}
