/**
 * Metrics over HTTP: a middleware counting every request by surface and status, and
 * `GET /metrics` in the Prometheus text format behind its own bearer token
 * (`WEFT_METRICS_TOKEN`); without a token configured the endpoint does not exist (`404`).
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { BaseEnv } from "./env.ts";
import { surfaceOf } from "./limits.ts";
import { timingSafeEqual } from "./request_checks.ts";
import { requestSeconds, requestsTotal } from "../metrics/counters.ts";
import { renderMetrics } from "../metrics/registry.ts";
import { storeBacklog } from "../store/backlog.ts";

/** Middleware that counts each answered request (by surface and status) and its time. */
export function countRequests(): MiddlewareHandler<BaseEnv> {
  return async function countRequest(c, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      const surface = surfaceOf(c.req.path);
      requestsTotal.inc({ surface, status: String(c.res.status) });
      requestSeconds.inc({ surface }, (performance.now() - started) / 1000);
    }
  };
}

/** `GET /metrics`. */
export async function metricsEndpoint(c: Context<BaseEnv>): Promise<Response> {
  const { config, kv } = c.get("deps");
  if (!config.metricsToken) return c.text("Not found", 404);
  const m = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "");
  if (!m || !timingSafeEqual(m[1], config.metricsToken)) {
    return c.text("Unauthorized", 401, { "www-authenticate": 'Bearer realm="weft-metrics"' });
  }
  const backlog = await storeBacklog(kv);
  const body = renderMetrics([
    {
      name: "weft_membership_journal_backlog",
      help: "Large membership changes journalled and not yet completed.",
      value: backlog.journals,
    },
    {
      name: "weft_write_pause_active",
      help: "1 while a point-in-time backup holds writes.",
      value: backlog.writePause ? 1 : 0,
    },
    {
      name: "weft_instances_live",
      help: "Instances with a live heartbeat on the store.",
      value: backlog.instances,
    },
  ]);
  return c.body(body, 200, {
    "content-type": "text/plain; version=0.0.4; charset=utf-8",
    "cache-control": "no-store",
  });
}
