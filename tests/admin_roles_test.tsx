/**
 * The console's Roles page (`/admin/settings/roles`): super admins create a role, map a group
 * picked from the tenant's groups, unmap it and delete the role, each audited; bad input is
 * refused with a clear message; a read-only admin sees the roles but cannot change them; IdP-sent
 * group names render as text.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "./admin_helpers.ts";
import { expectScim } from "./_helpers.ts";
import { getRole } from "../lib/store/roles.ts";
import { listEvents } from "../lib/store/events.ts";
import { readFeed } from "../lib/store/feed.ts";

const EVIL = "<script>alert(1)</script>";

Deno.test("Roles page - create, map, unmap, delete; refusals; read-only admins only read", async () => {
  await using t = await createAdminTestApp();
  const user = await expectScim(
    await t.scim("POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "ada@acme.test",
      externalId: "00u-ada",
    }),
    201,
  );
  const group = await expectScim(
    await t.scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: EVIL,
      members: [{ value: user.id }],
    }),
    201,
  );
  const s = await t.signIn(t.superAdmin);
  const path = "/admin/settings/roles";

  let html = await expectHtml(await t.admin(path, { as: s }));
  assert.match(html, /No role yet/);

  assert.match(
    expectRedirect(await t.admin(path, { as: s, form: { slug: "admin", name: "Admin" } })),
    /done=created/,
  );
  const bad = await t.admin(path, { as: s, form: { slug: "Not OK", name: "X" } });
  assert.match(await expectHtml(bad, 400), /slug must be 1–63 lower-case letters/);
  const dup = await t.admin(path, { as: s, form: { slug: "admin", name: "Again" } });
  assert.match(await expectHtml(dup, 409), /already exists/);

  html = await expectHtml(await t.admin(path, { as: s }));
  assert.match(html, /<code>admin<\/code>/);
  assert.match(html, new RegExp(`value="${t.idp.id}/${group.id}"`));
  assert.ok(!html.includes(EVIL), "group names are escaped");

  const map = await t.admin(`${path}/admin/map`, {
    as: s,
    form: { choice: `${t.idp.id}/${group.id}` },
  });
  assert.match(expectRedirect(map), /done=mapped/);
  assert.deepEqual((await getRole(t.kv, t.tenant.id, "admin"))!.groups, [
    { idpId: t.idp.id, groupId: String(group.id) },
  ]);
  const assigned = await readFeed(t.kv, t.tenant.id, { types: ["role.assigned"], limit: 10 });
  assert.equal(assigned.events.length, 1);
  const noGroup = await t.admin(`${path}/admin/map`, {
    as: s,
    form: { choice: `${t.idp.id}/nope` },
  });
  assert.match(await expectHtml(noGroup, 400), /No group &quot;nope&quot;/);

  // A read-only admin sees the mapping but no form, and cannot post.
  const ro = await t.signIn(t.readOnly);
  html = await expectHtml(await t.admin(path, { as: ro }));
  assert.match(html, /<code>admin<\/code>/);
  assert.doesNotMatch(html, /Create a role/);
  const refused = await t.admin(path, { as: ro, form: { slug: "x", name: "X" } });
  assert.match(await expectHtml(refused, 403), /Only a super admin can create roles/);

  const unmap = await t.admin(`${path}/admin/unmap`, {
    as: s,
    form: { idp: t.idp.id, group: String(group.id) },
  });
  assert.match(expectRedirect(unmap), /done=unmapped/);
  const ask = await t.admin(`${path}/admin/delete`, { as: s, form: {} });
  assert.match(await expectHtml(ask), /Every member loses the role/);
  const del = await t.admin(`${path}/admin/delete`, { as: s, form: { confirmed: "yes" } });
  assert.match(expectRedirect(del), /done=deleted/);
  assert.equal(await getRole(t.kv, t.tenant.id, "admin"), null);

  const audit = await listEvents(t.kv, t.tenant.id, {});
  const types = audit.events.map((e) => e.type);
  for (const type of ["role_created", "role_mapped", "role_unmapped", "role_deleted"]) {
    assert.ok(types.includes(type as never), type);
  }
  const unassigned = await readFeed(t.kv, t.tenant.id, { types: ["role.unassigned"], limit: 10 });
  assert.equal(unassigned.events.length, 1);
});
