/**
 * The SCIM sub-app's middleware in small apps: authentication (tenant, IdP, token, the 401
 * reasons and the 429) and the error handler (each error kind to its status and body).
 * @module
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { scimAuthentication } from "./scim_auth.ts";
import { scimOnError } from "./scim_errors.ts";
import type { AppDeps, BaseEnv, ScimEnv } from "./env.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { createIdp, createTenant, createToken } from "../store/tenants.ts";
import type { Tenant } from "../store/types.ts";
import { ScimError } from "../scim/errors.ts";
import { ContentionError, InvalidCursorError } from "../store/kv.ts";

function scimApp(kv: Deno.Kv, tenant: Tenant | null) {
  const deps: AppDeps = {
    kv,
    config: loadConfig({ WEFT_LOG: "off", WEFT_AUTH_FAILURES_PER_MINUTE: "3" }),
    log: createLogger("off"),
  };
  const root = new Hono<BaseEnv>().use(async (c, next) => {
    c.set("deps", deps);
    c.set("requestId", "r1");
    c.set("clientIp", "192.0.2.1");
    c.set("origin", "http://acme.localhost");
    c.set("tenant", tenant);
    await next();
  });
  const scim = new Hono<ScimEnv>()
    .use(scimAuthentication())
    .get(
      "/Users",
      (c) => c.json({ tenant: c.get("tenant").id, idp: c.get("idp").id, base: c.get("scimBase") }),
    );
  scim.onError((e, c) => scimOnError(e, c));
  return root.route("/scim/v2/inbound/:idp", scim);
}

Deno.test("scimAuthentication() - the IdP's own token passes; every other case is refused with its reason", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const idp = await createIdp(kv, tenant.id, { name: "Okta", kind: "okta" });
  const other = await createIdp(kv, tenant.id, { name: "Entra", kind: "entra" });
  const { secret } = await createToken(kv, tenant.id, idp.id, { name: "t", createdBy: "test" });
  const app = scimApp(kv, tenant);
  const get = (idpId: string, auth?: string) =>
    app.request(`/scim/v2/inbound/${idpId}/Users`, {
      headers: auth ? { authorization: auth } : {},
    });
  const ok = await get(idp.id, `Bearer ${secret}`);
  assert.deepEqual(await ok.json(), {
    tenant: tenant.id,
    idp: idp.id,
    base: `http://acme.localhost/scim/v2/inbound/${idp.id}`,
  });
  for (
    const [auth, reason] of [
      [undefined, "missing_header"],
      [`Basic ${btoa("a:b")}`, "not_bearer"],
      [`Bearer Bearer ${secret}`, "doubled_bearer"],
    ] as const
  ) {
    const res = await get(idp.id, auth);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="weft"/);
    assert.match((await res.json()).detail, new RegExp(`\\(${reason}\\)`));
  }
  // The third failure of this address in the window is the last answered with a reason.
  const throttled = await get(other.id, `Bearer ${secret}`);
  assert.equal(throttled.status, 429);
  assert.ok(Number(throttled.headers.get("retry-after")) > 0);
  assert.equal((await get("bad id!", `Bearer ${secret}`)).status, 404);
});

Deno.test("scimAuthentication() - no tenant at the host is a 404 SCIM error", async () => {
  await using kv = await Deno.openKv(":memory:");
  const app = scimApp(kv, null);
  const res = await app.request("/scim/v2/inbound/abc/Users");
  assert.equal(res.status, 404);
  assert.match(res.headers.get("content-type") ?? "", /scim\+json/);
});

Deno.test("scimOnError() - each error kind to its status; unknown errors never show their cause", async () => {
  const cases: [unknown, number, string | undefined][] = [
    [ScimError.invalidFilter("bad"), 400, "invalidFilter"],
    [new InvalidCursorError(), 400, "invalidCursor"],
    [new ContentionError("group"), 503, undefined],
    [new Error("database is locked forever"), 503, undefined],
    [new Error("secret detail"), 500, undefined],
  ];
  for (const [error, status, scimType] of cases) {
    const app = new Hono<BaseEnv>()
      .use(async (c, next) => {
        c.set("deps", { log: createLogger("off") } as unknown as AppDeps);
        c.set("requestId", "r1");
        await next();
      })
      .get("/", () => {
        throw error;
      });
    app.onError((e, c) => scimOnError(e, c));
    const res = await app.request("/");
    const body = await res.json();
    assert.equal(res.status, status, String(error));
    assert.equal(body.status, String(status));
    assert.equal(body.scimType, scimType);
    assert.doesNotMatch(JSON.stringify(body), /secret detail/);
    if (status === 503) assert.ok(res.headers.get("retry-after"));
  }
});
