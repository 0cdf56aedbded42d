/**
 * Every console page renders for a signed-in admin, with the CSP and no inline script; values an
 * IdP sent (a `<script>` displayName) are rendered as text; forms and the islands' JSON
 * endpoints do what they say.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "./admin_helpers.ts";
import { getMirroring } from "../lib/store/mirroring.ts";
import { flattenResource } from "../routes/admin/users.tsx";
import { csvCell } from "../routes/admin/events.tsx";
import { rulesFromForm } from "../routes/admin/mirroring.tsx";

const EVIL = "<script>alert(1)</script>";
const ESCAPED = "&lt;script>alert(1)&lt;/script>";

async function seed(t: Awaited<ReturnType<typeof createAdminTestApp>>) {
  const res = await t.scim("POST", "/Users", {
    schemas: [
      "urn:ietf:params:scim:schemas:core:2.0:User",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    userName: "mallory@acme.test",
    externalId: "00u-mallory",
    displayName: EVIL,
    name: { givenName: EVIL, familyName: "Doe" },
    emails: [{ value: "mallory@acme.test", type: "work", primary: true }],
    title: `"><img src=x onerror=alert(1)>`,
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "R&D" },
  });
  assert.equal(res.status, 201);
  const user = await res.json();
  const g = await t.scim("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: EVIL,
    members: [{ value: user.id, display: EVIL }],
  });
  assert.equal(g.status, 201);
  const group = await g.json();
  return { userId: user.id as string, groupId: group.id as string };
}

Deno.test("Pages - every page renders for a super admin, with the CSP and no inline script", async () => {
  await using t = await createAdminTestApp();
  const { userId, groupId } = await seed(t);
  const s = await t.signIn(t.superAdmin);
  const eventId = /href="\/admin\/events\/(\w{26})"/.exec(
    await (await t.admin("/admin/events", { as: s })).text(),
  )![1];
  const pages = [
    "/admin",
    "/admin/idps",
    "/admin/idps/new",
    `/admin/idps/${t.idp.id}`,
    `/admin/idps/${t.idp.id}/scim`,
    `/admin/idps/${t.idp.id}/saml`,
    `/admin/idps/${t.idp.id}/tokens/new`,
    "/admin/users",
    "/admin/users?q=mall&status=active",
    `/admin/users?idp=${t.idp.id}`,
    `/admin/users/${userId}`,
    `/admin/users/${userId}/attributes`,
    `/admin/users/${userId}/groups`,
    `/admin/users/${userId}/events`,
    "/admin/groups",
    `/admin/groups?idp=${t.idp.id}&q=%3Cscr`,
    `/admin/groups/${t.idp.id}/${groupId}`,
    "/admin/settings/mirroring",
    "/admin/settings/roles",
    "/admin/settings/mirroring?sample=mallory",
    "/admin/events",
    `/admin/events?idp=${t.idp.id}&type=scim_user_received`,
    `/admin/events/${eventId}`,
    "/admin/admins",
  ];
  for (const path of pages) {
    const res = await t.admin(path, { as: s });
    const html = await expectHtml(res).catch((e) => {
      throw new Error(`${path}: ${e.message}`);
    });
    assert.match(html, /<main id="main"/, path);
    assert.equal(res.headers.get("x-frame-options"), "DENY", path);
    assert.equal(res.headers.get("referrer-policy"), "same-origin", path);
    assert.equal(res.headers.get("cache-control"), "no-store", path);
  }
  await expectHtml(await t.admin("/admin/users/nope", { as: s }), 404);
  await expectHtml(await t.admin(`/admin/groups/${t.idp.id}/nope`, { as: s }), 404);
  await expectHtml(await t.admin("/admin/idps/nope/scim", { as: s }), 404);
  await expectHtml(await t.admin("/admin/events/nope", { as: s }), 404);
  await expectHtml(await t.admin("/admin/no/such/page", { as: s }), 404);
  // SCIM responses keep their own headers: no console CSP there.
  const scim = await t.scim("GET", "/Users");
  assert.equal(scim.headers.get("content-security-policy"), null);
  await scim.body?.cancel();
});

Deno.test("Pages - IdP-sent values are rendered as text, never as HTML", async () => {
  await using t = await createAdminTestApp();
  const { userId, groupId } = await seed(t);
  const s = await t.signIn(t.superAdmin);
  for (
    const path of [
      "/admin/users",
      `/admin/users/${userId}`,
      `/admin/users/${userId}/attributes`,
      `/admin/users/${userId}/groups`,
      "/admin/groups",
      `/admin/groups/${t.idp.id}/${groupId}`,
      "/admin/settings/mirroring",
    ]
  ) {
    const html = await expectHtml(await t.admin(path, { as: s }));
    assert.ok(!html.includes(EVIL), `${path} contains the raw script`);
    assert.ok(!html.includes("<img src=x"), `${path} contains the raw img`);
    if (path !== "/admin/settings/mirroring") {
      assert.ok(html.includes(ESCAPED), `${path} does not show the escaped name`);
    }
  }
  const attrs = await (await t.admin(`/admin/users/${userId}/attributes`, { as: s })).text();
  assert.match(attrs, /00u-mallory/);
  assert.match(attrs, /&quot;>&lt;img src=x onerror=alert\(1\)>/);
  assert.match(attrs, /mirrored → department/);
  // Island props carry IdP data only inside an escaped attribute.
  const { userId: _u } = { userId };
  const events = await (await t.admin(`/admin/events?target=${userId}`, { as: s })).text();
  assert.match(events, /data-props="\{&quot;events&quot;:/);
});

Deno.test("IdPs - create with SAML fields; invalid input is refused with the form", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const bad = await t.admin("/admin/idps", { as: s, form: { name: "", kind: "okta" } });
  assert.match(await expectHtml(bad, 400), /Check the field “name”/);
  const badKind = await t.admin("/admin/idps", { as: s, form: { name: "X", kind: "ldap" } });
  await expectHtml(badKind, 400);
  const ok = await t.admin("/admin/idps", {
    as: s,
    form: {
      name: "Entra <prod>",
      kind: "entra",
      matchBy: "",
      entityId: "https://sts.windows.net/abc/",
      ssoUrl: "https://login.microsoftonline.com/abc/saml2",
      certificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    },
  });
  const loc = expectRedirect(ok);
  const id = /\/admin\/idps\/(\w+)\/scim/.exec(loc)![1];
  const scim = await expectHtml(await t.admin(loc, { as: s }));
  assert.match(scim, /Identity provider created/);
  assert.match(scim, new RegExp(`http://acme\\.localhost/scim/v2/inbound/${id}/<`));
  assert.match(scim, /Entra &lt;prod>/);
  const saml = await expectHtml(await t.admin(`/admin/idps/${id}/saml`, { as: s }));
  assert.match(saml, /login\.microsoftonline\.com/);
  const overview = await expectHtml(await t.admin(`/admin/idps/${id}`, { as: s }));
  assert.match(overview, /<code>userName<\/code>/); // Entra's default matching rule
});

Deno.test("Tokens - form and JSON creation show the secret once; revoke asks, then 401s the IdP", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  // No-JavaScript form.
  const made = await t.admin(`/admin/idps/${t.idp.id}/tokens`, {
    as: s,
    form: { name: "okta-prod" },
  });
  const html = await expectHtml(made, 201);
  const secret = /(weft_scim_[\w-]{43})/.exec(html)![1];
  assert.match(html, /cannot be shown again/);
  const empty = await t.admin(`/admin/idps/${t.idp.id}/tokens`, { as: s, form: { name: " " } });
  await expectHtml(empty, 400);
  // The island's JSON endpoint.
  const api = await t.admin(`/admin/api/idps/${t.idp.id}/tokens`, {
    as: s,
    json: { name: "entra" },
  });
  assert.equal(api.status, 201);
  const body = await api.json();
  assert.match(body.secret, /^weft_scim_/);
  assert.equal(body.token.hash, undefined);
  assert.equal(api.headers.get("cache-control"), "no-store");
  const badJson = await t.admin(`/admin/api/idps/${t.idp.id}/tokens`, {
    as: s,
    json: { name: "" },
  });
  assert.equal(badJson.status, 400);
  // The new token works for SCIM; the list shows it without its secret.
  const use = await t.scim("GET", "/Users", undefined, { authorization: `Bearer ${secret}` });
  assert.equal(use.status, 200);
  await use.body?.cancel();
  const tab = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s }));
  assert.ok(!tab.includes(secret));
  assert.match(tab, /okta-prod/);
  const row = tab.split("<tr ").find((r) => r.includes("okta-prod"))!;
  const tokenId = /data-token-id="(\w+)"/.exec(row)![1];
  assert.match(row, /from /); // last used time and client
  // Without confirmation: the server asks.
  const ask = await t.admin(`/admin/idps/${t.idp.id}/tokens/${tokenId}/revoke`, {
    as: s,
    form: {},
  });
  assert.match(await expectHtml(ask), /Revoke token/);
  const done = await t.admin(`/admin/idps/${t.idp.id}/tokens/${tokenId}/revoke`, {
    as: s,
    form: { confirmed: "yes" },
  });
  assert.equal(expectRedirect(done), `/admin/idps/${t.idp.id}/scim?done=token-revoked`);
  const refused = await t.scim("GET", "/Users", undefined, { authorization: `Bearer ${secret}` });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const after = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s }));
  assert.match(after, /data-reason="revoked_token"/);
  assert.match(after, /The token was revoked/);
  assert.match(after, /revoked/);
});

Deno.test("Mirroring - save, refuse invalid, preview unsaved, re-apply with progress", async () => {
  await using t = await createAdminTestApp();
  const { userId } = await seed(t);
  const s = await t.signIn(t.superAdmin);
  const base = {
    field_0: "userName",
    sources_0: "userName",
    enabled_0: "on",
    field_1: "costCenter",
    sources_1: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    enabled_1: "on",
  };
  const preview = await t.admin("/admin/settings/mirroring/preview", {
    as: s,
    form: { ...base, sample: "mallory" },
  });
  const html = await expectHtml(preview);
  // A preview is neither a success nor a failure: a neutral note, not a green or red box.
  assert.match(html, /class="notice info"[^>]*><?[^<]*preview of the rules as edited/);
  assert.doesNotMatch(html, /class="notice (ok|bad)"/);
  assert.match(html, /costCenter/);
  assert.equal((await getMirroring(t.kv, t.tenant.id)).rules.length, 6); // unchanged
  const invalid = await t.admin("/admin/settings/mirroring", {
    as: s,
    form: { field_0: "department", sources_0: "title", enabled_0: "on" },
  });
  assert.match(await expectHtml(invalid, 400), /must mirror userName/);
  const badPath = await t.admin("/admin/settings/mirroring", {
    as: s,
    form: { ...base, sources_1: "emails[type eq" },
  });
  assert.match(await expectHtml(badPath, 400), /Rule “costCenter”/);
  const saved = await t.admin("/admin/settings/mirroring", { as: s, form: base });
  assert.match(expectRedirect(saved), /done=mirroring-saved/);
  const config = await getMirroring(t.kv, t.tenant.id);
  assert.deepEqual(config.rules.map((r) => r.field), ["userName", "costCenter"]);

  const start = await t.admin("/admin/settings/mirroring/reapply", { as: s, form: {} });
  assert.match(expectRedirect(start), /done=reapply-started/);
  let job;
  for (let i = 0; i < 100; i++) {
    job = await (await t.admin("/admin/api/mirroring/job", { as: s })).json();
    if (job?.state === "done") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(job.state, "done");
  assert.equal(job.processed, 1);
  assert.equal(job.changed, 1);
  const profile = await expectHtml(await t.admin(`/admin/users/${userId}`, { as: s }));
  assert.match(profile, /costCenter/);
  assert.match(profile, /R&amp;D/);
});

Deno.test("Event Log - JSON filters, bad filters refused, exports as CSV and JSON Lines", async () => {
  await using t = await createAdminTestApp();
  const { userId } = await seed(t);
  const s = await t.signIn(t.superAdmin);
  const all = await (await t.admin("/admin/api/events", { as: s })).json();
  assert.ok(all.events.length >= 3);
  const received = await (await t.admin(
    `/admin/api/events?idp=${t.idp.id}&type=scim_user_received`,
    { as: s },
  )).json();
  assert.deepEqual(received.events.map((e: { type: string }) => e.type), ["scim_user_received"]);
  const byName = await (await t.admin("/admin/api/events?target=mallory@acme.test", { as: s }))
    .json();
  assert.ok(byName.events.every((e: { target: { id: string } }) => e.target.id === userId));
  assert.ok(byName.events.length >= 1);
  const future = await (await t.admin("/admin/api/events?since=2999-01-01T00:00", { as: s }))
    .json();
  assert.equal(future.events.length, 0);
  const bad = await t.admin("/admin/api/events?since=yesterday", { as: s });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  await expectHtml(await t.admin("/admin/events?type=nope", { as: s }), 400);
  const csv = await t.admin(`/admin/events/export?format=csv&idp=${t.idp.id}`, { as: s });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
  assert.match(
    csv.headers.get("content-disposition") ?? "",
    /attachment; filename="weft-events-acme-/,
  );
  const lines = (await csv.text()).trim().split("\r\n");
  assert.match(lines[0], /^id,at,type,idpId/);
  assert.ok(lines.some((l) => l.includes('"scim_user_received"')));
  const jsonl = await t.admin("/admin/events/export?format=jsonl&type=scim_group_received", {
    as: s,
  });
  const rows = (await jsonl.text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.type), ["scim_group_received"]);
});

Deno.test("Assets - served from an allow-list with a content version", async () => {
  await using t = await createAdminTestApp();
  const page = await expectHtml(await t.admin("/admin/signin"));
  const href = /href="(\/assets\/styles\.css\?v=[^"]+)"/.exec(page)?.[1];
  assert.ok(href, "pages link the versioned stylesheet under /assets/");
  const versioned = await t.admin(href);
  assert.equal(versioned.status, 200);
  assert.match(versioned.headers.get("content-type") ?? "", /^text\/css/);
  assert.match(versioned.headers.get("cache-control") ?? "", /immutable/);
  await versioned.body?.cancel();
  // The console's own path still serves it, under the console's no-store.
  const css = await t.admin("/admin/assets/styles.css");
  assert.equal(css.status, 200);
  assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
  assert.equal(css.headers.get("cache-control"), "no-store");
  await css.body?.cancel();
  const other = await t.admin("/admin/assets/deno.json");
  assert.equal(other.status, 404);
  await other.body?.cancel();
});

Deno.test("flattenResource(), csvCell(), rulesFromForm() - console helpers", () => {
  assert.deepEqual(flattenResource({ a: { b: [1, { c: "x" }] }, d: [] }), [
    ["a.b[0]", "1"],
    ["a.b[1].c", "x"],
    ["d", "[]"],
  ]);
  assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvCell("plain"), '"plain"');
  assert.deepEqual(
    rulesFromForm({
      field_0: "a",
      sources_0: "x\r\ny\n",
      enabled_0: "on",
      field_1: "b",
      sources_1: "z",
      remove_1: "on",
    }),
    { rules: [{ field: "a", sources: ["x", "y"], enabled: true }] },
  );
});
