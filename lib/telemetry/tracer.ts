/**
 * Tracing with Deno's built-in OpenTelemetry (`OTEL_DENO=true`): Deno makes a span for every
 * request `deno serve` answers and every `fetch`, and exports them over OTLP/HTTP
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`); Weft names the request spans for
 * their route and adds its own spans through `@opentelemetry/api`, which Deno's SDK serves.
 * Attributes are ids (tenant, IdP), kinds and route patterns only: never a path, query, name,
 * address, token or anything an IdP sent.
 * @module
 */
import { trace, type Tracer } from "@opentelemetry/api";

/** Weft's tracer (its spans' scope is `weft`). */
export const tracer: Tracer = trace.getTracer("weft");

/** Whether Deno's OpenTelemetry is on for this process. */
export function telemetryEnabled(): boolean {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false;
  }
}
