/**
 * The directory API's reads over HTTP (`GET /api/v1/users…`, `/groups…`), provisioned through
 * SCIM as an IdP would: every endpoint, every filter, paging to the end (each user exactly once),
 * and the errors of bad parameters, cursors, ids and methods.
 * @module
 */
import assert from "node:assert/strict";
import {
  createGroup,
  createTestApp,
  createUsers,
  expectScim,
  patchGroup,
  randomUser,
} from "../_helpers.ts";
import { apiGet, apiKeyOf, expectApiError, expectJson, pageAll } from "./_api.ts";
import type { ApiGroup, ApiList, ApiUser } from "../../lib/directory/types.ts";

Deno.test("GET /api/v1/users - pages to the end list every user exactly once, in id order", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 23);
  const key = await apiKeyOf(t);
  for (const limit of [1, 5, 7, 23, 200]) {
    const pages = { count: 0 };
    const users = await pageAll<ApiUser>(t, `/users?limit=${limit}`, key, pages);
    assert.deepEqual(users.map((u) => u.id), [...ids].sort(), `limit ${limit}`);
    assert.equal(pages.count, Math.max(1, Math.ceil(23 / limit)), `pages at limit ${limit}`);
  }
  const first = await expectJson<ApiList<ApiUser>>(await apiGet(t, "/users", key), 200);
  assert.equal(first.data.length, 23, "the default limit is 50");
  assert.equal(first.next_cursor, null);
});

Deno.test("GET /api/v1/users/{id} - the user as the contract shapes it", async () => {
  await using t = await createTestApp();
  const body = randomUser({
    name: { givenName: "Ada", familyName: "Lovelace" },
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "R&D" },
  });
  const created = await expectScim(await t.scim("POST", "/Users", body), 201);
  const key = await apiKeyOf(t);
  const user = await expectJson<ApiUser>(await apiGet(t, `/users/${created.id}`, key), 200);
  assert.equal(user.object, "user");
  assert.equal(user.id, created.id);
  assert.equal(user.user_name, body.userName);
  assert.equal(user.email, body.userName);
  assert.equal(user.first_name, "Ada");
  assert.equal(user.last_name, "Lovelace");
  assert.equal(user.state, "active");
  assert.equal(user.idp_id, t.idp.id);
  assert.deepEqual(user.roles, []);
  assert.equal(user.idps.length, 1);
  assert.equal(user.idps[0].external_id, body.externalId);
  assert.equal(user.idps[0].state, "active");
  assert.deepEqual(
    (user.idps[0].attributes["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] as {
      department: string;
    }).department,
    "R&D",
  );
  assert.match(user.version, /^[0-9a-f]+$/);
  assert.ok(Date.parse(user.created_at) > 0);

  // A change grows the version; a deactivated user stays readable, inactive.
  await expectScim(
    await t.scim("PATCH", `/Users/${created.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: false } }],
    }),
    200,
  );
  const after = await expectJson<ApiUser>(await apiGet(t, `/users/${created.id}`, key), 200);
  assert.equal(after.state, "inactive");
  assert.ok(after.version > user.version, `${after.version} > ${user.version}`);

  await expectApiError(await apiGet(t, "/users/no-such-user", key), 404, "not_found");

  // A user its IdP deleted is gone from the API (the feed says user.deleted), until relinked.
  assert.equal((await t.scim("DELETE", `/Users/${created.id}`)).status, 204);
  await expectApiError(await apiGet(t, `/users/${created.id}`, key), 404, "not_found");
  await expectApiError(await apiGet(t, `/users/${created.id}/groups`, key), 404, "not_found");
  assert.deepEqual(await pageAll<ApiUser>(t, "/users", key), []);
  await expectScim(await t.scim("POST", "/Users", body), 201);
  assert.deepEqual((await pageAll<ApiUser>(t, "/users", key)).map((u) => u.id), [created.id]);
  await expectApiError(await apiGet(t, `/users/${"x".repeat(2000)}`, key), 400, "invalid_request");
});

Deno.test("GET /api/v1/users - filters: state, userName, email, idp, group, together", async () => {
  await using t = await createTestApp();
  const [a, b, c] = await createUsers(t, 3);
  const other = await t.addIdp("Entra");
  const d = String(
    (await expectScim(
      await t.scim(
        "POST",
        other.base + "/Users",
        randomUser({
          userName: "Dee@Example.com",
          emails: [{ value: "dee@example.com", type: "work", primary: true }],
        }),
        { authorization: `Bearer ${other.token}` },
      ),
      201,
    )).id,
  );
  await expectScim(
    await t.scim("PATCH", `/Users/${b}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "active", value: false }],
    }),
    200,
  );
  const groupId = await createGroup(t, "Engineering");
  await expectScim(
    await patchGroup(t, groupId, [{
      op: "add",
      path: "members",
      value: [{ value: a }, { value: b }],
    }]),
    204,
  );
  const key = await apiKeyOf(t);
  const ids = async (query: string) =>
    (await pageAll<ApiUser>(t, `/users?${query}`, key)).map((u) => u.id).sort();

  assert.deepEqual(await ids("state=active"), [a, c, d].sort());
  assert.deepEqual(await ids("state=inactive"), [b]);
  assert.deepEqual(await ids(`idp=${t.idp.id}`), [a, b, c].sort());
  assert.deepEqual(await ids(`idp=${other.idp.id}`), [d]);
  assert.deepEqual(await ids(`idp=${t.idp.id}&state=inactive`), [b]);
  assert.deepEqual(await ids("userName=DEE%40example.com"), [d]);
  assert.deepEqual(await ids(`userName=dee%40example.com&idp=${t.idp.id}`), []);
  assert.deepEqual(await ids("email=Dee%40Example.COM"), [d]);
  assert.deepEqual(await ids("email=dee%40example.com&state=inactive"), []);
  assert.deepEqual(await ids(`group=${groupId}`), [a, b].sort());
  assert.deepEqual(await ids(`group=${groupId}&state=active`), [a]);
  assert.deepEqual(await ids(`group=${groupId}&idp=${other.idp.id}`), []);
  const userA = await expectJson<ApiUser>(await apiGet(t, `/users/${a}`, key), 200);
  assert.deepEqual(await ids(`group=${groupId}&userName=${encodeURIComponent(userA.user_name)}`), [
    a,
  ]);
  assert.deepEqual(await ids(`group=${groupId}&userName=dee%40example.com`), []);
  assert.deepEqual(await ids("userName=nobody%40example.com"), []);

  // Filters naming what the tenant does not have.
  assert.match(
    await expectApiError(await apiGet(t, "/users?idp=nope", key), 404, "not_found"),
    /IdP connection/,
  );
  assert.match(
    await expectApiError(await apiGet(t, "/users?group=nope", key), 404, "not_found"),
    /group/,
  );
});

Deno.test("GET /api/v1/users - a filtered walk pages to the end with every match once", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 30);
  const inactive = ids.filter((_, i) => i % 3 === 0);
  for (const id of inactive) {
    await expectScim(
      await t.scim("PATCH", `/Users/${id}`, {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "replace", path: "active", value: false }],
      }),
      200,
    );
  }
  const key = await apiKeyOf(t);
  for (const q of ["state=inactive&limit=3", `state=inactive&limit=4&idp=${t.idp.id}`]) {
    const users = await pageAll<ApiUser>(t, `/users?${q}`, key);
    assert.deepEqual(users.map((u) => u.id), [...inactive].sort(), q);
  }
});

Deno.test("GET /api/v1/users - bad parameters and cursors are a 400 in plain words", async () => {
  await using t = await createTestApp();
  await createUsers(t, 3);
  const key = await apiKeyOf(t);
  const cases: [string, RegExp][] = [
    ["limit=0", /Query parameter "limit" must be from 1 to 200/],
    ["limit=201", /"limit" must be from 1 to 200/],
    ["limit=ten", /"limit" must be a whole number from 1 to 200/],
    ["limit=", /"limit"/],
    ["state=deactivated", /"state" must be "active" or "inactive"/],
    ["idp=a%20b", /"idp" must be an IdP connection id/],
    ["userName=", /"userName" must not be empty/],
    ["sort=name", /Unknown query parameter "sort"/],
    ["cursor=nonsense", /cursor is not valid/],
    ["cursor=" + "A".repeat(3000), /"cursor" is too long/],
  ];
  for (const [query, message] of cases) {
    const res = await apiGet(t, `/users?${query}`, key);
    assert.match(await expectApiError(res, 400, "invalid_request"), message, query);
  }
  // A cursor of another listing is refused too, not reinterpreted.
  await createGroup(t, "A");
  await createGroup(t, "B");
  const groups = await expectJson<ApiList<ApiGroup>>(await apiGet(t, "/groups?limit=1", key), 200);
  assert.ok(groups.next_cursor);
  await expectApiError(
    await apiGet(t, `/users?cursor=${groups.next_cursor}`, key),
    400,
    "invalid_request",
  );
});

Deno.test("GET /api/v1/groups… - list, name, idp, by id, members paged, a user's groups", async () => {
  await using t = await createTestApp();
  const users = await createUsers(t, 12);
  const eng = await createGroup(t, "Engineering");
  const ops = await createGroup(t, "Ops");
  const other = await t.addIdp("Entra");
  const entraGroup = String(
    (await expectScim(
      await t.scim(
        "POST",
        other.base + "/Groups",
        { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Engineering" },
        { authorization: `Bearer ${other.token}` },
      ),
      201,
    )).id,
  );
  await expectScim(
    await patchGroup(t, eng, [{
      op: "add",
      path: "members",
      value: users.map((value) => ({ value })),
    }]),
    204,
  );
  await expectScim(
    await patchGroup(t, ops, [{ op: "add", path: "members", value: [{ value: users[0] }] }]),
    204,
  );
  const key = await apiKeyOf(t);

  const all = await pageAll<ApiGroup>(t, "/groups?limit=1", key);
  assert.deepEqual(all.map((g) => g.id).sort(), [eng, ops, entraGroup].sort());
  const engGroup = all.find((g) => g.id === eng)!;
  assert.equal(engGroup.object, "group");
  assert.equal(engGroup.name, "Engineering");
  assert.equal(engGroup.idp_id, t.idp.id);
  assert.equal(engGroup.member_count, 12);

  const named = await pageAll<ApiGroup>(t, "/groups?name=engineering", key);
  assert.deepEqual(named.map((g) => g.id).sort(), [eng, entraGroup].sort());
  const namedHere = await pageAll<ApiGroup>(t, `/groups?name=ENGINEERING&idp=${t.idp.id}`, key);
  assert.deepEqual(namedHere.map((g) => g.id), [eng]);
  const ofIdp = await pageAll<ApiGroup>(t, `/groups?idp=${other.idp.id}`, key);
  assert.deepEqual(ofIdp.map((g) => g.id), [entraGroup]);
  assert.deepEqual(await pageAll<ApiGroup>(t, "/groups?name=nothing", key), []);

  const one = await expectJson<ApiGroup>(await apiGet(t, `/groups/${entraGroup}`, key), 200);
  assert.equal(one.idp_id, other.idp.id);
  assert.equal(one.member_count, 0);
  await expectApiError(await apiGet(t, "/groups/nope", key), 404, "not_found");

  const pages = { count: 0 };
  const members = await pageAll<ApiUser>(t, `/groups/${eng}/members?limit=5`, key, pages);
  assert.deepEqual(members.map((u) => u.id), [...users].sort());
  assert.equal(pages.count, 3);
  assert.equal(members[0].object, "user");
  await expectApiError(await apiGet(t, "/groups/nope/members", key), 404, "not_found");

  const mine = await pageAll<ApiGroup>(t, `/users/${users[0]}/groups?limit=1`, key);
  assert.deepEqual(mine.map((g) => g.id).sort(), [eng, ops].sort());
  assert.deepEqual(await pageAll<ApiGroup>(t, `/users/${users[1]}/groups`, key), [
    await expectJson<ApiGroup>(await apiGet(t, `/groups/${eng}`, key), 200),
  ]);
  await expectApiError(await apiGet(t, "/users/nope/groups", key), 404, "not_found");
  await expectApiError(
    await apiGet(t, `/groups/${eng}/members?cursor=bad`, key),
    400,
    "invalid_request",
  );
  await expectApiError(await apiGet(t, "/groups?name=", key), 400, "invalid_request");
});

Deno.test("/api/v1 - other methods are 405, other paths 404, bodies over 1 KiB 413", async () => {
  await using t = await createTestApp();
  const key = await apiKeyOf(t);
  for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
    const res = await apiGet(t, "/users", key, { method });
    await expectApiError(res, 405, "method_not_allowed");
    assert.equal(res.headers.get("allow"), "GET, HEAD");
  }
  await expectApiError(
    await apiGet(t, "/users/x", key, { method: "DELETE" }),
    405,
    "method_not_allowed",
  );
  await expectApiError(await apiGet(t, "/nothing", key), 404, "not_found");
  await expectApiError(
    await apiGet(t, "http://acme.localhost/api/v2/users", key),
    404,
    "not_found",
  );
  const big = await t.app.request("http://acme.localhost/api/v1/users", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: "x".repeat(2048),
  });
  await expectApiError(big, 413, "payload_too_large");
  const long = await apiGet(t, `/users?email=${"a".repeat(40_000)}`, key);
  assert.equal(long.status, 414);
  await expectApiError(long, 414, "uri_too_long");
});
