/**
 * One webhook attempt: a POST of the event's JSON with the Standard Webhooks headers, redirects
 * not followed, within a timeout. A 2xx answered within the timeout is a success; anything else
 * (a timeout, a refused connection, 3xx, 4xx, 5xx) a failure to retry. The first 1 KiB of the
 * answer is kept for the console.
 * @module
 */
import { WEFT_VERSION } from "../config.ts";
import { signWebhook } from "./secrets.ts";
import { type DeliveryAttempt, RESPONSE_BODY_BYTES } from "../store/webhook_deliveries.ts";

/** What one attempt sends. */
export interface SendInput {
  url: string;
  /** The event id: `webhook-id`, the same on every retry. */
  eventId: string;
  body: string;
  /** The secrets that sign (two during a rotation). */
  secrets: readonly string[];
  timeoutMs: number;
  /** The signature's timestamp (default: now). */
  now?: Date;
}

/** An attempt's outcome. */
export interface SendResult {
  ok: boolean;
  attempt: DeliveryAttempt;
}

/** The user agent of every delivery. */
export const USER_AGENT = `Weft-Webhooks/${WEFT_VERSION}`;

/** The request headers of a delivery. */
export async function webhookHeaders(input: SendInput): Promise<Record<string, string>> {
  const timestamp = input.now ?? new Date();
  return {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "webhook-id": input.eventId,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": await signWebhook(
      { id: input.eventId, timestamp, body: input.body },
      input.secrets,
    ),
  };
}

/** The first `max` bytes of a response body as text; the rest is not read. */
async function firstBytes(response: Response, max: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short (timeout, reset) keeps what arrived.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const c of chunks) {
    const take = c.subarray(0, Math.min(c.length, bytes.length - at));
    bytes.set(take, at);
    at += take.length;
    if (at >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

/** Why a fetch failed, in one short line (no URL: it can carry a token). */
function describeFailure(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `Timed out after ${timeoutMs} ms`;
  const text = error instanceof Error ? error.message : String(error);
  if (/refused/i.test(text)) return "Connection refused";
  if (/certificate|tls|ssl/i.test(text)) return "TLS handshake failed (certificate not accepted)";
  if (/dns|lookup|resolve/i.test(text)) return "The host name does not resolve";
  if (/reset/i.test(text)) return "Connection reset";
  return `Cannot connect: ${text.replace(/https?:\/\/\S+/g, "<url>").slice(0, 200)}`;
}

/** Sends one attempt; never throws. */
export async function sendWebhook(input: SendInput): Promise<SendResult> {
  const at = new Date().toISOString();
  const started = performance.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, input.timeoutMs);
  try {
    const response = await fetch(input.url, {
      method: "POST",
      headers: await webhookHeaders(input),
      body: input.body,
      redirect: "manual",
      signal: controller.signal,
    });
    const latencyMs = Math.round(performance.now() - started);
    const responseBody = await firstBytes(response, RESPONSE_BODY_BYTES);
    const status = response.status;
    const ok = status >= 200 && status < 300;
    const attempt: DeliveryAttempt = { at, statusCode: status, latencyMs, responseBody };
    if (status >= 300 && status < 400) {
      attempt.error = `Redirect (${status}) not followed: answer with a 2xx at this URL`;
    } else if (!ok) attempt.error = `The endpoint answered ${status}`;
    return { ok, attempt };
  } catch (error) {
    return {
      ok: false,
      attempt: {
        at,
        latencyMs: Math.round(performance.now() - started),
        error: describeFailure(error, timedOut, input.timeoutMs),
      },
    };
  } finally {
    clearTimeout(timer);
  }
}
