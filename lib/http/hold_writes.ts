/**
 * Middleware that passes every request that may write (any method but GET, HEAD and OPTIONS)
 * through the instance's write gate: during a point-in-time backup's write pause it waits, and a
 * pause that outlasts the wait is answered `503` with `Retry-After` in the surface's format.
 * GET requests go through: what they write (a token's last use, a page anchor, throttle marks)
 * is bookkeeping, not directory data.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { WriteGate } from "../instance/write_gate.ts";

/** How long a request waits at a paused gate (IdPs wait 60 s for an answer). */
export const HOLD_MAX_MS = 20_000;

/** Renders the answer to a request the pause held too long. */
export type Unavailable = (c: Context, detail: string, retryAfterSeconds: number) => Response;

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** Holds writing requests at `gate` (at most `maxWaitMs`). */
export function holdWrites(
  gate: WriteGate,
  unavailable: Unavailable,
  maxWaitMs = HOLD_MAX_MS,
): MiddlewareHandler {
  return async function holdWritingRequests(c, next) {
    if (SAFE.has(c.req.method)) return await next();
    const leave = await gate.enter(maxWaitMs);
    if (!leave) return unavailable(c, "Writes are paused for a backup: retry shortly", 5);
    try {
      await next();
    } finally {
      leave();
    }
  };
}
