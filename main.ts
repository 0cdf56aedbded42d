/**
 * Weft: SCIM 2.0 provisioning receiver. Served by `deno serve` (`deno task start`), which calls
 * the default export; the address comes from `DENO_SERVE_ADDRESS` (default `0.0.0.0:8000`).
 * @module
 */
import { loadConfig } from "./lib/config.ts";
import { createLogger } from "./lib/log.ts";
import { openStore } from "./lib/store/open.ts";
import { bootstrap } from "./lib/bootstrap.ts";
import { createApp } from "./routes/mod.ts";

const config = loadConfig();
const log = createLogger(config.logLevel);
const kv = await openStore(config.kvPath);
const report = await bootstrap(kv, config);
const app = createApp({ kv, config, log });

if (report.lines.length) {
  // deno-lint-ignore no-console
  console.log(report.lines.join("\n"));
}

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
