/**
 * The console's API pages: Settings → API keys (super admins only: list with name, prefix,
 * scopes, dates and state; create from the form or the modal's JSON endpoint, the key shown
 * once; revoke after a confirmation; CSRF on every change) and the API reference rendered from
 * the OpenAPI document with the tenant's real base URL.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "../admin_helpers.ts";
import { apiGet, expectApiError, expectJson } from "./_api.ts";
import { listApiKeys } from "../../lib/store/api_keys.ts";
import { listEvents } from "../../lib/store/events.ts";

const EVIL = "<script>alert(1)</script>";

Deno.test("Console - API keys: create (form and modal), list, revoke with confirmation", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const empty = await expectHtml(await t.admin("/admin/settings/api-keys", { as: s }));
  assert.match(empty, /No API key yet/);
  assert.match(empty, /data-island="TokenCreate"/);
  assert.match(empty, /http:\/\/acme\.localhost\/api\/v1/);
  await expectHtml(await t.admin("/admin/settings/api-keys/new", { as: s }));

  // The no-JavaScript form: the key once, on the page that created it.
  const made = await t.admin("/admin/settings/api-keys", {
    as: s,
    form: { name: EVIL, scopes: "events:read", expires_days: "30" },
  });
  const html = await expectHtml(made, 201);
  assert.equal(made.headers.get("cache-control"), "no-store");
  const secret = /(weft_api_[A-Za-z0-9_-]{43})/.exec(html)![1];
  assert.ok(!html.includes(EVIL), "the name is rendered as text");
  assert.equal(
    (await expectJson<{ data: unknown[] }>(await apiGet(t, "/events", secret), 200)).data.length,
    0,
  );
  await expectApiError(await apiGet(t, "/users", secret), 403, "insufficient_scope");

  // The modal's JSON endpoint.
  const json = await t.admin("/admin/api/api-keys", {
    as: s,
    json: { name: "hr-portal", scopes: ["directory:read", "events:read"] },
  });
  assert.equal(json.status, 201);
  const body = await json.json();
  assert.match(body.secret, /^weft_api_/);
  assert.deepEqual(body.key.scopes, ["directory:read", "events:read"]);
  assert.equal(body.key.hash, undefined);
  await expectJson(await apiGet(t, "/users", body.secret), 200);
  const badJson = await t.admin("/admin/api/api-keys", { as: s, json: { name: "x", scopes: [] } });
  assert.equal(badJson.status, 400);
  assert.match((await badJson.json()).error, /at least one scope/);

  const list = await expectHtml(await t.admin("/admin/settings/api-keys", { as: s }));
  assert.match(list, /hr-portal/);
  assert.match(list, /weft_api_\S{4}…/);
  assert.match(list, /directory:read events:read/);
  assert.ok(!list.includes(secret) && !list.includes(body.secret), "secrets are never listed");
  assert.match(list, /data-island="ConfirmForm"/);

  // Revocation: without confirmation a confirmation page, then the key stops working.
  const keyId = body.key.id as string;
  const ask = await t.admin(`/admin/settings/api-keys/${keyId}/revoke`, { as: s, form: {} });
  assert.match(await expectHtml(ask), /Revoke API key “hr-portal”\?/);
  await expectJson(await apiGet(t, "/users", body.secret), 200);
  const done = await t.admin(`/admin/settings/api-keys/${keyId}/revoke`, {
    as: s,
    form: { confirmed: "yes" },
  });
  assert.equal(expectRedirect(done), "/admin/settings/api-keys?done=apikey-revoked");
  await expectApiError(await apiGet(t, "/users", body.secret), 401, "unauthorized");
  const after = await expectHtml(await t.admin(done.headers.get("location")!, { as: s }));
  assert.match(after, /API key revoked/);
  assert.match(after, /Revoked/);
  const again = await t.admin(`/admin/settings/api-keys/${keyId}/revoke`, {
    as: s,
    form: { confirmed: "yes" },
  });
  assert.equal(again.status, 404);
  await again.body?.cancel();

  // Both creations and the revocation are in the Event Log.
  const types = (await listEvents(t.kv, t.tenant.id, { limit: 100 })).events.map((e) => e.type);
  assert.equal(types.filter((x) => x === "api_key_created").length, 2);
  assert.equal(types.filter((x) => x === "api_key_revoked").length, 1);
});

Deno.test("Console - API keys: refused input, read-only admins and missing CSRF", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const noName = await t.admin("/admin/settings/api-keys", {
    as: s,
    form: { name: " ", scopes: "events:read" },
  });
  assert.match(await expectHtml(noName, 400), /Enter a name of 1–100 characters/);
  const noScope = await t.admin("/admin/settings/api-keys", { as: s, form: { name: "x" } });
  assert.match(await expectHtml(noScope, 400), /Choose at least one scope/);
  const badScope = await t.admin("/admin/settings/api-keys", {
    as: s,
    form: { name: "x", scopes: "directory:write" },
  });
  await expectHtml(badScope, 400);
  const csrf = await t.admin("/admin/settings/api-keys", {
    as: s,
    form: { name: "x", scopes: "events:read" },
    noCsrf: true,
  });
  assert.equal(csrf.status, 403);
  await csrf.body?.cancel();
  assert.equal((await listApiKeys(t.kv, t.tenant.id)).length, 0);

  const viewer = await t.signIn(t.readOnly);
  for (
    const res of [
      await t.admin("/admin/settings/api-keys", { as: viewer }),
      await t.admin("/admin/settings/api-keys", {
        as: viewer,
        form: { name: "x", scopes: "events:read" },
      }),
      await t.admin("/admin/api/api-keys", {
        as: viewer,
        json: { name: "x", scopes: ["events:read"] },
      }),
    ]
  ) {
    assert.equal(res.status, 403);
    await res.body?.cancel();
  }
  assert.equal((await listApiKeys(t.kv, t.tenant.id)).length, 0);
  // Signed out: the sign-in page.
  const out = await t.admin("/admin/settings/api-keys");
  assert.match(expectRedirect(out, 302), /^\/admin\/signin/);
});

Deno.test("Console - the API reference: every endpoint, its parameters, fields and a real curl", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.readOnly);
  const html = await expectHtml(await t.admin("/admin/api-reference", { as: s }));
  for (
    const path of [
      "/api/v1/users",
      "/api/v1/users/{id}",
      "/api/v1/users/{id}/groups",
      "/api/v1/groups",
      "/api/v1/groups/{id}",
      "/api/v1/groups/{id}/members",
      "/api/v1/roles",
      "/api/v1/events",
    ]
  ) {
    assert.ok(html.includes(`GET ${path}`), path);
  }
  assert.ok(
    html.includes(
      `curl -H &quot;Authorization: Bearer $WEFT_API_KEY&quot; 'http://acme.localhost/api/v1/users'`,
    ),
    "a curl with the tenant's base URL",
  );
  assert.match(html, /<code>userName<\/code>/);
  assert.match(html, /<code>next_cursor<\/code>/);
  assert.match(html, /<code>directory:read<\/code>/);
  assert.match(html, /insufficient_scope/);
  assert.match(html, /href="\/api\/v1\/openapi\.json"/);
});
