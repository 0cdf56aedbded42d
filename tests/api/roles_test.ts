/**
 * `GET /api/v1/roles` and roles on users: the tenant's roles with their mapped groups, and a
 * user's `roles` derived from memberships of mapped groups (none while inactive), as the read
 * API serves them; the replay of role events is covered by `tests/api_replay_test.ts`.
 * @module
 */
import assert from "node:assert/strict";
import {
  createGroup,
  createTestApp,
  createUsers,
  expectScim,
  PATCH_OP,
  patchGroup,
} from "../_helpers.ts";
import { apiGet, apiKeyOf, expectApiError, expectJson } from "./_api.ts";
import { createRole, setRoleMapping } from "../../lib/store/roles.ts";
import type { ApiList, ApiRole, ApiUser } from "../../lib/directory/types.ts";
import { RoleListSchema } from "../../lib/directory/schemas.ts";

Deno.test("GET /api/v1/roles - roles with their groups; users carry the roles of their groups", async () => {
  await using t = await createTestApp();
  const [a, b] = await createUsers(t, 2);
  const eng = await createGroup(t, "Engineering");
  await expectScim(
    await patchGroup(t, eng, [{ op: "add", path: "members", value: [{ value: a }, { value: b }] }]),
    204,
  );
  const key = await apiKeyOf(t);
  assert.deepEqual(
    (await expectJson<ApiList<ApiRole>>(await apiGet(t, "/roles", key), 200)).data,
    [],
  );
  await createRole(t.kv, t.tenant.id, { slug: "engineer", name: "Engineer" }, "test");
  await createRole(t.kv, t.tenant.id, { slug: "admin", name: "Admin", description: "All" }, "test");
  await setRoleMapping(t.kv, t.tenant.id, {
    slug: "engineer",
    idpId: t.idp.id,
    group: eng,
    mapped: true,
  }, "test");

  const body = await expectJson(await apiGet(t, "/roles", key), 200);
  const roles = RoleListSchema.strict().parse(body);
  assert.equal(roles.next_cursor, null);
  assert.deepEqual(roles.data.map((r) => r.slug).sort(), ["admin", "engineer"]);
  const engineer = roles.data.find((r) => r.slug === "engineer")!;
  assert.deepEqual(engineer.groups, [{ idp_id: t.idp.id, group_id: eng }]);
  assert.equal(roles.data.find((r) => r.slug === "admin")!.description, "All");

  const userA = await expectJson<ApiUser>(await apiGet(t, `/users/${a}`, key), 200);
  assert.deepEqual(userA.roles, [{ slug: "engineer", name: "Engineer" }]);
  // An inactive user has no roles.
  await expectScim(
    await t.scim("PATCH", `/Users/${b}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "active", value: false }],
    }),
    200,
  );
  assert.deepEqual((await expectJson<ApiUser>(await apiGet(t, `/users/${b}`, key), 200)).roles, []);

  await expectApiError(await apiGet(t, "/roles?x=1", key), 400, "invalid_request");
  const feed = await apiKeyOf(t, { scopes: ["events:read"] });
  await expectApiError(await apiGet(t, "/roles", feed), 403, "insufficient_scope");
  await expectApiError(await apiGet(t, "/roles", null), 401, "unauthorized");
});
