/**
 * The root app's middleware, each in a two-line app: request target checks, security headers,
 * the access log, the request context, body limits and the response-header guard.
 * @module
 */
import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { checkRequestTarget, requestTargetProblem } from "./request_target.ts";
import { securityHeaders } from "./page_headers.ts";
import { accessLog } from "./access_log.ts";
import { clientRequestId, requestContext } from "./request_context.ts";
import { limitBodies } from "./limits.ts";
import { guardHeaders } from "./guard_headers.ts";
import type { AppDeps, BaseEnv } from "./env.ts";
import type { Logger } from "../log.ts";
import { loadConfig } from "../config.ts";
import { createTenant } from "../store/tenants.ts";

const refuse = (c: Context, status: 400 | 413 | 414, detail: string) =>
  c.json({ status, detail }, status);

function recorder(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: (level, msg, fields = {}) => void lines.push({ level, msg, ...fields }) };
}

Deno.test("requestTargetProblem() - controls, non-UTF-8 and length; a lone % is text", () => {
  assert.equal(requestTargetProblem("http://x/a?b=c%20d"), null);
  assert.equal(requestTargetProblem("http://x/a?filter=title%20eq%20%22100%%22"), null);
  assert.equal(requestTargetProblem("http://x/a%7F"), "control_character");
  assert.equal(requestTargetProblem("http://x/a?next=%0d%0a"), "control_character");
  assert.equal(requestTargetProblem("http://x/a?q=%FF"), "invalid_utf8");
  assert.equal(requestTargetProblem("http://x/a?q=%C3%A9"), null);
  assert.equal(requestTargetProblem("http://x/" + "a".repeat(40_000)), "too_long");
});

Deno.test("checkRequestTarget() - refuses 400 and 414 before the handler runs", async () => {
  let ran = 0;
  const app = new Hono().use(checkRequestTarget(refuse)).get("/*", (c) => (ran++, c.text("ok")));
  assert.equal((await app.request("/ok?q=%C3%A9")).status, 200);
  assert.equal((await app.request("/x?next=%2Fadmin%2F%7F")).status, 400);
  assert.equal((await app.request("/" + "a".repeat(33_000))).status, 414);
  assert.equal(ran, 1);
});

Deno.test("securityHeaders() - pages get the strict set and no-store, the rest the defaults", async () => {
  const app = new Hono()
    .use(securityHeaders({
      isPage: (p) => p.startsWith("/admin"),
      pages: { contentSecurityPolicy: { defaultSrc: ["'none'"] }, xFrameOptions: "DENY" },
    }))
    .get("/*", (c) => c.text("ok"));
  const page = await app.request("/admin/x");
  assert.equal(page.headers.get("cache-control"), "no-store");
  assert.equal(page.headers.get("content-security-policy"), "default-src 'none'");
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  const other = await app.request("/healthz");
  assert.equal(other.headers.get("cache-control"), null);
  assert.equal(other.headers.get("x-content-type-options"), "nosniff");
});

Deno.test("accessLog() - one line per request with the route pattern, never the path or query", async () => {
  const log = recorder();
  const app = new Hono<BaseEnv>()
    .use(accessLog(log))
    .use(async (c, next) => (c.set("requestId", "req-1"), await next()))
    .get("/users/:id", (c) => c.text("ok"));
  const res = await app.request("/users/alice@example.com?filter=secret");
  assert.equal(res.headers.get("x-request-id"), "req-1");
  assert.equal(log.lines.length, 1);
  assert.equal(log.lines[0].route, "/users/:id");
  assert.equal(log.lines[0].status, 200);
  // At debug: the default level (info) keeps the start-up report the last thing printed.
  assert.equal(log.lines[0].level, "debug");
  assert.doesNotMatch(JSON.stringify(log.lines), /alice|secret/);
  const failing = new Hono<BaseEnv>().use(accessLog(log)).get("/x", (c) => c.text("no", 503));
  await (await failing.request("/x")).body?.cancel();
  assert.equal(log.lines.at(-1)?.level, "warn");
});

Deno.test("requestContext() - request id, client address, origin and tenant; a bad Host is refused", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const make = (env: Record<string, string> = {}) => {
    const config = loadConfig({ WEFT_LOG: "off", ...env });
    const deps: AppDeps = { kv, config, log: recorder() };
    return new Hono<BaseEnv>().use(requestContext(deps, refuse)).get("/", (c) =>
      c.json({
        requestId: c.get("requestId"),
        clientIp: c.get("clientIp"),
        origin: c.get("origin"),
        tenant: c.get("tenant")?.id ?? null,
      }));
  };
  const info = { remoteAddr: { hostname: "192.0.2.9" } };
  const plain = await (await make().request("http://acme.localhost/", {
    headers: { "x-request-id": "abc\u00e9<>def", "x-forwarded-for": "203.0.113.1" },
  }, info)).json();
  assert.deepEqual(plain, {
    requestId: "abcdef",
    clientIp: "192.0.2.9",
    origin: "http://acme.localhost",
    tenant: tenant.id,
  });
  const proxied = await (await make({ WEFT_TRUST_PROXY: "true" }).request("http://internal/", {
    headers: {
      "x-forwarded-host": "acme.localhost",
      "x-forwarded-proto": "https",
      "x-forwarded-for": "198.51.100.1, 203.0.113.7",
    },
  }, info)).json();
  assert.equal(proxied.origin, "https://acme.localhost");
  assert.equal(proxied.clientIp, "203.0.113.7");
  assert.equal(proxied.tenant, tenant.id);
  const bad = await make().request("http://acme.localhost/", { headers: { host: "a b" } }, info);
  assert.equal(bad.status, 400);
  assert.equal(clientRequestId(undefined), undefined);
  assert.equal(clientRequestId("x".repeat(100))?.length, 64);
});

Deno.test("limitBodies() - refuses over the surface's limit, with a length or streamed", async () => {
  let read = 0;
  const app = new Hono()
    .use(limitBodies({ scimMaxBytes: 2048 }, refuse))
    .post("/*", async (c) => {
      read += (await c.req.arrayBuffer()).byteLength;
      return c.text("ok");
    });
  const post = (path: string, body: BodyInit) => app.request(path, { method: "POST", body });
  assert.equal((await post("/scim/v2/inbound/x/Users", "a".repeat(2048))).status, 200);
  assert.equal((await post("/scim/v2/inbound/x/Users", "a".repeat(2049))).status, 413);
  assert.equal((await post("/admin/signin", "a".repeat(9000))).status, 413);
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new Uint8Array(70 * 1024));
      c.close();
    },
  });
  assert.equal((await post("/admin/idps", stream)).status, 413);
  assert.equal(read, 2048);
});

Deno.test("guardHeaders() - a header HTTP cannot carry becomes a 500, never reaches the wire", async () => {
  const log = recorder();
  const app = new Hono()
    .use(guardHeaders(log))
    .get("/bad", (c) => c.redirect("/admin/\u007f"))
    .get("/good", (c) => c.redirect("/admin/%7F"));
  const bad = await app.request("/bad");
  assert.equal(bad.status, 500);
  assert.equal(bad.headers.get("location"), null);
  assert.equal(log.lines[0].msg, "response header refused: it holds characters HTTP cannot carry");
  assert.deepEqual(log.lines[0].headers, ["location"]);
  const good = await app.request("/good");
  assert.equal(good.headers.get("location"), "/admin/%7F");
});
