/**
 * Weft: SCIM 2.0 provisioning receiver. `deno task start` runs this file; `deno serve main.ts`
 * uses its default export.
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

if (import.meta.main) {
  Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ port, hostname }) => {
      // deno-lint-ignore no-console
      console.log([`Weft is listening on http://${hostname}:${port}`, ...report.lines].join("\n"));
    },
  }, app.fetch);
}

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
