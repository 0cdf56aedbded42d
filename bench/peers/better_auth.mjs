// deno-lint-ignore-file no-console
/**
 * Peer: Better Auth's SCIM plugin (`@better-auth/scim`) on SQLite (better-sqlite3, WAL), served by
 * Node's http server. Copied into the peer install folder by `bench/peers/install.ts` and run with
 * Node there. Env: PORT, TOKEN, DB (SQLite file). Listens on 127.0.0.1 only. SCIM base:
 * `http://127.0.0.1:<PORT>/api/auth/scim/v2`.
 */
import { createServer } from "node:http";
// The packages live in the peer install folder, not in this repository: imported by name at
// run time (Node resolves them from this file's folder), never resolved by `deno check`.
const load = (name) => import(name);
const { default: Database } = await load("better-sqlite3");
const { betterAuth } = await load("better-auth");
const { getMigrations } = await load("better-auth/db/migration");
const { toNodeHandler } = await load("better-auth/node");
const { scim } = await load("@better-auth/scim");

const port = Number(process.env.PORT);
const db = new Database(process.env.DB);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
const auth = betterAuth({
  database: db,
  secret: process.env.SECRET,
  baseURL: `http://127.0.0.1:${port}`,
  telemetry: { enabled: false },
  rateLimit: { enabled: false },
  logger: { level: "error" },
  // The adapter returns at most 100 rows by default, which makes the plugin refuse a PATCH that
  // adds 100 members ("One or more Group members are invalid"); an operator would raise it.
  advanced: { database: { defaultFindManyLimit: 10_000 } },
  plugins: [
    scim({
      connections: [{
        id: "bench",
        credentials: [{ type: "bearer", id: "bench", token: process.env.TOKEN }],
      }],
    }),
  ],
});
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
const server = createServer(toNodeHandler(auth));
// Node closes idle keep-alive sockets after 5 s; group PATCHes can take longer than that, and a
// client reusing a socket the server is closing sees "fetch failed". Keep sockets open longer.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(port, "127.0.0.1", () => console.log("ready"));
