/**
 * The HTTP framework's share of a request: the lookup's KV work (token and IdP read together, the
 * userName index, the record) served by a bare `Deno.serve` handler and by Hono with the middleware
 * shape Weft's SCIM routes have (secure headers, request id, an authenticating sub-app, body limit,
 * a mounted `/Users` router). Same load generator, alternating runs, server CPU per request.
 *
 * ```sh
 * deno run -A --unstable-kv bench/floor.ts [--requests 20000]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { bodyLimit } from "hono/body-limit";
import { type Client, runPhase } from "./load.ts";
import { cpuTime, freePort, ROOT } from "./systems.ts";

const TOKEN = ["t", "x", "scim_tokens", "h"];
const IDP = ["t", "x", "idps", "idp"];
const BY_NAME = ["t", "x", "idp_users_by_username", "idp", "u"];
const record = (id: string) => ["t", "x", "idp_users", "idp", id];

/** Serves one floor variant (run in a child process). */
async function serve(mode: string, port: number, path: string): Promise<void> {
  const kv = await Deno.openKv(path);
  await kv.set(TOKEN, { id: "tok", idpId: "idp", name: "n" });
  await kv.set(IDP, { id: "idp", scimEnabled: true, matchBy: "externalId" });
  await kv.set(BY_NAME, "id1");
  await kv.set(record("id1"), {
    userId: "id1",
    resource: {
      userName: "u",
      name: { givenName: "A", familyName: "B" },
      emails: [{ value: "a@example.com", type: "work" }],
    },
  });
  const lookup = async () => {
    const id = (await kv.get<string>(BY_NAME)).value!;
    const user = (await kv.get(record(id))).value;
    return new Response(
      JSON.stringify({
        schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        totalResults: 1,
        Resources: [user],
      }),
      { headers: { "content-type": "application/scim+json" } },
    );
  };
  const options = { port, hostname: "127.0.0.1", onListen() {} };
  if (mode === "bare") {
    Deno.serve(options, async () => {
      await kv.getMany([TOKEN, IDP]);
      return await lookup();
    });
    return;
  }
  const app = new Hono();
  app.use("*", secureHeaders());
  app.use("*", async (c, next) => {
    c.header("x-request-id", crypto.randomUUID());
    await next();
  });
  const scim = new Hono();
  scim.use("*", async (_c, next) => {
    await kv.getMany([TOKEN, IDP]);
    await next();
  });
  scim.use("*", bodyLimit({ maxSize: 1 << 20 }));
  const users = new Hono();
  users.get("/", () => lookup());
  scim.route("/Users", users);
  app.route("/scim/v2/inbound/:idp", scim);
  Deno.serve(options, app.fetch);
}

/** `n` lookups by userName, created as the load generator takes them. */
function* lookups(n: number): Generator<(c: Client) => Promise<void>> {
  for (let i = 0; i < n; i++) {
    yield async (c: Client) => {
      await c.send({ method: "GET", path: "/Users?filter=userName%20eq%20%22u%22" });
    };
  }
}

async function main(): Promise<void> {
  const mode = Deno.env.get("FLOOR_MODE");
  if (mode) return await serve(mode, Number(Deno.env.get("FLOOR_PORT")), Deno.env.get("FLOOR_KV")!);
  const { values } = parseArgs({ args: Deno.args, options: { requests: { type: "string" } } });
  const n = Number(values.requests ?? 20_000);
  for (const variant of ["bare", "hono", "bare", "hono"]) {
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "weft-floor-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", `--config=${ROOT}deno.json`, import.meta.filename!],
      env: { FLOOR_MODE: variant, FLOOR_PORT: String(port), FLOOR_KV: `${dir}/floor.kv` },
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const target = { base: `http://127.0.0.1:${port}/scim/v2/inbound/idp`, token: "floor" };
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${target.base}/Users`).then((r) => r.body?.cancel()).then(
        () => true,
        () => false,
      );
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = await cpuTime(child.pid);
    const stats = await runPhase(variant, target, lookups(n), {
      concurrency: 8,
      maxRequests: n + 10,
      timeoutMs: 120_000,
    });
    const cpu = (await cpuTime(child.pid) - before) / stats.requests;
    // deno-lint-ignore no-console
    console.log(
      `${variant}: ${stats.rps.toFixed(0)} req/s, server CPU ${
        cpu.toFixed(3)
      } ms/request, ${stats.errors} errors`,
    );
    child.kill();
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
