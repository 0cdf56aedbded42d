import assert from "node:assert/strict";
import {
  createGroup,
  createTestApp,
  createUsers,
  expectScim,
  expectScimError,
  groupMemberIds,
  patchGroup,
  randomUser,
} from "./_helpers.ts";
import { listEvents } from "../lib/store/events.ts";
import { countMembers } from "../lib/store/memberships.ts";

Deno.test("POST /Groups - creates; a duplicate displayName (any case) is 409", async () => {
  await using t = await createTestApp();
  const res = await t.scim("POST", "/Groups", { displayName: "Engineering", members: [] });
  const body = await expectScim(res, 201);
  assert.equal(res.headers.get("location"), `${t.base}/Groups/${body.id}`);
  assert.deepEqual(body.members, []);
  await expectScimError(
    await t.scim("POST", "/Groups", { displayName: "ENGINEERING" }),
    409,
    "uniqueness",
  );
});

Deno.test("PATCH /Groups - add is idempotent (JumpCloud repeats adds)", async () => {
  await using t = await createTestApp();
  const [u1, u2] = await createUsers(t, 2);
  const g = await createGroup(t);
  const add = [{ op: "add", path: "members", value: [{ value: u1 }, { value: u2 }] }];
  await expectScim(await patchGroup(t, g, add), 204);
  await expectScim(await patchGroup(t, g, add), 204);
  assert.deepEqual(await groupMemberIds(t, g), [u1, u2].sort());
  assert.equal(await countMembers(t.kv, t.tenant.id, g), 2);
});

Deno.test("PATCH /Groups - Okta mixed remove-by-filter and add in one request", async () => {
  await using t = await createTestApp();
  const [u1, u2, u3] = await createUsers(t, 3);
  const g = await createGroup(t);
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: u1 }, { value: u2 }] }]),
    204,
  );
  await expectScim(
    await patchGroup(t, g, [
      { op: "remove", path: `members[value eq "${u1}"]` },
      { op: "add", path: "members", value: [{ value: u3, display: "u3@example.com" }] },
    ]),
    204,
  );
  assert.deepEqual(await groupMemberIds(t, g), [u2, u3].sort());
  const body = await expectScim(await t.scim("GET", `/Groups/${g}`), 200);
  const m3 = (body.members as { value: string; display?: string }[]).find((m) => m.value === u3);
  assert.equal(m3?.display, "u3@example.com");
});

Deno.test("PATCH /Groups - Entra remove with a value array removes only those members", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 4);
  const g = await createGroup(t);
  await expectScim(
    await patchGroup(t, g, [{
      op: "Add",
      path: "members",
      value: ids.map((value) => ({ $ref: null, value })),
    }]),
    204,
  );
  await expectScim(
    await patchGroup(t, g, [{
      op: "Remove",
      path: "members",
      value: [{ $ref: null, value: ids[0] }],
    }]),
    204,
  );
  assert.deepEqual(await groupMemberIds(t, g), ids.slice(1).sort());
});

Deno.test("PATCH /Groups - replace sets the exact list; [] empties; remove without value empties", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 4);
  const g = await createGroup(t);
  await expectScim(
    await patchGroup(t, g, [{
      op: "add",
      path: "members",
      value: ids.slice(0, 3).map((value) => ({ value })),
    }]),
    204,
  );
  await expectScim(
    await patchGroup(t, g, [{
      op: "replace",
      path: "members",
      value: [{ value: ids[2] }, { value: ids[3] }],
    }]),
    204,
  );
  assert.deepEqual(await groupMemberIds(t, g), [ids[2], ids[3]].sort());
  await expectScim(await patchGroup(t, g, [{ op: "replace", path: "members", value: [] }]), 204);
  assert.deepEqual(await groupMemberIds(t, g), []);
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: ids[0] }] }]),
    204,
  );
  await expectScim(await patchGroup(t, g, [{ op: "remove", path: "members" }]), 204);
  assert.deepEqual(await groupMemberIds(t, g), []);
  assert.equal(await countMembers(t.kv, t.tenant.id, g), 0);
});

Deno.test("PATCH /Groups - Okta pathless rename with its id, repeated, is idempotent", async () => {
  await using t = await createTestApp();
  const g = await createGroup(t, "Old name");
  const rename = [{ op: "replace", value: { id: g, displayName: "New name" } }];
  await expectScim(await patchGroup(t, g, rename), 204);
  await expectScim(await patchGroup(t, g, rename), 204);
  const body = await expectScim(await t.scim("GET", `/Groups/${g}`), 200);
  assert.equal(body.displayName, "New name");
  assert.equal(body.id, g);
  const found = await expectScim(
    await t.scim("GET", `/Groups?filter=displayName eq "new NAME"`),
    200,
  );
  assert.equal(found.totalResults, 1);
  const updates =
    (await listEvents(t.kv, t.tenant.id, { targetId: g, type: "scim_group_updated" })).events;
  assert.equal(updates.length, 1, "the repeated rename changes nothing and records nothing");
});

Deno.test("PATCH /Groups - an unknown member is 400 and nothing changes", async () => {
  await using t = await createTestApp();
  const [u1] = await createUsers(t, 1);
  const g = await createGroup(t);
  const err = await expectScimError(
    await patchGroup(t, g, [{
      op: "add",
      path: "members",
      value: [{ value: u1 }, { value: "nobody" }],
    }]),
    400,
    "invalidValue",
  );
  assert.match(String(err.detail), /"nobody"/);
  assert.deepEqual(await groupMemberIds(t, g), []);
});

Deno.test("PATCH /Groups - a member may be referenced by its externalId on this IdP", async () => {
  await using t = await createTestApp();
  const user = randomUser({ externalId: "00uEXTREF" });
  const created = await expectScim(await t.scim("POST", "/Users", user), 201);
  const g = await createGroup(t);
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: "00uEXTREF" }] }]),
    204,
  );
  assert.deepEqual(await groupMemberIds(t, g), [String(created.id)]);
  await expectScim(
    await patchGroup(t, g, [{ op: "remove", path: 'members[value eq "00uEXTREF"]' }]),
    204,
  );
  assert.deepEqual(await groupMemberIds(t, g), []);
});

Deno.test("GET /Groups - excludedAttributes=members omits members; Entra's membership filter works", async () => {
  await using t = await createTestApp();
  const [u1, u2] = await createUsers(t, 2);
  const g = await createGroup(t, "EDU All staff");
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: u1 }] }]),
    204,
  );
  const one = await expectScim(await t.scim("GET", `/Groups/${g}?excludedAttributes=members`), 200);
  assert.equal("members" in one, false);
  const list = await expectScim(
    await t.scim("GET", `/Groups?excludedAttributes=members&filter=displayName eq "EDU All staff"`),
    200,
  );
  assert.equal(list.totalResults, 1);
  assert.equal("members" in (list.Resources as Record<string, unknown>[])[0], false);
  const hit = await expectScim(
    await t.scim(
      "GET",
      `/Groups?filter=id eq "${g}" and members[value eq "${u1}"]&excludedAttributes=members`,
    ),
    200,
  );
  assert.equal(hit.totalResults, 1);
  const miss = await expectScim(
    await t.scim(
      "GET",
      `/Groups?filter=id eq "${g}" and members[value eq "${u2}"]&excludedAttributes=members`,
    ),
    200,
  );
  assert.equal(miss.totalResults, 0);
});

Deno.test("Groups - a user's groups show on the user; deleting the user leaves its groups", async () => {
  await using t = await createTestApp();
  const [u1, u2] = await createUsers(t, 2);
  const g = await createGroup(t, "Admins");
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: u1 }, { value: u2 }] }]),
    204,
  );
  // `groups` are returned when asked for, as the User schema declares (returned: "request").
  const plain = await expectScim(await t.scim("GET", `/Users/${u1}`), 200);
  assert.equal("groups" in plain, false);
  const user = await expectScim(await t.scim("GET", `/Users/${u1}?attributes=groups`), 200);
  assert.deepEqual(
    (user.groups as { value: string; display: string }[]).map((x) => [x.value, x.display]),
    [[g, "Admins"]],
  );
  await expectScim(await t.scim("DELETE", `/Users/${u1}`), 204);
  assert.deepEqual(await groupMemberIds(t, g), [u2]);
  assert.equal(await countMembers(t.kv, t.tenant.id, g), 1);
});

Deno.test("PATCH /Groups - a 250-member change is applied whole, with one event and exact counts", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 250);
  const g = await createGroup(t);
  await expectScim(
    await patchGroup(t, g, [{
      op: "add",
      path: "members",
      value: ids.map((value) => ({ value })),
    }]),
    204,
  );
  assert.deepEqual(await groupMemberIds(t, g), [...ids].sort());
  assert.equal(await countMembers(t.kv, t.tenant.id, g), 250);
  const events =
    (await listEvents(t.kv, t.tenant.id, { targetId: g, type: "scim_group_updated" })).events;
  assert.equal(events.length, 1);
  assert.deepEqual(events[0].counts, { membersAdded: 250, membersRemoved: 0 });
  await expectScim(
    await patchGroup(t, g, [{
      op: "replace",
      path: "members",
      value: ids.slice(0, 10).map((value) => ({ value })),
    }]),
    204,
  );
  assert.deepEqual(await groupMemberIds(t, g), ids.slice(0, 10).sort());
  assert.equal(await countMembers(t.kv, t.tenant.id, g), 10);
});

Deno.test("PATCH /Groups - 8 concurrent clients adding distinct members lose nothing", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 160);
  const g = await createGroup(t);
  const batches = Array.from({ length: 8 }, (_, i) => ids.slice(i * 20, i * 20 + 20));
  const results = await Promise.all(
    batches.map((b) =>
      patchGroup(t, g, [{ op: "add", path: "members", value: b.map((value) => ({ value })) }])
    ),
  );
  for (const r of results) await expectScim(r, 204);
  assert.deepEqual(await groupMemberIds(t, g), [...ids].sort());
  assert.equal(await countMembers(t.kv, t.tenant.id, g), 160);
});

Deno.test("PUT /Groups - replaces name and members exactly (Okta AIW)", async () => {
  await using t = await createTestApp();
  const [u1, u2, u3] = await createUsers(t, 3);
  const g = await createGroup(t);
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: u1 }] }]),
    204,
  );
  const body = await expectScim(
    await t.scim("PUT", `/Groups/${g}`, {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      id: g,
      displayName: "Renamed",
      members: [{ value: u2, display: "two" }, { value: u3, display: "three" }],
    }),
    200,
  );
  assert.equal(body.displayName, "Renamed");
  assert.deepEqual(await groupMemberIds(t, g), [u2, u3].sort());
});

Deno.test("DELETE /Groups - 204, then 404; memberships are gone from users", async () => {
  await using t = await createTestApp();
  const [u1] = await createUsers(t, 1);
  const g = await createGroup(t);
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: u1 }] }]),
    204,
  );
  await expectScim(await t.scim("DELETE", `/Groups/${g}`), 204);
  await expectScimError(await t.scim("GET", `/Groups/${g}`), 404);
  const user = await expectScim(await t.scim("GET", `/Users/${u1}?attributes=groups`), 200);
  assert.deepEqual(user.groups, []);
  // The name is free again.
  await createGroup(t, "Reused");
});

Deno.test("DELETE /Users - a user in 100 groups leaves every one of them", async () => {
  await using t = await createTestApp();
  const [u1] = await createUsers(t, 1);
  const groups: string[] = [];
  for (let i = 0; i < 100; i++) {
    const body = await expectScim(
      await t.scim("POST", "/Groups", { displayName: `G${i}`, members: [{ value: u1 }] }),
      201,
    );
    groups.push(String(body.id));
  }
  await expectScim(await t.scim("DELETE", `/Users/${u1}`), 204);
  for (const g of groups) {
    assert.deepEqual(await groupMemberIds(t, g), []);
    assert.equal(await countMembers(t.kv, t.tenant.id, g), 0);
  }
});
