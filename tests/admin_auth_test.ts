/**
 * Console sign-in, sessions, setup links, CSRF, roles and tenant isolation over `app.request()`.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect, PASSWORD } from "./admin_helpers.ts";
import { createSetupLink } from "../lib/auth/admin.ts";
import { createTenant } from "../lib/store/tenants.ts";
import { getAdminByEmail } from "../lib/store/admins.ts";

Deno.test("GET /admin - redirects to sign-in without a session, keeping the page", async () => {
  await using t = await createAdminTestApp();
  const loc = expectRedirect(await t.admin("/admin/users?q=x"), 302);
  assert.equal(loc, "/admin/signin?next=%2Fadmin%2Fusers%3Fq%3Dx");
  const api = await t.admin("/admin/api/events");
  assert.equal(api.status, 401);
  assert.match((await api.json()).error, /sign in/);
  await expectHtml(await t.admin("/admin/signin"));
});

Deno.test("POST /admin/signin - signs in, sets a hardened cookie, refuses wrong passwords, throttles", async () => {
  await using t = await createAdminTestApp();
  const ok = await t.admin("/admin/signin", {
    form: { email: "ROOT@acme.test", password: PASSWORD, next: "/admin/users" },
  });
  assert.equal(expectRedirect(ok), "/admin/users");
  const cookie = ok.headers.get("set-cookie") ?? "";
  assert.match(cookie, /^weft_session=[\w-]+\.[\w-]+\.[\w-]+;/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
  assert.doesNotMatch(cookie, /Secure/); // plain http in tests; see the https test below
  const page = await t.admin("/admin", { as: { cookie: cookie.split(";")[0], csrf: "" } });
  assert.match(await expectHtml(page), /root@acme\.test/);

  // Open redirects are not followed.
  const evil = await t.admin("/admin/signin", {
    form: { email: "root@acme.test", password: PASSWORD, next: "//evil.example/admin" },
  });
  assert.equal(expectRedirect(evil), "/admin");

  const wrong = await t.admin("/admin/signin", {
    form: { email: "viewer@acme.test", password: "nope" },
  });
  assert.match(await expectHtml(wrong, 401), /email or password is not right/);
  for (let i = 0; i < 4; i++) {
    await (await t.admin("/admin/signin", { form: { email: "viewer@acme.test", password: "x" } }))
      .body?.cancel();
  }
  // Now even the right password waits.
  const throttled = await t.admin("/admin/signin", {
    form: { email: "viewer@acme.test", password: PASSWORD },
  });
  assert.match(await expectHtml(throttled, 429), /Too many failed attempts/);
  assert.ok(Number(throttled.headers.get("retry-after")) > 0);
  // Another account from the same address is not locked by the first one's failures.
  const other = await t.admin("/admin/signin", {
    form: { email: "root@acme.test", password: PASSWORD },
  });
  expectRedirect(other);
});

Deno.test("POST /admin/signin - an unknown email fails like a wrong password", async () => {
  await using t = await createAdminTestApp();
  const res = await t.admin("/admin/signin", {
    form: { email: "nobody@acme.test", password: PASSWORD },
  });
  assert.match(await expectHtml(res, 401), /email or password is not right/);
});

Deno.test("Sessions - on https the cookie is __Host- and Secure", async () => {
  await using t = await createAdminTestApp();
  const res = await t.app.request("https://acme.localhost/admin/signin", {
    method: "POST",
    headers: {
      origin: "https://acme.localhost",
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ email: "root@acme.test", password: PASSWORD }).toString(),
  });
  assert.equal(res.status, 303);
  const cookie = res.headers.get("set-cookie") ?? "";
  assert.match(cookie, /^__Host-weft_session=/);
  assert.match(cookie, /Secure/);
  assert.match(cookie, /Path=\//);
});

Deno.test("POST /admin/signout - ends the session at once; the old cookie no longer works", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  await expectHtml(await t.admin("/admin", { as: s }));
  const out = await t.admin("/admin/signout", { as: s, form: {} });
  assert.equal(expectRedirect(out), "/admin/signin?done=signed-out");
  expectRedirect(await t.admin("/admin", { as: s }), 302);
});

Deno.test("Sessions - a forged or tampered cookie is ignored", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const [h, p, sig] = s.cookie.slice("weft_session=".length).split(".");
  const tampered = `weft_session=${h}.${p}.${sig.slice(0, -2)}AA`;
  expectRedirect(await t.admin("/admin", { as: { cookie: tampered, csrf: s.csrf } }), 302);
  expectRedirect(await t.admin("/admin", { as: { cookie: "weft_session=x", csrf: "" } }), 302);
});

Deno.test("GET/POST /admin/setup/:secret - creates the admin once and signs in", async () => {
  await using t = await createAdminTestApp();
  const { url } = await createSetupLink(t.kv, t.tenant.id, t.origin, {
    role: "admin",
    createdBy: "test",
  });
  const path = new URL(url).pathname;
  assert.match(await expectHtml(await t.admin(path)), /read-only admin/);
  const short = await t.admin(path, {
    form: { email: "new@acme.test", password: "short", confirm: "short" },
  });
  assert.match(await expectHtml(short, 400), /at least 12 characters/);
  const differ = await t.admin(path, {
    form: { email: "new@acme.test", password: PASSWORD, confirm: PASSWORD + "!" },
  });
  assert.match(await expectHtml(differ, 400), /passwords differ/);
  const ok = await t.admin(path, {
    form: { email: "New@acme.test", password: PASSWORD, confirm: PASSWORD },
  });
  assert.equal(expectRedirect(ok), "/admin");
  assert.match(ok.headers.get("set-cookie") ?? "", /weft_session=/);
  const admin = await getAdminByEmail(t.kv, t.tenant.id, "new@acme.test");
  assert.equal(admin?.role, "admin");
  assert.match(admin!.passwordHash, /^pbkdf2-sha256\$600000\$/);
  // Used up.
  await expectHtml(await t.admin(path), 404);
  const again = await t.admin(path, {
    form: { email: "other@acme.test", password: PASSWORD, confirm: PASSWORD },
  });
  await expectHtml(again, 404);
  await expectHtml(await t.admin("/admin/setup/weft_setup_forged"), 404);
});

Deno.test("CSRF - state changes need this origin and the session's token", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const form = { name: "Entra", kind: "entra" };
  await expectHtml(await t.admin("/admin/idps", { as: s, form, noCsrf: true }), 403);
  await expectHtml(
    await t.admin("/admin/idps", { as: s, form, origin: "http://evil.localhost" }),
    403,
  );
  await expectHtml(await t.admin("/admin/idps", { as: s, form, origin: null }), 403);
  const bad = await t.admin("/admin/idps", {
    as: { cookie: s.cookie, csrf: "not-the-token" },
    form,
  });
  assert.match(await expectHtml(bad, 403), /security token/);
  // JSON endpoints: the header token.
  const api = await t.admin(`/admin/api/idps/${t.idp.id}/tokens`, {
    as: s,
    json: { name: "x" },
    noCsrf: true,
  });
  assert.equal(api.status, 403);
  // Sign-in without a session still needs the origin.
  const login = await t.admin("/admin/signin", {
    form: { email: "root@acme.test", password: PASSWORD },
    origin: "http://evil.localhost",
  });
  await expectHtml(login, 403);
  // The real thing works.
  const ok = await t.admin("/admin/idps", { as: s, form });
  assert.match(expectRedirect(ok), /^\/admin\/idps\/\w+\/scim\?done=idp-created$/);
});

Deno.test("Roles - a read-only admin cannot touch tokens, IdPs, settings or admins", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.readOnly);
  const tokens = await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s });
  const html = await expectHtml(tokens);
  assert.doesNotMatch(html, /Create token/);
  assert.doesNotMatch(html, /Revoke/);
  assert.match(await expectHtml(await t.admin("/admin/idps/new", { as: s }), 403), /super admin/);
  await expectHtml(
    await t.admin("/admin/idps", { as: s, form: { name: "x", kind: "okta" } }),
    403,
  );
  await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/tokens`, { as: s, form: { name: "x" } }),
    403,
  );
  await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/tokens/new`, { as: s }), 403);
  const api = await t.admin(`/admin/api/idps/${t.idp.id}/tokens`, { as: s, json: { name: "x" } });
  assert.equal(api.status, 403);
  assert.match((await api.json()).error, /super admin/);
  await expectHtml(
    await t.admin("/admin/settings/mirroring", { as: s, form: { field_0: "userName" } }),
    403,
  );
  await expectHtml(await t.admin("/admin/settings/mirroring/reapply", { as: s, form: {} }), 403);
  await expectHtml(await t.admin("/admin/admins", { as: s }), 403);
  // Reading is fine.
  const settings = await expectHtml(await t.admin("/admin/settings/mirroring", { as: s }));
  assert.match(settings, /<fieldset disabled>/);
});

Deno.test("Tenants - one tenant's console is unreachable from another tenant's host", async () => {
  await using t = await createAdminTestApp();
  const other = await createTenant(t.kv, { subdomain: "globex" });
  const otherAdmin = await t.addAdmin(
    "boss@globex.test",
    "super_admin",
    other.id,
    "http://globex.localhost",
  );
  const acme = await t.signIn(t.superAdmin);
  // acme's cookie means nothing on globex's host.
  expectRedirect(await t.admin("/admin", { as: acme, host: "globex.localhost" }), 302);
  // globex's admin cannot open acme's IdP, user or event pages on globex's host.
  const g = await t.signIn(otherAdmin);
  await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: g, host: "globex.localhost" }),
    404,
  );
  const created = await t.scim("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: "jane@acme.test",
  });
  const user = await created.json();
  await expectHtml(
    await t.admin(`/admin/users/${user.id}`, { as: g, host: "globex.localhost" }),
    404,
  );
  const list = await expectHtml(
    await t.admin("/admin/users", { as: g, host: "globex.localhost" }),
  );
  assert.doesNotMatch(list, /jane@acme\.test/);
  // And acme's admin sees it on acme's host.
  await expectHtml(await t.admin(`/admin/users/${user.id}`, { as: acme }));
  // A host that is no tenant serves no console.
  await expectHtml(await t.admin("/admin/signin", { host: "nobody.localhost" }), 404);
});

Deno.test("Admins - invite link, sign out everywhere, remove", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const viewer = await t.signIn(t.readOnly);
  const list = await expectHtml(await t.admin("/admin/admins", { as: s }));
  assert.match(list, /viewer@acme\.test/);
  const link = await t.admin("/admin/admins/links", {
    as: s,
    form: { email: "", role: "admin" },
  });
  assert.match(await expectHtml(link, 201), /\/admin\/setup\/weft_setup_/);
  // Without confirmation (no JavaScript) the server asks first.
  const ask = await t.admin(`/admin/admins/${t.readOnly.id}/revoke-sessions`, {
    as: s,
    form: {},
  });
  assert.match(await expectHtml(ask), /out everywhere\?/);
  await expectHtml(await t.admin("/admin", { as: viewer }));
  expectRedirect(
    await t.admin(`/admin/admins/${t.readOnly.id}/revoke-sessions`, {
      as: s,
      form: { confirmed: "yes" },
    }),
  );
  expectRedirect(await t.admin("/admin", { as: viewer }), 302);
  expectRedirect(
    await t.admin(`/admin/admins/${t.readOnly.id}/remove`, { as: s, form: { confirmed: "yes" } }),
  );
  assert.equal(await getAdminByEmail(t.kv, t.tenant.id, "viewer@acme.test"), null);
  await expectHtml(
    await t.admin(`/admin/admins/${t.superAdmin.id}/remove`, {
      as: s,
      form: { confirmed: "yes" },
    }),
    409,
  );
});

Deno.test("POST /admin/signin - concurrent guesses cannot all slip past the throttle", async () => {
  await using t = await createAdminTestApp();
  const results = await Promise.all(
    Array.from(
      { length: 20 },
      () =>
        t.admin("/admin/signin", { form: { email: "root@acme.test", password: "guess" } })
          .then(async (r) => {
            await r.body?.cancel();
            return r.status;
          }),
    ),
  );
  const evaluated = results.filter((s) => s === 401).length;
  assert.ok(evaluated <= 5, `${evaluated} guesses were checked`);
  assert.equal(results.filter((s) => s === 429).length, 20 - evaluated);
});
