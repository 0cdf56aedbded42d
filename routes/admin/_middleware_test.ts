/**
 * The console's middleware in a small app: the session from its cookie, CSRF (origin, token,
 * body type) and the sign-in requirement, each refusal with its status.
 * @module
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { consoleSession, csrfProtection, requireSignIn } from "./_middleware.ts";
import { type AdminEnv, HttpError } from "./_shared.tsx";
import type { AppDeps } from "../../lib/http/env.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { createTenant } from "../../lib/store/tenants.ts";
import { createAdminFromLink } from "../../lib/store/admins.ts";
import { createSetupLink, hashSetupSecret } from "../../lib/auth/admin.ts";
import { createSession } from "../../lib/auth/sessions.ts";

async function setup() {
  const kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const { url } = await createSetupLink(kv, tenant.id, "http://acme.localhost", {
    role: "super_admin",
    createdBy: "test",
  });
  const admin = await createAdminFromLink(
    kv,
    tenant.id,
    await hashSetupSecret(url.slice(url.lastIndexOf("/") + 1)),
    { email: "root@acme.test", passwordHash: "pbkdf2-sha256$1$AA==$AA==" },
  );
  const { jwt, session } = await createSession(kv, admin, { ip: "x", userAgent: "x" });
  const deps: AppDeps = { kv, config: loadConfig({ WEFT_LOG: "off" }), log: createLogger("off") };
  const app = new Hono<AdminEnv>()
    .use(async (c, next) => {
      c.set("deps", deps);
      c.set("origin", "http://acme.localhost");
      c.set("tenant", tenant);
      await next();
    })
    .use(consoleSession())
    .use(csrfProtection())
    .use(requireSignIn())
    .all("/admin/*", (c) => c.json({ admin: c.get("admin")?.email ?? null }));
  app.onError((e, c) =>
    e instanceof HttpError ? c.json({ error: e.message }, e.status) : c.json({}, 500)
  );
  return { kv, app, cookie: `weft_session=${jwt}`, csrf: session.csrf };
}

Deno.test("consoleSession() and requireSignIn() - a session is read from its cookie; without one pages redirect, JSON is 401", async () => {
  const { kv, app, cookie } = await setup();
  try {
    const page = await app.request("http://acme.localhost/admin/users", { headers: { cookie } });
    assert.deepEqual(await page.json(), { admin: "root@acme.test" });
    const out = await app.request("http://acme.localhost/admin/users?q=a");
    assert.equal(out.status, 302);
    assert.equal(out.headers.get("location"), "/admin/signin?next=%2Fadmin%2Fusers%3Fq%3Da");
    assert.equal((await app.request("http://acme.localhost/admin/api/events")).status, 401);
    assert.equal((await app.request("http://acme.localhost/admin/signin")).status, 200);
    const forged = await app.request("http://acme.localhost/admin/users", {
      headers: { cookie: "weft_session=eyJhbGciOiJIUzI1NiJ9.e30.x" },
    });
    assert.equal(forged.status, 302);
  } finally {
    kv.close();
  }
});

Deno.test("csrfProtection() - state changes need the origin and the session's token, as a form", async () => {
  const { kv, app, cookie, csrf } = await setup();
  try {
    const post = (headers: Record<string, string>, body?: string) =>
      app.request("http://acme.localhost/admin/idps", { method: "POST", headers, body });
    const form = "application/x-www-form-urlencoded";
    const origin = "http://acme.localhost";
    assert.equal(
      (await post({ cookie, origin, "content-type": form }, `_csrf=${csrf}`)).status,
      200,
    );
    assert.equal((await post({ cookie, origin, "x-csrf-token": csrf })).status, 200);
    // Wrong or missing token, foreign or missing origin.
    assert.equal((await post({ cookie, origin, "content-type": form }, "_csrf=nope")).status, 403);
    assert.equal((await post({ cookie, origin, "content-type": form }, "a=1")).status, 403);
    assert.equal(
      (await post({ cookie, origin: "http://evil.example", "x-csrf-token": csrf })).status,
      403,
    );
    assert.equal((await post({ cookie, "x-csrf-token": csrf })).status, 403);
    assert.equal(
      (await post({ cookie, "sec-fetch-site": "same-origin", "x-csrf-token": csrf })).status,
      200,
    );
    // The right token, but a body that is not a form.
    assert.equal(
      (await post({ cookie, origin, "x-csrf-token": csrf, "content-type": "text/plain" }, "x"))
        .status,
      415,
    );
    // JSON is taken on the console's API only.
    const api = await app.request("http://acme.localhost/admin/api/x", {
      method: "POST",
      headers: { cookie, origin, "x-csrf-token": csrf, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(api.status, 200);
    // Signed out, the origin is still checked (sign-in forms), and then sign-in is required.
    assert.equal((await post({ origin: "http://evil.example" })).status, 403);
    assert.equal((await post({ origin })).status, 403);
  } finally {
    kv.close();
  }
});
