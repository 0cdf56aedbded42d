/**
 * Weft's counters, one owner each: requests, SCIM authentication failures, SAML refusals, and the
 * store's retries.
 * @module
 */
import { counter } from "./registry.ts";

/** Requests answered, by surface (`scim`, `console`, `saml-acs`, …) and status. */
export const requestsTotal = counter(
  "weft_http_requests_total",
  "HTTP requests answered, by surface and status.",
);
/** Seconds spent answering requests, by surface (with the request counter: the mean). */
export const requestSeconds = counter(
  "weft_http_request_seconds_total",
  "Seconds spent answering HTTP requests, by surface.",
);
/** Failed SCIM authentications, by reason (`unknown`, `revoked`, `wrong_idp`, …). */
export const scimAuthFailures = counter(
  "weft_scim_auth_failures_total",
  "Failed SCIM authentications, by reason.",
);
/** Refused SAML sign-ins, by reason (`signature_invalid`, `replayed`, …). */
export const samlRefusals = counter(
  "weft_saml_refusals_total",
  "Refused SAML sign-ins, by reason.",
);
/**
 * Store retries: `lock` (a shared SQLite file was locked), `contention` (a checked write lost to a
 * concurrent one and was tried again).
 */
export const kvRetries = counter(
  "weft_kv_retries_total",
  "Store operations tried again, by cause (lock, contention).",
);
