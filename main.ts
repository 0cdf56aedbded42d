/**
 * Weft: SCIM 2.0 provisioning receiver. Served by `deno serve` (`deno task start`), which calls
 * the default export; the address comes from `DENO_SERVE_ADDRESS` (default `0.0.0.0:8000`).
 *
 * The service starts even when its store cannot be opened: it answers 503 (a SCIM error body on
 * SCIM paths, `/readyz` red) and keeps trying, so a store that comes back needs no restart. It
 * refuses to start (exit 1) on a store written by a newer Weft, or one a restore has not finished.
 * On SIGTERM it finishes the requests in flight, within `WEFT_SHUTDOWN_GRACE_SECONDS`. With
 * `OTEL_DENO=true`, requests and their store operations are exported as OpenTelemetry spans.
 * @module
 */
import { loadConfig } from "./lib/config.ts";
import { createLogger } from "./lib/log.ts";
import { openStore } from "./lib/store/open.ts";
import { bootstrap } from "./lib/bootstrap.ts";
import { createApp } from "./routes/mod.ts";
import { scimErrorResponse } from "./lib/http/scim.ts";
import { ScimError } from "./lib/scim/errors.ts";
import { NewerStoreError, refuseNewerStore } from "./lib/store/migrations.ts";
import { restoreUnderWay } from "./lib/store/dump.ts";
import { startWriteGate } from "./lib/instance/write_gate.ts";
import { createLifecycle, type Handler, listenForSigterm } from "./lib/instance/lifecycle.ts";
import { telemetryEnabled } from "./lib/telemetry/tracer.ts";
import { traceKv } from "./lib/store/traced_kv.ts";
import { flushRequestLog } from "./lib/store/request_log.ts";
import { startWebhookWorker } from "./lib/webhooks/worker.ts";
import { startFeedWorker } from "./lib/store/feed_worker.ts";
import { enterForBackground } from "./lib/instance/write_gate.ts";

const RETRY_MS = 2_000;
const config = loadConfig();
const log = createLogger(config.logLevel);
const lifecycle = createLifecycle({ graceMs: config.shutdownGraceMs, log });
listenForSigterm(lifecycle);

/** What every request gets while the store is unavailable. */
function unavailable(request: Request): Response {
  const path = new URL(request.url).pathname;
  if (path === "/healthz") return Response.json({ ok: true, store: false });
  if (path.startsWith("/scim/")) {
    return scimErrorResponse(
      new ScimError(503, "The directory store is unavailable: retry shortly", {
        headers: { "retry-after": String(RETRY_MS / 1000) },
      }),
    );
  }
  return Response.json({ ok: false, detail: "The directory store is unavailable" }, {
    status: 503,
    headers: { "retry-after": String(RETRY_MS / 1000) },
  });
}

let handler: Handler = unavailable;

/** Says why this instance cannot serve the store, and exits. */
function refuse(message: string): never {
  log.log("error", message);
  // deno-lint-ignore no-console
  console.error(message);
  Deno.exit(1);
}

/** Opens the store and builds the app; on failure, tries again later. */
async function start(): Promise<void> {
  if (lifecycle.stopping()) return;
  let kv: Deno.Kv;
  try {
    kv = await openStore(config.kvPath);
    await refuseNewerStore(kv);
  } catch (error) {
    if (error instanceof NewerStoreError) refuse(error.message);
    log.log("error", "cannot open the store; retrying", {
      error: String(error),
      kvPath: config.kvPath,
    });
    setTimeout(start, RETRY_MS);
    return;
  }
  const restoring = await restoreUnderWay(kv).catch(() => null);
  if (restoring) {
    refuse(
      `Cannot serve this store: a restore from "${restoring.from}" started ${restoring.startedAt} has not finished. Run the restore again (with --force) and start once it has`,
    );
  }
  const gate = startWriteGate(kv, log);
  lifecycle.onStop(() => kv.close());
  lifecycle.onStop(() => gate.close());
  // With telemetry on, the requests' store operations are spans (the gate's own polling is not).
  const served = telemetryEnabled() ? traceKv(kv) : kv;
  // Runs before the store closes (last added, first run): the request log's waiting entries.
  lifecycle.onStop(() => flushRequestLog(served));
  // Webhook deliveries, polled from the store; stopped (in-flight attempts finished or left to
  // their lease) before the store closes. An attempt cut short by a kill runs again: at least once.
  const webhooks = startWebhookWorker(kv, {
    log,
    allowPrivate: config.webhookAllowPrivate,
    timeoutMs: config.webhookTimeoutMs,
    // Deliveries yield to the requests this instance is answering (SCIM first).
    busy: () => lifecycle.inFlight() > 0,
  });
  lifecycle.onStop(() => webhooks.stop());
  handler = createApp({ kv: served, config, log, gate }).fetch;
  // The events feed's sequencer, stopped before the store closes (added later, run earlier).
  const feed = startFeedWorker(served, { log, hold: () => enterForBackground(gate) });
  lifecycle.onStop(() => feed.close());
  await prepare(kv);
}

/** First run and recovery of interrupted changes; a store that cannot be written is retried. */
async function prepare(kv: Deno.Kv): Promise<void> {
  if (lifecycle.stopping()) return;
  try {
    const report = await bootstrap(kv, config, { terminal: Deno.stdout.isTerminal() });
    if (report.lines.length) {
      // deno-lint-ignore no-console
      console.log(report.lines.join("\n"));
    }
  } catch (error) {
    if (error instanceof NewerStoreError) refuse(error.message);
    log.log("error", "start-up tasks failed; retrying", { error: String(error) });
    setTimeout(() => prepare(kv), RETRY_MS);
  }
}

await start();

export default {
  fetch: lifecycle.wrap(() => handler),
} satisfies Deno.ServeDefaultExport;
