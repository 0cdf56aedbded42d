/**
 * Tests of resolving PATCH paths to targets: names in any case, the core URN prefix, read-only
 * attributes ignored (O4, O7, E13), and paths that cannot resolve.
 * @module
 */
import assert from "node:assert/strict";
import { assertScimError, body, ENTERPRISE, patch, user } from "./_test_utils.ts";
import { PATCH_OP } from "../urns.ts";

Deno.test("applyPatch() - ignores id, meta, schemas, groups and password in values and paths", () => {
  const result = patch(
    user(),
    body(
      {
        op: "replace",
        value: {
          id: "other",
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
          meta: { resourceType: "User" },
          groups: [],
          password: "1mz050nq",
        },
      },
      { op: "replace", path: "password", value: "t1meMa$heen" },
      { op: "replace", path: "id", value: "other" },
      { op: "add", path: "groups", value: [{ value: "g1" }] },
      { op: "remove", path: "meta" },
    ),
  );
  assert.deepEqual(result.resource, user());
  assert.equal(result.changed, false);
  assert.deepEqual(result.changedAttributes, []);
  const readOnlySub = patch(
    user(),
    body({ op: "replace", path: `${ENTERPRISE}:manager.displayName`, value: "Boss" }),
  );
  assert.equal(readOnlySub.changed, false);
});

Deno.test("applyPatch() - resolves attribute names case-insensitively to canonical names", () => {
  const result = patch(
    { userName: "a" },
    body(
      { op: "add", path: "NAME.givenname", value: "Barbara" },
      { op: "add", path: "Emails", value: [{ Value: "b@example.com", TYPE: "work" }] },
      { op: "replace", path: "USERNAME", value: "b" },
    ),
  );
  assert.deepEqual(result.resource, {
    userName: "b",
    name: { givenName: "Barbara" },
    emails: [{ value: "b@example.com", type: "work" }],
  });
});

Deno.test("applyPatch() - strips the core schema URN prefix from a path", () => {
  const result = patch(
    user(),
    body({
      op: "replace",
      path: "urn:ietf:params:scim:schemas:core:2.0:User:userName",
      value: "x",
    }),
  );
  assert.equal(result.resource.userName, "x");
  assert.deepEqual(result.changedAttributes, ["userName"]);
});

Deno.test("applyPatch() - replaces an Enterprise attribute by URN path", () => {
  const result = patch(user(), {
    schemas: [PATCH_OP],
    Operations: [{
      op: "Replace",
      path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
      value: "1234",
    }],
  });
  assert.equal((result.resource[ENTERPRISE] as Record<string, unknown>).employeeNumber, "1234");
  const created = patch(
    { userName: "a" },
    body({ op: "add", path: `${ENTERPRISE}:department`, value: "Sales" }),
  );
  assert.deepEqual(created.resource, { userName: "a", [ENTERPRISE]: { department: "Sales" } });
  assert.deepEqual(created.changedAttributes, [`${ENTERPRISE}:department`]);
});

Deno.test("applyPatch() - refuses group members, which are member operations", () => {
  assertScimError(
    () =>
      patch(
        { displayName: "G" },
        body({ op: "add", path: "members", value: [{ value: "u" }] }),
        "Group",
      ),
    { status: 400, scimType: "invalidPath", detail: /^Operation 1: Cannot apply "members"/ },
  );
});

Deno.test("applyPatch() - answers invalidPath for a filter comparison with no meaning", () => {
  assertScimError(
    () => patch(user(), body({ op: "replace", path: "emails[primary gt 1].value", value: "x" })),
    { status: 400, scimType: "invalidPath", detail: /^Operation 1: Cannot resolve path/ },
  );
});
