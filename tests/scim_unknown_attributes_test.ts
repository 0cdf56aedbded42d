/**
 * Attributes no schema defines, over HTTP: a POST, PUT or PATCH (pathless or with a path) that
 * carries one is accepted and the attribute is kept on the IdP attribute row, where the console
 * shows it and mirroring may read it, but it is never returned as an attribute of the User or
 * Group, since `/Schemas` does not declare it. Bare extension attribute names (`employeeNumber`)
 * are read as their extension's, in a body as in a PATCH (RFC 7644 §3.10).
 * @module
 */
import assert from "node:assert/strict";
import {
  createGroup,
  createTestApp,
  expectScim,
  PATCH_OP,
  randomUser,
  type TestApp,
} from "./_helpers.ts";
import { getLinkedUser, getUser } from "../lib/store/users.ts";
import { getGroup } from "../lib/store/groups.ts";
import { setMirroring } from "../lib/store/mirroring.ts";
import { ENTERPRISE_USER_SCHEMA } from "../lib/scim/urns.ts";

type Json = Record<string, unknown>;

/** The IdP attribute row's stored resource of a user. */
async function row(t: TestApp, id: unknown): Promise<Json> {
  const linked = await getLinkedUser(t.kv, t.tenant.id, t.idp.id, String(id));
  assert.ok(linked, `no IdP row for ${id}`);
  return linked.link.resource;
}

function patchUser(t: TestApp, id: unknown, ...Operations: unknown[]): Promise<Response> {
  return t.scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations });
}

Deno.test("PATCH /Users/:id - a pathless replace or add of an undefined attribute is kept on the IdP row, not returned", async () => {
  const t = await createTestApp();
  try {
    const user = await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
    for (const op of ["replace", "add"]) {
      const patched = await expectScim(
        await patchUser(t, user.id, { op, value: { notAnAttribute: `x-${op}`, title: op } }),
        200,
      );
      assert.equal(patched.title, op, "the defined attribute beside it applies");
      assert.equal("notAnAttribute" in patched, false, `${op}: echoed`);
      assert.equal((await row(t, user.id)).notAnAttribute, `x-${op}`);
      const read = await expectScim(await t.scim("GET", `/Users/${user.id}`), 200);
      assert.equal("notAnAttribute" in read, false);
      assert.equal(
        "notAnAttribute" in await expectScim(
          await t.scim("GET", `/Users/${user.id}?attributes=notAnAttribute`),
          200,
        ),
        false,
      );
    }
    // With a path: the same, and remove takes it off the row.
    const added = await expectScim(
      await patchUser(t, user.id, { op: "add", path: "badgeColor", value: "red" }),
      200,
    );
    assert.equal("badgeColor" in added, false);
    assert.equal((await row(t, user.id)).badgeColor, "red");
    await expectScim(await patchUser(t, user.id, { op: "remove", path: "badgeColor" }), 200);
    assert.equal("badgeColor" in await row(t, user.id), false);
  } finally {
    t.close();
  }
});

Deno.test("POST and PUT /Users - an undefined attribute is kept on the IdP row, not returned; PUT replaces it", async () => {
  const t = await createTestApp();
  try {
    const body = randomUser({ notAnAttribute: "x", "junk.key": 1 });
    const created = await expectScim(await t.scim("POST", "/Users", body), 201);
    assert.equal("notAnAttribute" in created, false);
    assert.equal("junk.key" in created, false);
    assert.deepEqual(
      [(await row(t, created.id)).notAnAttribute, (await row(t, created.id))["junk.key"]],
      ["x", 1],
    );
    const replaced = await expectScim(
      await t.scim("PUT", `/Users/${created.id}`, { ...body, notAnAttribute: "y" }),
      200,
    );
    assert.equal("notAnAttribute" in replaced, false);
    assert.equal((await row(t, created.id)).notAnAttribute, "y");
    const { notAnAttribute: _dropped, ...without } = body;
    await expectScim(await t.scim("PUT", `/Users/${created.id}`, without), 200);
    assert.equal("notAnAttribute" in await row(t, created.id), false, "PUT replaces the row");
    // Not an attribute of the resource, so no filter finds a user by it.
    await expectScim(await t.scim("PUT", `/Users/${created.id}`, body), 200);
    const found = await expectScim(
      await t.scim("GET", `/Users?filter=${encodeURIComponent('notAnAttribute eq "x"')}`),
      200,
    );
    assert.equal(found.totalResults, 0);
  } finally {
    t.close();
  }
});

Deno.test("POST /Users - bare extension attribute names go to their extension, as PATCH reads them", async () => {
  const t = await createTestApp();
  try {
    const manager = await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
    const created = await expectScim(
      await t.scim(
        "POST",
        "/Users",
        randomUser({ employeeNumber: "701984", manager: String(manager.id) }),
      ),
      201,
    );
    const enterprise = { employeeNumber: "701984", manager: { value: String(manager.id) } };
    assert.deepEqual(created[ENTERPRISE_USER_SCHEMA], enterprise);
    assert.ok((created.schemas as string[]).includes(ENTERPRISE_USER_SCHEMA));
    assert.equal("employeeNumber" in created, false);
    // The same body as a pathless PATCH stores the same thing.
    const other = await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
    const patched = await expectScim(
      await patchUser(t, other.id, {
        op: "replace",
        value: { employeeNumber: "701984", manager: String(manager.id) },
      }),
      200,
    );
    assert.deepEqual(patched[ENTERPRISE_USER_SCHEMA], enterprise);
  } finally {
    t.close();
  }
});

Deno.test("Mirroring - an undefined attribute kept on the IdP row can be mirrored", async () => {
  const t = await createTestApp();
  try {
    await setMirroring(t.kv, t.tenant.id, {
      rules: [
        { field: "userName", sources: ["userName"], enabled: true },
        { field: "badge", sources: ["badgeColor"], enabled: true },
      ],
    }, "test");
    const created = await expectScim(
      await t.scim("POST", "/Users", randomUser({ badgeColor: "blue" })),
      201,
    );
    assert.equal("badgeColor" in created, false);
    assert.equal((await getUser(t.kv, t.tenant.id, String(created.id)))?.custom.badge, "blue");
  } finally {
    t.close();
  }
});

Deno.test("POST and PATCH /Groups - an undefined attribute is kept on the group record, not returned", async () => {
  const t = await createTestApp();
  try {
    const created = await expectScim(
      await t.scim("POST", "/Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: "Junk",
        notAnAttribute: "x",
      }),
      201,
    );
    assert.equal("notAnAttribute" in created, false);
    const id = await createGroup(t, "Renamed later");
    const patched = await expectScim(
      await t.scim("PATCH", `/Groups/${id}?excludedAttributes=members`, {
        schemas: [PATCH_OP],
        Operations: [{ op: "replace", value: { displayName: "Renamed", notAnAttribute: "y" } }],
      }),
      200,
    );
    assert.equal(patched.displayName, "Renamed");
    assert.equal("notAnAttribute" in patched, false);
    const stored = await getGroup(t.kv, t.tenant.id, t.idp.id, id);
    assert.equal(stored?.group.extra.notAnAttribute, "y");
  } finally {
    t.close();
  }
});
