/**
 * Service configuration from environment variables, validated with zod at start-up.
 * @module
 */
import { z } from "zod";
import project from "../deno.json" with { type: "json" };

/** Weft's version (`deno.json`): the `Weft-Webhooks/<version>` user agent of webhook deliveries. */
export const WEFT_VERSION: string = project.version;

const Env = z.object({
  DENO_SERVE_ADDRESS: z.string().optional(),
  WEFT_KV_PATH: z.string().optional(),
  DENO_KV_URL: z.string().url().optional(),
  WEFT_BASE_DOMAIN: z.string().min(1).default("localhost"),
  WEFT_DEFAULT_TENANT: z.string().optional(),
  WEFT_PUBLIC_SCHEME: z.enum(["http", "https"]).optional(),
  WEFT_TRUST_PROXY: z.enum(["true", "false", "1", "0"]).default("false"),
  WEFT_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  WEFT_MAX_RESULTS: z.coerce.number().int().min(1).max(10_000).default(200),
  WEFT_SCAN_LIMIT: z.coerce.number().int().min(100).default(20_000),
  WEFT_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(20),
  WEFT_REQUEST_LOG_DAYS: z.coerce.number().int().min(0).max(90).default(7),
  WEFT_EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  WEFT_EVENTS_FEED: z.enum(["on", "off"]).default("on"),
  WEFT_LOG: z.enum(["debug", "info", "warn", "error", "off"]).default("info"),
  WEFT_METRICS_TOKEN: z.preprocess(
    (v) => v === "" ? undefined : v,
    z.string().min(16, "must be at least 16 characters").optional(),
  ),
  WEFT_SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0.1).max(3600).default(25),
  WEFT_WEBHOOK_ALLOW_PRIVATE: z.enum(["true", "false", "1", "0"]).default("false"),
  WEFT_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  DENO_DEPLOYMENT_ID: z.string().optional(),
});

/** Validated configuration. */
export interface Config {
  /** The port `deno serve` listens on (from `DENO_SERVE_ADDRESS`), for URLs shown to admins. */
  port: number;
  /**
   * Deno KV location: a file path, `:memory:`, a KV Connect URL, or `""` for the platform's own
   * store (`Deno.openKv()` without a path: Deno Deploy's managed KV, the default there).
   */
  kvPath: string;
  /** Tenants are `<subdomain>.<baseDomain>`. */
  baseDomain: string;
  /** Tenant served on any host that is not a tenant subdomain (single-tenant installs). */
  defaultTenant?: string;
  /** Scheme used in URLs printed by the CLI and the first run. */
  publicScheme: "http" | "https";
  /** Trust `X-Forwarded-Host` / `X-Forwarded-Proto` / `X-Forwarded-For`. */
  trustProxy: boolean;
  maxBodyBytes: number;
  /** Largest page a list returns (`count` is capped to it). */
  maxResults: number;
  /** Most records a non-indexed filter or sort may examine before answering `tooMany`. */
  scanLimit: number;
  /** Failed authentications per client address per minute before `429`. */
  authFailuresPerMinute: number;
  /** Days each SCIM request stays in its connection's request log (0: not logged). */
  requestLogDays: number;
  /** Days each event of the public events feed is kept (`expireIn`). */
  eventRetentionDays: number;
  /**
   * Whether directory changes write the events feed's outbox notes. `off` is a measuring aid for
   * the bench (the feed's cost side by side), not a production setting: the feed stays empty.
   */
  eventsFeed: boolean;
  logLevel: "debug" | "info" | "warn" | "error" | "off";
  /** Bearer token of `GET /metrics`; without one the endpoint is off (`404`). */
  metricsToken?: string;
  /** How long a stopping instance lets in-flight requests finish before it exits anyway (ms). */
  shutdownGraceMs: number;
  /** Webhooks may go to http URLs and private or loopback addresses (development and tests). */
  webhookAllowPrivate: boolean;
  /** How long a webhook attempt may take before it counts as failed (ms). */
  webhookTimeoutMs: number;
  /** Whether this runs on Deno Deploy (`DENO_DEPLOYMENT_ID` is set there). */
  onDeploy: boolean;
}

/** Reads and validates configuration; throws a readable error naming the bad variable. */
export function loadConfig(env: Record<string, string | undefined> = Deno.env.toObject()): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`Cannot start: invalid configuration: ${issues.join("; ")}`);
  }
  const e = parsed.data;
  return {
    port: servePort(e.DENO_SERVE_ADDRESS),
    kvPath: e.DENO_KV_URL ?? e.WEFT_KV_PATH ?? (e.DENO_DEPLOYMENT_ID ? "" : "./data/weft.kv"),
    baseDomain: e.WEFT_BASE_DOMAIN.toLowerCase(),
    defaultTenant: e.WEFT_DEFAULT_TENANT || undefined,
    publicScheme: e.WEFT_PUBLIC_SCHEME ??
      (e.WEFT_BASE_DOMAIN === "localhost" ? "http" : "https"),
    trustProxy: e.WEFT_TRUST_PROXY === "true" || e.WEFT_TRUST_PROXY === "1",
    maxBodyBytes: e.WEFT_MAX_BODY_BYTES,
    maxResults: e.WEFT_MAX_RESULTS,
    scanLimit: e.WEFT_SCAN_LIMIT,
    authFailuresPerMinute: e.WEFT_AUTH_FAILURES_PER_MINUTE,
    requestLogDays: e.WEFT_REQUEST_LOG_DAYS,
    eventRetentionDays: e.WEFT_EVENT_RETENTION_DAYS,
    eventsFeed: e.WEFT_EVENTS_FEED === "on",
    logLevel: e.WEFT_LOG,
    metricsToken: e.WEFT_METRICS_TOKEN,
    shutdownGraceMs: e.WEFT_SHUTDOWN_GRACE_SECONDS * 1000,
    webhookAllowPrivate: e.WEFT_WEBHOOK_ALLOW_PRIVATE === "true" ||
      e.WEFT_WEBHOOK_ALLOW_PRIVATE === "1",
    webhookTimeoutMs: e.WEFT_WEBHOOK_TIMEOUT_MS,
    onDeploy: !!e.DENO_DEPLOYMENT_ID,
  };
}

/**
 * The port of a `DENO_SERVE_ADDRESS` such as `tcp:0.0.0.0:9000`. `deno serve` reads only the
 * `tcp:` form and otherwise listens on 8000, so the URLs shown to admins follow the same rule.
 */
function servePort(address: string | undefined): number {
  const m = address ? /^tcp:.*:(\d{1,5})$/.exec(address.trim()) : null;
  return m ? Number(m[1]) : 8000;
}
