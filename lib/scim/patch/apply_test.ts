/**
 * Tests of `applyPatch()`: pathless values as Okta, SailPoint and Entra ID send them (O5, O8, X5,
 * E4), and all-or-nothing application that never touches its input or a prototype.
 * @module
 */
import assert from "node:assert/strict";
import { applyPatch } from "./apply.ts";
import { parsePatchRequest, type PatchOperation } from "./parse.ts";
import { assertScimError, body, ENTERPRISE, patch, user } from "./_test_utils.ts";
import { ScimError } from "../errors.ts";
import type { PatchOpName } from "../compat.ts";
import { parsePath } from "../filter/parser.ts";
import type { PatchPath } from "../filter/ast.ts";
import { PATCH_OP } from "../urns.ts";

Deno.test("applyPatch() - deactivates and reactivates with Okta's pathless replace", () => {
  const deactivated = patch(user(), {
    schemas: [PATCH_OP],
    Operations: [{ op: "replace", value: { active: false } }],
  });
  assert.equal(deactivated.resource.active, false);
  assert.deepEqual(deactivated.changedAttributes, ["active"]);
  const reactivated = patch(deactivated.resource, body({ op: "replace", value: { active: true } }));
  assert.equal(reactivated.resource.active, true);
  assert.equal(reactivated.changed, true);
});

Deno.test("applyPatch() - treats SailPoint's pathless add of active as replace", () => {
  const result = patch(user(), body({ op: "add", value: { active: false } }));
  assert.equal(result.resource.active, false);
});

Deno.test("applyPatch() - ignores the id Okta sends in a pathless group rename", () => {
  const group = { displayName: "Old name", externalId: "00g1" };
  const result = patch(
    group,
    body({
      op: "replace",
      value: { id: "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", displayName: "Test SCIMv2" },
    }),
    "Group",
    "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
  );
  assert.deepEqual(result.resource, { displayName: "Test SCIMv2", externalId: "00g1" });
  assert.deepEqual(result.changedAttributes, ["displayName"]);
  // Re-sent with every membership update: idempotent, and a foreign id changes nothing either.
  const again = patch(
    result.resource,
    body({ op: "replace", value: { id: "someone-else", displayName: "Test SCIMv2" } }),
    "Group",
    "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
  );
  assert.equal(again.changed, false);
});

Deno.test("applyPatch() - applies Entra's pathless replace with dotted and URN keys", () => {
  const result = patch(user(), {
    schemas: [PATCH_OP],
    Operations: [{
      op: "replace",
      value: {
        displayName: "Bjfe",
        "name.givenName": "Kkom",
        "name.familyName": "Unua",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
      },
    }],
  });
  assert.equal(result.resource.displayName, "Bjfe");
  assert.deepEqual(result.resource.name, { givenName: "Kkom", familyName: "Unua" });
  assert.deepEqual(result.resource[ENTERPRISE], {
    department: "R&D",
    employeeNumber: "Aklq",
    manager: { value: "m-1" },
  });
  assert.deepEqual(result.changedAttributes, [
    "name",
    "displayName",
    `${ENTERPRISE}:employeeNumber`,
  ]);
});

Deno.test("applyPatch() - merges a URN key holding an object into the extension", () => {
  const result = patch(
    user(),
    body({ op: "replace", value: { [ENTERPRISE.toLowerCase()]: { department: "Sales" } } }),
  );
  assert.deepEqual(result.resource[ENTERPRISE], {
    department: "Sales",
    employeeNumber: "42",
    manager: { value: "m-1" },
  });
  assert.deepEqual(result.changedAttributes, [`${ENTERPRISE}:department`]);
});

Deno.test("applyPatch() - merges complex values and keeps sub-attributes not given", () => {
  const pathless = patch(user(), body({ op: "replace", value: { name: { givenName: "Babs" } } }));
  assert.deepEqual(pathless.resource.name, { givenName: "Babs", familyName: "User" });
  const withPath = patch(user(), body({ op: "replace", path: "name", value: { familyName: "J" } }));
  assert.deepEqual(withPath.resource.name, { givenName: "Test", familyName: "J" });
});

Deno.test("applyPatch() - rejects a pathless value that is not an object", () => {
  assertScimError(() => patch(user(), body({ op: "replace", value: "x" })), {
    status: 400,
    scimType: "invalidValue",
    detail: 'Operation 1: "value" must be an object when "path" is omitted, got "x"',
  });
});

Deno.test("applyPatch() - requires a path for remove", () => {
  assertScimError(
    () => applyPatch(user(), [{ op: "remove", index: 3 }], { resourceType: "User", id: "u1" }),
    { status: 400, scimType: "noTarget", detail: 'Operation 4: "path" is required for "remove"' },
  );
});

Deno.test("applyPatch() - never mutates its input", () => {
  const resource = user();
  const copy = structuredClone(resource);
  const ops = parsePatchRequest(body(
    { op: "replace", value: { active: false, "name.givenName": "X" } },
    { op: "add", path: "emails", value: [{ value: "n@x", type: "home", primary: true }] },
    { op: "replace", path: 'emails[type eq "work"].value', value: "w@x" },
    { op: "remove", path: `${ENTERPRISE}:manager` },
  ));
  const opsCopy = structuredClone(ops);
  const result = applyPatch(resource, ops, { resourceType: "User", id: "u1" });
  assert.deepEqual(resource, copy);
  assert.deepEqual(ops, opsCopy);
  assert.notDeepEqual(result.resource, copy);
  (result.resource.emails as Record<string, unknown>[])[1].value = "changed";
  assert.deepEqual(ops, opsCopy);
});

/** The parsed form of `path`, also of one the parser refuses (`__proto__.polluted`). */
function parsedByHand(path: string): PatchPath {
  try {
    return parsePath(path);
  } catch {
    const [attr, sub] = path.split(".");
    return { path: { attr, sub } };
  }
}

Deno.test("applyPatch() - leaves Object.prototype untouched", () => {
  const attempts: unknown[] = [
    JSON.parse('{"op":"replace","value":{"__proto__":{"polluted":"yes"}}}'),
    JSON.parse('{"op":"add","path":"name","value":{"__proto__":{"polluted":"yes"}}}'),
    { op: "add", path: "constructor.prototype", value: { polluted: "yes" } },
    { op: "replace", path: "__proto__.polluted", value: "yes" },
    { op: "replace", value: { "constructor.prototype": { polluted: "yes" } } },
    { op: "add", path: 'emails[constructor eq "x"].polluted', value: "yes" },
    { op: "add", path: "urn:acme:prototype:User:polluted", value: "yes" },
  ];
  const rejected = (error: unknown) =>
    error instanceof ScimError && error.status === 400 &&
    (error.scimType === "invalidPath" || error.scimType === "invalidValue") &&
    error.message.startsWith("Operation 1: ");
  for (const attempt of attempts) {
    // Built by hand, bypassing parsePatchRequest(): applying refuses them on its own.
    const { path, ...rest } = attempt as { op: PatchOpName; path?: string; value?: unknown };
    const operation: PatchOperation = path === undefined
      ? { ...rest, index: 0 }
      : { ...rest, path, parsedPath: parsedByHand(path), index: 0 };
    assert.throws(
      () => applyPatch(user(), [operation], { resourceType: "User", id: "u1" }),
      rejected,
    );
    assert.throws(() => parsePatchRequest(body(attempt)), rejected);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
});

Deno.test("applyPatch() - applies all operations or none", () => {
  const resource = user();
  const ops = parsePatchRequest(body(
    { op: "replace", path: "title", value: "Boss" },
    { op: "replace", path: "active", value: "perhaps" },
  ));
  let result: unknown;
  assertScimError(() => {
    result = applyPatch(resource, ops, { resourceType: "User", id: "u1" });
  }, { status: 400, scimType: "invalidValue", detail: /^Operation 2: "active"/ });
  assert.equal(result, undefined);
  assert.equal(resource.title, "Engineer");
});
