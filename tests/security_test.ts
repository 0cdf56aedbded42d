/**
 * Security defects found by probing the console and the SCIM edge, each reproduced through HTTP:
 * bad cursors, oversized multi-valued attributes, caching of console answers, setup links that
 * outlive their use, guessable passwords, names that spoof other names, and Hosts that are not
 * hosts.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect, PASSWORD } from "./admin_helpers.ts";
import { expectScim } from "./_helpers.ts";
import { createSetupLink } from "../lib/auth/admin.ts";
import { listSetupLinks } from "../lib/store/admins.ts";
import { cli, join, withTempDir } from "./reliability/_server.ts";
import { createTenant } from "../lib/store/tenants.ts";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

Deno.test("Console - a cursor that cannot be read is a 400 on every paged page and JSON call", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  await expectScim(
    await t.scim("POST", "/Users", { schemas: [USER], userName: "a@acme.test", externalId: "a" }),
    201,
  );
  const group = await expectScim(
    await t.scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: "G",
    }),
    201,
  );
  for (const cursor of ["abc", "!!!", "zzzzzzzzzz", "%25", "99:abc"]) {
    const q = `cursor=${encodeURIComponent(cursor)}`;
    for (
      const path of [
        `/admin/users?${q}`,
        `/admin/users?q=a&${q}`,
        `/admin/users?idp=${t.idp.id}&${q}`,
        `/admin/events?${q}`,
        `/admin/groups?${q}`,
        `/admin/groups/${t.idp.id}/${group.id}?${q}`,
      ]
    ) {
      const res = await t.admin(path, { as: s });
      assert.equal(res.status, 400, path);
      const html = await expectHtml(res, 400);
      assert.match(html, /page cursor is not valid/, path);
    }
    // A search's cursor is an offset: anything else is refused too.
    await expectHtml(await t.admin(`/admin/users?q=a&cursor=o12x`, { as: s }), 400);
    const api = await t.admin(`/admin/api/events?${q}`, { as: s });
    assert.equal(api.status, 400);
    assert.match((await api.json()).error, /cursor/);
  }
});

Deno.test("SCIM - a multi-valued attribute over its cap is a 400 tooMany naming it, never a 503", async () => {
  await using t = await createAdminTestApp();
  const emails = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ value: `e${i}@acme.test`, type: "work" }));
  const many = await expectScim(
    await t.scim("POST", "/Users", {
      schemas: [USER],
      userName: "m@acme.test",
      emails: emails(1000),
    }),
    400,
  );
  assert.equal(many.scimType, "tooMany");
  assert.match(String(many.detail), /"emails" has 1000 values: at most 100/);
  const phones = await expectScim(
    await t.scim("POST", "/Users", {
      schemas: [USER],
      userName: "p@acme.test",
      phoneNumbers: Array.from({ length: 101 }, (_, i) => ({ value: `+1555000${i}` })),
    }),
    400,
  );
  assert.match(String(phones.detail), /"phoneNumbers" has 101 values/);
  // At the cap a user is stored; a PATCH that would pass it is refused and changes nothing.
  const user = await expectScim(
    await t.scim("POST", "/Users", {
      schemas: [USER],
      userName: "c@acme.test",
      externalId: "c",
      emails: emails(100),
    }),
    201,
  );
  const patch = await expectScim(
    await t.scim("PATCH", `/Users/${user.id}`, {
      schemas: [PATCH],
      Operations: [{ op: "add", path: "emails", value: [{ value: "z@acme.test" }] }],
    }),
    400,
  );
  assert.equal(patch.scimType, "tooMany");
  const after = await expectScim(await t.scim("GET", `/Users/${user.id}`), 200);
  assert.equal((after.emails as unknown[]).length, 100);
});

Deno.test("Console - every /admin answer says Cache-Control: no-store, JSON and errors included", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  for (
    const [path, as] of [
      ["/admin/api/events", s],
      ["/admin/api/mirroring/job", s],
      ["/admin/api/events", undefined],
      ["/admin", s],
      ["/admin", undefined],
      ["/admin/signin", undefined],
      ["/admin/no-such-page", s],
      ["/admin/users?cursor=abc", s],
      ["/admin/assets/styles.css", undefined],
    ] as const
  ) {
    const res = await t.admin(path, { as });
    await res.body?.cancel();
    assert.equal(res.headers.get("cache-control"), "no-store", `${path} (${res.status})`);
  }
  // A body over the console's limit is refused before the console runs: no-store too.
  const big = await t.admin("/admin/signin", {
    form: { email: "x".repeat(9000), password: "x" },
  });
  assert.equal(big.status, 413);
  assert.equal(big.headers.get("cache-control"), "no-store");
  await big.body?.cancel();
});

Deno.test("Setup links - pending ones are listed and revocable; first-run links end once a super admin exists", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  // An invite: listed on the Admins page with its id, never its secret.
  const invite = await t.admin("/admin/admins/links", {
    as: s,
    form: { role: "admin", email: "" },
  });
  const url = /(http:\/\/\S+\/admin\/setup\/[\w-]+)/.exec(await expectHtml(invite, 201))![1];
  const [link] = await listSetupLinks(t.kv, t.tenant.id);
  assert.ok(link && !link.firstRun);
  const page = await expectHtml(await t.admin("/admin/admins", { as: s }));
  assert.ok(page.includes(link.id));
  assert.ok(!page.includes(url.slice(url.lastIndexOf("/") + 1)), "no secret on the page");
  // Revoked from the console: the link stops working at once.
  const path = new URL(url).pathname;
  await expectHtml(await t.admin(path));
  const confirm = await t.admin(`/admin/admins/links/${link.id}/revoke`, { as: s, form: {} });
  assert.match(await expectHtml(confirm), /Revoke this setup link/);
  const revoked = await t.admin(`/admin/admins/links/${link.id}/revoke`, {
    as: s,
    form: { confirmed: "yes" },
  });
  assert.equal(expectRedirect(revoked), "/admin/admins?done=link-revoked");
  await expectHtml(await t.admin(path), 404);
  await expectHtml(
    await t.admin(`/admin/admins/links/${link.id}/revoke`, { as: s, form: { confirmed: "yes" } }),
    404,
  );
  // A read-only admin can neither list nor revoke them.
  const viewer = await t.signIn(t.readOnly);
  await expectHtml(await t.admin("/admin/admins", { as: viewer }), 403);

  // A new tenant: two first-run links (the first start's and the CLI's); using one ends both.
  const other = await createTenant(t.kv, { subdomain: "fresh" });
  const first = await createSetupLink(t.kv, other.id, "http://fresh.localhost", {
    role: "super_admin",
    createdBy: "first-run",
  });
  const second = await createSetupLink(t.kv, other.id, "http://fresh.localhost", {
    role: "super_admin",
    createdBy: "cli",
  });
  assert.ok(first.link.firstRun && second.link.firstRun);
  const host = "fresh.localhost";
  const made = await t.admin(new URL(first.url).pathname, {
    host,
    form: { email: "owner@fresh.test", password: PASSWORD, confirm: PASSWORD },
  });
  assert.equal(expectRedirect(made), "/admin");
  await expectHtml(await t.admin(new URL(second.url).pathname, { host }), 404);
  assert.deepEqual(await listSetupLinks(t.kv, other.id), []);
  // Once a super admin exists, a new super-admin link is an ordinary invite.
  const later = await createSetupLink(t.kv, other.id, "http://fresh.localhost", {
    role: "super_admin",
    createdBy: "cli",
  });
  assert.equal(later.link.firstRun, undefined);
});

Deno.test("Setup links - the CLI lists and revokes them", async () => {
  await withTempDir(async (dir) => {
    const kvPath = join(dir, "weft.kv");
    await cli(kvPath, "tenant", "create", "cli-links");
    const made = await cli(kvPath, "admin", "setup-link", "--tenant", "cli-links");
    assert.match(made, /\/admin\/setup\/weft_setup_/);
    const listed = await cli(kvPath, "admin", "links", "--tenant", "cli-links");
    const [id, role, email, kind] = listed.trim().split("\t");
    assert.match(id, /^[0-9a-f]{12}$/);
    assert.deepEqual([role, email, kind], ["super_admin", "any email", "first run"]);
    assert.doesNotMatch(listed, /weft_setup_/);
    assert.match(
      await cli(kvPath, "admin", "revoke-link", "--tenant", "cli-links", "--link", id),
      /Revoked/,
    );
    assert.equal((await cli(kvPath, "admin", "links", "--tenant", "cli-links")).trim(), "");
  });
});

Deno.test("Passwords - common ones and trivial patterns are refused with the reason", async () => {
  await using t = await createAdminTestApp();
  for (
    const [password, why] of [
      ["password1234", /commonly used password/],
      ["aaaaaaaaaaaaaaaa", /Repeated characters/],
      ["qwertyuiop123", /commonly used password|keyboard/i],
      ["123456789012", /commonly used password/],
      ["new@acme.test!!", /personal|easy to guess/],
      ["short1!", /at least 12 characters/],
    ] as const
  ) {
    const { url } = await createSetupLink(t.kv, t.tenant.id, t.origin, {
      role: "admin",
      createdBy: "test",
    });
    const res = await t.admin(new URL(url).pathname, {
      form: { email: "new@acme.test", password, confirm: password },
    });
    const html = await expectHtml(res, 400);
    assert.match(html, why, password);
    // The link still works: nothing was created.
    await expectHtml(await t.admin(new URL(url).pathname));
  }
  const { url } = await createSetupLink(t.kv, t.tenant.id, t.origin, {
    role: "admin",
    createdBy: "test",
  });
  const strong = "marble otter lantern seventeen";
  const ok = await t.admin(new URL(url).pathname, {
    form: { email: "new@acme.test", password: strong, confirm: strong },
  });
  assert.equal(expectRedirect(ok), "/admin");
});

Deno.test("Console - invisible and bidirectional characters in IdP-sent names are shown, isolated, never hidden", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const user = await expectScim(
    await t.scim("POST", "/Users", {
      schemas: [USER],
      userName: "spoof@acme.test",
      externalId: "spoof",
      displayName: "adm\u200Bin",
      name: { givenName: "\u202Etxt.exe", familyName: "Smith" },
      emails: [{ value: "spoof@acme.test", type: "work" }],
    }),
    201,
  );
  // Stored and served as sent.
  const got = await expectScim(await t.scim("GET", `/Users/${user.id}`), 200);
  assert.equal(got.displayName, "adm\u200Bin");
  for (
    const path of [
      "/admin/users",
      `/admin/users/${user.id}`,
      `/admin/users/${user.id}/attributes`,
    ]
  ) {
    const html = await expectHtml(await t.admin(path, { as: s }));
    assert.ok(html.includes("⟨U+200B⟩"), `${path} shows the zero-width space`);
    assert.ok(!html.includes("\u200B"), `${path} does not hide it`);
    assert.match(html, /<bdi class="idp-text">/);
    if (path !== "/admin/users") {
      assert.ok(html.includes("⟨U+202E⟩"), `${path} shows the override`);
      assert.ok(!html.includes("\u202E"), `${path} does not let it reorder the page`);
    }
  }
  // The page title, where no markup can go, shows the markers as text.
  const profile = await expectHtml(await t.admin(`/admin/users/${user.id}`, { as: s }));
  const title = /<title>([^<]*)<\/title>/.exec(profile)![1];
  assert.doesNotMatch(title, /[\u200B\u202E]/);
});

Deno.test("Requests - a Host that is not a host name is refused in each surface's format", async () => {
  await using t = await createAdminTestApp();
  for (const host of ["a b", 'x"><script>', "x/y", "x".repeat(300), "x:99999999", "[zz::1]"]) {
    const scim = await t.app.request(`http://acme.localhost/scim/v2/inbound/${t.idp.id}/Users`, {
      headers: { host, authorization: `Bearer ${t.token}` },
    });
    assert.equal(scim.status, 400, host);
    assert.match(scim.headers.get("content-type") ?? "", /scim\+json/);
    await scim.body?.cancel();
    const page = await t.app.request("http://acme.localhost/admin", { headers: { host } });
    assert.equal(page.status, 400, host);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    await page.body?.cancel();
  }
  // Ordinary hosts still work.
  for (const host of ["acme.localhost", "acme.localhost:8000", "127.0.0.1:8000", "[::1]:8000"]) {
    const res = await t.app.request("http://acme.localhost/healthz", { headers: { host } });
    assert.equal(res.status, 200, host);
    await res.body?.cancel();
  }
});
