/**
 * Weft: SCIM 2.0 provisioning receiver. Served by `deno serve` (`deno task start`), which calls
 * the default export; the address comes from `DENO_SERVE_ADDRESS` (default `0.0.0.0:8000`).
 *
 * The service starts even when its store cannot be opened: it answers 503 (a SCIM error body on
 * SCIM paths, `/readyz` red) and keeps trying, so a store that comes back needs no restart.
 * @module
 */
import { loadConfig } from "./lib/config.ts";
import { createLogger } from "./lib/log.ts";
import { openStore } from "./lib/store/open.ts";
import { bootstrap } from "./lib/bootstrap.ts";
import { createApp } from "./routes/mod.ts";
import { scimErrorResponse } from "./lib/http/scim.ts";
import { ScimError } from "./lib/scim/errors.ts";

const RETRY_MS = 2_000;
const config = loadConfig();
const log = createLogger(config.logLevel);

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

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

/** Opens the store and builds the app; on failure, tries again later. */
async function start(): Promise<void> {
  let kv: Deno.Kv;
  try {
    kv = await openStore(config.kvPath);
  } catch (error) {
    log.log("error", "cannot open the store; retrying", {
      error: String(error),
      kvPath: config.kvPath,
    });
    setTimeout(start, RETRY_MS);
    return;
  }
  handler = createApp({ kv, config, log }).fetch;
  await prepare(kv);
}

/** First run and recovery of interrupted changes; a store that cannot be written is retried. */
async function prepare(kv: Deno.Kv): Promise<void> {
  try {
    const report = await bootstrap(kv, config, { terminal: Deno.stdout.isTerminal() });
    if (report.lines.length) {
      // deno-lint-ignore no-console
      console.log(report.lines.join("\n"));
    }
  } catch (error) {
    log.log("error", "start-up tasks failed; retrying", { error: String(error) });
    setTimeout(() => prepare(kv), RETRY_MS);
  }
}

await start();

export default {
  fetch: (request, info) => handler(request, info),
} satisfies Deno.ServeDefaultExport;
