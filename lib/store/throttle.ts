/**
 * The per-address failure throttle shared by SCIM authentication and the SAML ACS: each failed
 * attempt is one KV key under the client's window (so no concurrent attempt is lost and each
 * expires on its own); a client is throttled once its window holds `limit` attempts, and an
 * attempt is answered normally only when it is among the first `limit` of its window, so a burst
 * gets exactly that many. Successful requests never count.
 * @module
 */
import { monotonicFactory } from "ulid";
import { keys } from "./keys.ts";

/** Length of a throttle window. */
export const WINDOW_SECONDS = 60;
/** How long an attempt's key is kept (two windows, so a window is read whole). */
export const HIT_TTL_MS = 2 * WINDOW_SECONDS * 1000;

/** Time-ordered ids for attempts (monotonic within a process, by time across processes). */
const nextHitId = monotonicFactory();

/** One client's current window in one throttle bucket (`scim_auth`, `saml_acs`). */
export interface ThrottleWindow {
  /** Prefix of the window's attempt keys. */
  prefix: Deno.KvKey;
  /** Seconds until the window ends (the `Retry-After`). */
  retryAfter: number;
}

/** The window `now` falls in for a client of a bucket. */
export function throttleWindow(
  tenantId: string,
  bucket: string,
  client: string,
  now: Date,
): ThrottleWindow {
  const seconds = Math.floor(now.getTime() / 1000);
  const window = Math.floor(seconds / WINDOW_SECONDS);
  return {
    prefix: keys.rateLimitHits(tenantId, bucket, client, window),
    retryAfter: (window + 1) * WINDOW_SECONDS - seconds,
  };
}

/** Whether the client already failed `limit` times in this window (answer 429 without work). */
export async function isThrottled(
  kv: Deno.Kv,
  w: ThrottleWindow,
  limit: number,
): Promise<boolean> {
  const earlier = await Array.fromAsync(kv.list({ prefix: w.prefix }, { limit }));
  return earlier.length >= limit;
}

/** A new attempt's key, to be set (with {@linkcode HIT_TTL_MS}) in the failure's own write. */
export function newHitKey(w: ThrottleWindow): Deno.KvKey {
  return [...w.prefix, nextHitId()];
}

/** After the attempt's key was written: whether it is among the first `limit` of its window. */
export async function isWithinLimit(
  kv: Deno.Kv,
  w: ThrottleWindow,
  hitKey: Deno.KvKey,
  limit: number,
): Promise<boolean> {
  const first = await Array.fromAsync(kv.list({ prefix: w.prefix }, { limit }));
  const hit = hitKey.at(-1);
  return first.some((e) => e.key.at(-1) === hit);
}
