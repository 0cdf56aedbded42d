/**
 * When a failed webhook attempt is tried again: exponential backoff with jitter (5 s, 1 min,
 * 5 min, 30 min, 2 h, 6 h, then every 12 h) until at least 24 hours have passed since the first
 * attempt; then the delivery is failed (and stays resendable). An endpoint whose deliveries have
 * failed for 5 days straight is disabled.
 * @module
 */

/** The delay after the n-th failed attempt (index n - 1); the last one repeats. */
export const RETRY_DELAYS_MS: readonly number[] = [
  5_000,
  60_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3600_000,
  6 * 3600_000,
  12 * 3600_000,
];

/** A delivery is retried until at least this long after its first attempt. */
export const RETRY_WINDOW_MS = 24 * 3600_000;

/** An endpoint whose deliveries have failed this long without a success is disabled. */
export const AUTO_DISABLE_AFTER_MS = 5 * 86_400_000;

/** Jitter: each delay is stretched by up to this fraction (spreads retries of one outage). */
export const JITTER = 0.2;

/**
 * The delay before the attempt that follows failed attempt number `failed` (1-based), with
 * jitter from `random` (a number in [0, 1)).
 */
export function retryDelay(failed: number, random: number = Math.random()): number {
  const i = Math.min(Math.max(failed, 1), RETRY_DELAYS_MS.length) - 1;
  const base = RETRY_DELAYS_MS[i];
  return Math.round(base * (1 + JITTER * Math.min(Math.max(random, 0), 0.999_999)));
}

/**
 * When the next attempt runs after a failure at `now`, or null when the delivery is to be
 * marked failed: at least {@linkcode RETRY_WINDOW_MS} has passed since its first attempt.
 */
export function nextAttemptAfterFailure(
  input: { firstAttemptAt: number; failedAttempts: number; now: number },
  random: number = Math.random(),
): number | null {
  if (input.now - input.firstAttemptAt >= RETRY_WINDOW_MS) return null;
  return input.now + retryDelay(input.failedAttempts, random);
}
