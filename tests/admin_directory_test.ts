/**
 * The console's read models: user search and paging, group listing, dashboard figures and the
 * hourly activity, on data pushed through SCIM.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, randomUser } from "./_helpers.ts";
import { idpActivity, idpStats } from "../lib/store/idp_stats.ts";
import { listDirectoryGroups } from "../lib/store/group_list.ts";
import { listDirectoryUsers } from "../lib/store/user_list.ts";

Deno.test("listDirectoryUsers() - prefix search on userName and email, status filter, paging", async () => {
  await using t = await createTestApp();
  for (let i = 0; i < 7; i++) {
    const res = await t.scim(
      "POST",
      "/Users",
      randomUser({
        userName: `p${i}.person@acme.test`,
        emails: [{ value: `mail${i}@elsewhere.test`, type: "work" }],
        active: i % 2 === 0,
      }),
    );
    assert.equal(res.status, 201);
    await res.body?.cancel();
  }
  const byName = await listDirectoryUsers(t.kv, t.tenant.id, { q: "P1.", limit: 10 });
  assert.deepEqual(byName.users.map((u) => u.userName), ["p1.person@acme.test"]);
  const byEmail = await listDirectoryUsers(t.kv, t.tenant.id, { q: "mail2@" });
  assert.deepEqual(byEmail.users.map((u) => u.userName), ["p2.person@acme.test"]);
  const inactive = await listDirectoryUsers(t.kv, t.tenant.id, { status: "deactivated" });
  assert.equal(inactive.users.length, 3);
  // Paging by cursor visits every user once.
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listDirectoryUsers(t.kv, t.tenant.id, {
      idpId: t.idp.id,
      limit: 3,
      cursor,
    });
    seen.push(...page.users.map((u) => u.id));
    cursor = page.cursor;
  } while (cursor);
  assert.equal(new Set(seen).size, 7);
  const searchPages = await listDirectoryUsers(t.kv, t.tenant.id, { q: "p", limit: 4 });
  assert.equal(searchPages.users.length, 4);
  const rest = await listDirectoryUsers(t.kv, t.tenant.id, {
    q: "p",
    limit: 4,
    cursor: searchPages.cursor,
  });
  assert.equal(rest.users.length, 3);
  assert.equal(rest.cursor, undefined);
});

Deno.test("listDirectoryGroups(), idpStats(), idpActivity() - counts from counters and index keys", async () => {
  await using t = await createTestApp();
  const u = await (await t.scim("POST", "/Users", randomUser())).json();
  for (const name of ["Sales", "Support", "Engineering"]) {
    const res = await t.scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: name,
      members: [{ value: u.id }],
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
  }
  const s = await listDirectoryGroups(t.kv, t.tenant.id, { q: "s" });
  assert.deepEqual(s.groups.map((g) => g.group.displayName).sort(), ["Sales", "Support"]);
  assert.ok(s.groups.every((g) => g.members === 1));
  const paged = await listDirectoryGroups(t.kv, t.tenant.id, { limit: 2 });
  assert.equal(paged.groups.length, 2);
  const next = await listDirectoryGroups(t.kv, t.tenant.id, { limit: 2, cursor: paged.cursor });
  assert.equal(next.groups.length, 1);

  const bad = await t.scim("GET", "/Users", undefined, { authorization: "Bearer Bearer x" });
  assert.equal(bad.status, 401);
  await bad.body?.cancel();
  const stats = await idpStats(t.kv, t.tenant.id, t.idp.id);
  assert.equal(stats.users, 1);
  assert.equal(stats.groups, 3);
  assert.equal(stats.failures24h, 1);
  assert.match(stats.lastPush!.type, /^scim_group_/);

  const activity = await idpActivity(t.kv, t.tenant.id, t.idp.id);
  assert.equal(activity.counts.length, 168);
  const total = activity.counts.reduce((a, b) => a + b, 0);
  assert.ok(total >= 5, `counted ${total}`); // token, user, 3 groups (+ the failure)
  assert.ok(activity.counts.at(-1)! >= 5);
  const capped = await idpActivity(t.kv, t.tenant.id, t.idp.id, { cap: 2 });
  assert.equal(capped.capped, true);
});
