/**
 * A user's `groups` in SCIM (RFC 7643 §4.1.2): returned when asked for (the schema says
 * `returned: "request"`), and filterable — `groups[value eq "<id>"]`, `groups.value eq "<id>"`
 * and `groups pr` are answered from membership rows, not by scanning users.
 * @module
 */
import assert from "node:assert/strict";
import {
  createGroup,
  createTestApp,
  createUsers,
  expectScim,
  patchGroup,
  type TestApp,
} from "./_helpers.ts";

async function idsOf(t: TestApp, filter: string, base = t.base): Promise<string[]> {
  const res = await t.scim("GET", `${base}/Users?filter=${encodeURIComponent(filter)}&count=200`);
  const body = await expectScim(res, 200);
  return ((body.Resources ?? []) as { id: string }[]).map((r) => r.id).sort();
}

Deno.test("GET /Users - filters on a user's groups find its members through membership rows", async () => {
  // A scan limit below the number of users: a filter answered by scanning would be tooMany.
  await using t = await createTestApp({ WEFT_SCAN_LIMIT: "100" });
  const users = await createUsers(t, 120);
  const [u1, u2, u3] = users;
  const g = await createGroup(t, "Engineering");
  const h = await createGroup(t, "Sales");
  await expectScim(
    await patchGroup(t, g, [{
      op: "add",
      path: "members",
      value: [{ value: u1 }, { value: u2 }],
    }]),
    204,
  );
  await expectScim(
    await patchGroup(t, h, [{ op: "add", path: "members", value: [{ value: u3 }] }]),
    204,
  );
  const both = [u1, u2].sort();
  assert.deepEqual(await idsOf(t, `groups[value eq "${g}"]`), both);
  assert.deepEqual(await idsOf(t, `groups.value eq "${g}"`), both);
  assert.deepEqual(await idsOf(t, `groups pr`), [u1, u2, u3].sort());
  assert.deepEqual(
    await idsOf(t, `groups.value eq "${g}" or groups.value eq "${h}"`),
    [
      u1,
      u2,
      u3,
    ].sort(),
  );
  // An indexed condition narrows the candidates; the rest is evaluated on the user with its groups.
  const name = (await expectScim(await t.scim("GET", `/Users/${u2}`), 200)).userName;
  assert.deepEqual(
    await idsOf(t, `groups[value eq "${g}"] and userName eq "${name}"`),
    [u2],
  );
  assert.deepEqual(
    await idsOf(t, `userName eq "${name}" and not (groups[value eq "${h}"])`),
    [u2],
  );
  // A group id that names no group, or another IdP's group, matches no user of this IdP.
  assert.deepEqual(await idsOf(t, `groups.value eq "no-such-group"`), []);
  const other = await t.addIdp("Other");
  const theirs = await expectScim(
    await t.scim("POST", `${other.base}/Groups`, { displayName: "Theirs" }, {
      authorization: `Bearer ${other.token}`,
    }),
    201,
  );
  assert.deepEqual(await idsOf(t, `groups.value eq "${theirs.id}"`), []);
  // The listed users carry their groups when asked for.
  const listed = await expectScim(
    await t.scim(
      "GET",
      `/Users?filter=${encodeURIComponent(`groups.value eq "${g}"`)}&attributes=groups`,
    ),
    200,
  );
  for (const r of listed.Resources as { groups: { value: string; display: string }[] }[]) {
    assert.deepEqual(r.groups.map((x) => [x.value, x.display]), [[g, "Engineering"]]);
  }
});

Deno.test("Users - groups are returned when asked for, on GET, lists and writes alike", async () => {
  await using t = await createTestApp();
  const [u1] = await createUsers(t, 1);
  const g = await createGroup(t, "Admins");
  await expectScim(
    await patchGroup(t, g, [{ op: "add", path: "members", value: [{ value: u1 }] }]),
    204,
  );
  const plain = await expectScim(await t.scim("GET", `/Users/${u1}`), 200);
  assert.equal("groups" in plain, false);
  const list = await expectScim(await t.scim("GET", "/Users"), 200);
  assert.ok((list.Resources as Record<string, unknown>[]).every((r) => !("groups" in r)));
  const asked = await expectScim(await t.scim("GET", `/Users/${u1}?attributes=groups`), 200);
  assert.deepEqual((asked.groups as { value: string }[]).map((x) => x.value), [g]);
  const patched = await expectScim(
    await t.scim("PATCH", `/Users/${u1}?attributes=groups,title`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "title", value: "Lead" }],
    }),
    200,
  );
  assert.deepEqual((patched.groups as { value: string }[]).map((x) => x.value), [g]);
  // The schema says so.
  const schema = await expectScim(
    await t.scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
    200,
  );
  const groups = (schema.attributes as { name: string; returned: string }[]).find((a) =>
    a.name === "groups"
  );
  assert.equal(groups?.returned, "request");
});

Deno.test("PATCH /Users - Entra connections get 204 No Content, Okta connections the user", async () => {
  await using t = await createTestApp();
  const patch = {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "Replace", path: "active", value: "False" }],
  };
  const [okta] = await createUsers(t, 1);
  const ok = await t.scim("PATCH", `/Users/${okta}`, patch);
  assert.equal((await expectScim(ok, 200)).active, false);
  const entra = await t.addIdp("Entra");
  const as = { authorization: `Bearer ${entra.token}` };
  const created = await expectScim(
    await t.scim("POST", `${entra.base}/Users`, {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "entra.user@example.test",
    }, as),
    201,
  );
  const res = await t.scim("PATCH", `${entra.base}/Users/${created.id}`, patch, as);
  assert.equal(res.status, 204);
  assert.equal(await res.text(), "");
  const after = await expectScim(
    await t.scim("GET", `${entra.base}/Users/${created.id}`, undefined, as),
    200,
  );
  assert.equal(after.active, false);
  assert.equal(res.headers.get("etag"), (after.meta as { version: string }).version);
});
