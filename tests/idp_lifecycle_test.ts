/**
 * An IdP connection's whole life through the console: edited (name, kind; the matching rule only
 * while no user is linked), SCIM turned off (every request a recorded 401 `scim_disabled`) and on
 * again, and deleted — a confirmation naming what happens, a background job that deprovisions its
 * users, deletes its groups, tokens and records, resumes after its process stops, and leaves the
 * canonical users and the history.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "./admin_helpers.ts";
import { createGroup, createUsers, expectScim, expectScimError, patchGroup } from "./_helpers.ts";
import { listEvents } from "../lib/store/events.ts";
import { keys } from "../lib/store/keys.ts";
import { startIdpDeletion } from "../lib/store/idp_deletion.ts";
import { getUser } from "../lib/store/users.ts";

Deno.test("IdP - edit name and kind; the matching rule changes only while no user is linked", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const edit = (form: Record<string, string>) =>
    t.admin(`/admin/idps/${t.idp.id}/edit`, { as: s, form });
  await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/edit`, { as: s }));
  assert.equal(
    expectRedirect(await edit({ name: "Okta prod", kind: "okta", matchBy: "userName" })),
    `/admin/idps/${t.idp.id}?done=idp-updated`,
  );
  const page = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}`, { as: s }));
  assert.match(page, /Okta prod/);
  assert.match(page, /<code>userName<\/code>/);
  // With users linked, the rule stays and the form says why; the name still changes.
  await edit({ name: "Okta prod", kind: "okta", matchBy: "externalId" });
  await createUsers(t, 1);
  const refused = await edit({ name: "Okta", kind: "okta", matchBy: "userName" });
  assert.match(
    await expectHtml(refused, 409),
    /Cannot change the matching rule: 1 users are linked/,
  );
  expectRedirect(await edit({ name: "Okta renamed", kind: "entra" }));
  const events = (await listEvents(t.kv, t.tenant.id, { type: "idp_updated" })).events;
  assert.equal(events.length, 3);
  assert.deepEqual(events[0].changed, ["name", "kind"]);
  // Kind is what the SCIM edge follows: an Entra-kind connection answers user PATCH with 204.
  const [id] = await createUsers(t, 1);
  const res = await t.scim("PATCH", `/Users/${id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", path: "title", value: "x" }],
  });
  assert.equal(res.status, 204);
  // A read-only admin cannot edit.
  const viewer = await t.signIn(t.readOnly);
  await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/edit`, {
      as: viewer,
      form: { name: "x", kind: "okta" },
    }),
    403,
  );
});

Deno.test("IdP - SCIM off answers 401 scim_disabled at once and records it; on serves again", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  await expectScim(await t.scim("GET", "/Users"), 200);
  const off = await t.admin(`/admin/idps/${t.idp.id}/scim-provisioning`, {
    as: s,
    form: { enabled: "off" },
  });
  assert.equal(expectRedirect(off), `/admin/idps/${t.idp.id}/scim?done=scim-off`);
  const refused = await expectScimError(await t.scim("GET", "/Users"), 401);
  assert.match(String(refused.detail), /scim_disabled/);
  const tab = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s }));
  assert.match(tab, /SCIM provisioning is off/);
  assert.match(tab, /scim_disabled/);
  assert.equal(
    (await listEvents(t.kv, t.tenant.id, { type: "idp_scim_disabled" })).events.length,
    1,
  );
  expectRedirect(
    await t.admin(`/admin/idps/${t.idp.id}/scim-provisioning`, { as: s, form: { enabled: "on" } }),
  );
  await expectScim(await t.scim("GET", "/Users"), 200);
  assert.equal(
    (await listEvents(t.kv, t.tenant.id, { type: "idp_scim_enabled" })).events.length,
    1,
  );
});

async function runUntilDone(
  t: Awaited<ReturnType<typeof createAdminTestApp>>,
  s: { cookie: string; csrf: string },
) {
  for (let i = 0; i < 200; i++) {
    const res = await t.admin(`/admin/api/idps/${t.idp.id}/deletion`, { as: s });
    const job = await res.json();
    if (job.phase === "done") return job;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the deletion did not finish");
}

Deno.test("IdP - deletion: confirmed by name, deprovisions users, deletes groups and tokens, keeps history", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const users = await createUsers(t, 7);
  const g = await createGroup(t, "Everyone");
  await expectScim(
    await patchGroup(t, g, [{
      op: "add",
      path: "members",
      value: users.map((value) => ({ value })),
    }]),
    204,
  );
  const other = await t.addIdp("Stays");
  const confirm = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/delete`, { as: s }));
  assert.match(confirm, /<strong>7<\/strong>\s*users/);
  assert.match(confirm, /<strong>1<\/strong> group/);
  assert.match(confirm, /<strong>1<\/strong>\s*token/);
  // The name must be typed.
  await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/delete`, { as: s, form: { confirm: "nope" } }),
    400,
  );
  await expectScim(await t.scim("GET", "/Users"), 200);
  const started = await t.admin(`/admin/idps/${t.idp.id}/delete`, {
    as: s,
    form: { confirm: t.idp.name },
  });
  assert.equal(expectRedirect(started), `/admin/idps/${t.idp.id}/deletion`);
  // From now on its SCIM requests are refused and its pages show only the deletion.
  await expectScimError(await t.scim("GET", "/Users"), 401);
  await expectHtml(await t.admin(`/admin/idps/${t.idp.id}`, { as: s }), 409);
  const job = await runUntilDone(t, s);
  assert.deepEqual([job.users.done, job.groups.done, job.tokens], [7, 1, 1]);
  // Gone: the connection, its users' links, groups, tokens and owned records.
  const gone = [];
  for await (const e of t.kv.list({ prefix: keys.tenantData(t.tenant.id) })) {
    if (e.key.includes(t.idp.id) && !String(e.key[2]).startsWith("events")) gone.push(e.key);
  }
  assert.deepEqual(gone, [keys.idpDeletion(t.tenant.id, t.idp.id)]);
  assert.equal((await t.kv.get(keys.idp(t.tenant.id, t.idp.id))).value, null);
  // The canonical users stay, deactivated; the history stays.
  for (const id of users) {
    assert.equal((await getUser(t.kv, t.tenant.id, id))?.status, "deactivated");
  }
  const deleted = (await listEvents(t.kv, t.tenant.id, { type: "idp_deleted" })).events;
  assert.equal(deleted.length, 1);
  assert.equal(
    (await listEvents(t.kv, t.tenant.id, { idpId: t.idp.id, type: "scim_user_deleted" })).events
      .length,
    7,
  );
  const progress = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/deletion`, { as: s }));
  assert.match(progress, /Deleted/);
  // The other connection is untouched.
  await expectScim(
    await t.scim("GET", `${other.base}/Users`, undefined, {
      authorization: `Bearer ${other.token}`,
    }),
    200,
  );
});

Deno.test("IdP - a deletion whose process stopped resumes from the next status read", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  await createUsers(t, 3);
  // Started, but the process that would run it stopped at once: a stale heartbeat.
  const job = await startIdpDeletion(t.kv, t.tenant.id, t.idp.id, "admin:root@acme.test");
  const entry = await t.kv.get(keys.idpDeletion(t.tenant.id, t.idp.id));
  await t.kv.set(entry.key, { ...job, heartbeat: new Date(Date.now() - 60_000).toISOString() });
  // Listing the connections claims it and runs it.
  await expectHtml(await t.admin("/admin/idps", { as: s }));
  const done = await runUntilDone(t, s);
  assert.equal(done.users.done, 3);
  assert.equal(done.id, job.id);
});
