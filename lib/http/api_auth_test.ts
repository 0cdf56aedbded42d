/**
 * The directory API's middleware in small apps: API key authentication (tenant from the host,
 * every refusal a 401 with `WWW-Authenticate`, the 429 of a client that keeps failing), the
 * scope check (403) and the error handler.
 * @module
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { type ApiEnv, apiKeyAuthentication, requireScope } from "./api_auth.ts";
import { ApiError, apiOnError } from "./api_errors.ts";
import type { AppDeps, BaseEnv } from "./env.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { createIdp, createTenant, createToken } from "../store/tenants.ts";
import type { Tenant } from "../store/types.ts";
import { createApiKey, revokeApiKey } from "../store/api_keys.ts";
import { ContentionError, InvalidCursorError } from "../store/kv.ts";

function apiApp(kv: Deno.Kv, tenant: Tenant | null) {
  const deps: AppDeps = {
    kv,
    config: loadConfig({ WEFT_LOG: "off", WEFT_AUTH_FAILURES_PER_MINUTE: "3" }),
    log: createLogger("off"),
  };
  const root = new Hono<BaseEnv>().use(async (c, next) => {
    c.set("deps", deps);
    c.set("requestId", "r1");
    c.set("clientIp", c.req.header("x-client") ?? "192.0.2.1");
    c.set("origin", "http://acme.localhost");
    c.set("tenant", tenant);
    await next();
  });
  const api = new Hono<ApiEnv>()
    .use(apiKeyAuthentication())
    .get("/events", requireScope("events:read"), (c) => c.json({ key: c.get("apiKey").id }))
    .get("/users", requireScope("directory:read"), (c) => c.json({ tenant: c.get("tenant").id }));
  api.onError((e, c) => apiOnError(e, c));
  return root.route("/api/v1", api);
}

Deno.test("apiKeyAuthentication() - a live key of the tenant passes; everything else is a 401", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const other = await createTenant(kv, { subdomain: "other" });
  const idp = await createIdp(kv, tenant.id, { name: "Okta", kind: "okta" });
  const scim = await createToken(kv, tenant.id, idp.id, { name: "t", createdBy: "test" });
  const { secret, key } = await createApiKey(kv, tenant.id, { name: "app", createdBy: "test" });
  const foreign = await createApiKey(kv, other.id, { name: "app", createdBy: "test" });
  const revoked = await createApiKey(kv, tenant.id, { name: "old", createdBy: "test" });
  await revokeApiKey(kv, tenant.id, revoked.key.id, { actor: "test" });
  const app = apiApp(kv, tenant);
  let n = 0;
  const get = (auth?: string) =>
    app.request("/api/v1/users", {
      // Each case from its own address, so the throttle stays out of the way.
      headers: { ...(auth !== undefined ? { authorization: auth } : {}), "x-client": `c${n++}` },
    });

  const ok = await get(`Bearer ${secret}`);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { tenant: tenant.id });
  assert.equal(key.scopes.join(","), "directory:read,events:read");

  const refused: [string | undefined, RegExp][] = [
    [undefined, /Send an API key/],
    ["", /Send an API key/],
    [`Basic ${btoa("a:b")}`, /must be exactly: Bearer/],
    [`Bearer  ${secret}`, /must be exactly: Bearer/],
    [`Bearer Bearer ${secret}`, /must be exactly: Bearer/],
    [`Bearer ${secret.slice(0, -1)}`, /not one this tenant issued/],
    [`Bearer ${secret}x`, /not one this tenant issued/],
    [`Bearer ${scim.secret}`, /not one this tenant issued/],
    [`Bearer ${foreign.secret}`, /not one this tenant issued/],
    [`Bearer ${revoked.secret}`, /was revoked/],
  ];
  for (const [auth, message] of refused) {
    const res = await get(auth);
    assert.equal(res.status, 401, String(auth));
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="weft", error="invalid_token"');
    const body = await res.json();
    assert.equal(body.error.code, "unauthorized");
    assert.match(body.error.message, message, String(auth));
  }
});

Deno.test("apiKeyAuthentication() - an expired key is a 401; no tenant at the host is a 404", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const { secret, key } = await createApiKey(kv, tenant.id, {
    name: "soon",
    createdBy: "test",
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
  });
  // Expire it in place, as time would.
  const { keys } = await import("../store/keys.ts");
  const { hashApiKeySecret } = await import("../auth/api_keys.ts");
  const k = keys.apiKey(tenant.id, await hashApiKeySecret(secret));
  const entry = await kv.get<Record<string, unknown>>(k);
  await kv.set(k, { ...entry.value, expiresAt: new Date(Date.now() - 1000).toISOString() });
  const res = await apiApp(kv, tenant).request("/api/v1/users", {
    headers: { authorization: `Bearer ${secret}` },
  });
  assert.equal(res.status, 401);
  assert.match((await res.json()).error.message, /expired/);
  assert.ok(key.expiresAt);

  const none = await apiApp(kv, null).request("/api/v1/users", {
    headers: { authorization: `Bearer ${secret}` },
  });
  assert.equal(none.status, 404);
  assert.equal((await none.json()).error.code, "not_found");
});

Deno.test("apiKeyAuthentication() - a client that keeps failing gets 429 with Retry-After", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const { secret } = await createApiKey(kv, tenant.id, { name: "app", createdBy: "test" });
  const app = apiApp(kv, tenant);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await app.request("/api/v1/users", { headers: { authorization: "Bearer nope" } });
    statuses.push(res.status);
    if (res.status === 429) {
      assert.match(res.headers.get("retry-after") ?? "", /^\d+$/);
      assert.equal((await res.json()).error.code, "rate_limited");
    } else await res.body?.cancel();
  }
  assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
  // Success is never throttled.
  const ok = await app.request("/api/v1/users", { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(ok.status, 200);
});

Deno.test("requireScope() - a key without the route's scope is a 403 insufficient_scope", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const feed = await createApiKey(kv, tenant.id, {
    name: "feed",
    scopes: ["events:read"],
    createdBy: "test",
  });
  const app = apiApp(kv, tenant);
  const auth = { authorization: `Bearer ${feed.secret}` };
  assert.equal((await app.request("/api/v1/events", { headers: auth })).status, 200);
  const res = await app.request("/api/v1/users", { headers: auth });
  assert.equal(res.status, 403);
  assert.match(res.headers.get("www-authenticate") ?? "", /insufficient_scope/);
  assert.deepEqual(await res.json(), {
    error: { code: "insufficient_scope", message: "This API key lacks the directory:read scope" },
  });
});

Deno.test("apiOnError() - each error kind to its status and body; unknown errors hide their cause", async () => {
  const logged: unknown[] = [];
  const c = {
    get(k: string) {
      if (k === "requestId") return "r1";
      return { log: { log: (...a: unknown[]) => logged.push(a) } };
    },
  } as unknown as Parameters<typeof apiOnError>[1];
  const cases: [unknown, number, string][] = [
    [new ApiError("not_found", "No user"), 404, "not_found"],
    [new InvalidCursorError(), 400, "invalid_request"],
    [new ContentionError("x"), 503, "unavailable"],
    [new Error("secret detail"), 500, "internal_error"],
  ];
  for (const [error, status, code] of cases) {
    const res = apiOnError(error, c);
    assert.equal(res.status, status);
    const body = await res.json();
    assert.equal(body.error.code, code);
    assert.ok(!body.error.message.includes("secret detail"));
  }
  assert.equal(logged.length, 1);
});
