/**
 * An OpenTelemetry collector for tests, on loopback: receives OTLP/HTTP in JSON
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) at `/v1/traces` (and accepts `/v1/logs` and
 * `/v1/metrics`), and keeps every span with its attributes as plain values.
 * @module
 */

/** A received span. */
export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  scope: string;
  attributes: Record<string, unknown>;
}

/** A running collector. */
export interface Collector extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** Every span received so far. */
  spans(): ReceivedSpan[];
  /** Every request body received so far, as text (for checks that nothing leaked). */
  bodies(): string[];
}

type AnyValue = Record<string, unknown>;

function plain(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  return JSON.stringify(v);
}

/** Starts a collector. */
export function startCollector(): Collector {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const text = await req.text();
    bodies.push(text);
    if (new URL(req.url).pathname === "/v1/traces") {
      const body = JSON.parse(text) as {
        resourceSpans?: {
          scopeSpans?: {
            scope?: { name?: string };
            spans?: {
              name: string;
              traceId: string;
              spanId: string;
              parentSpanId?: string;
              attributes?: { key: string; value: AnyValue }[];
            }[];
          }[];
        }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              scope: ss.scope?.name ?? "",
              attributes: Object.fromEntries(
                (s.attributes ?? []).map((a) => [a.key, plain(a.value)]),
              ),
            });
          }
        }
      }
    }
    return Response.json({});
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    spans: () => [...spans],
    bodies: () => [...bodies],
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
