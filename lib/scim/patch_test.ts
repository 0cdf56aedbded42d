/**
 * Tests of the SCIM PATCH engine (RFC 7644 §3.5.2), with payloads as Okta, Entra ID and SailPoint
 * send them (`docs/idp-behaviour.md` §2.1, §2.2 and the O*, E*, X* rows).
 * @module
 */
import assert from "node:assert/strict";
import {
  applyPatch,
  extractMemberOperations,
  MAX_PATCH_OPERATIONS,
  parsePatchRequest,
  type PatchOperation,
  selectValues,
} from "./patch.ts";
import { ScimError, type ScimType } from "./errors.ts";
import type { ResourceTypeName } from "./schema_types.ts";
import { ENTERPRISE_USER_SCHEMA, PATCH_OP } from "./urns.ts";

const ENTERPRISE = ENTERPRISE_USER_SCHEMA;

/** A PatchOp body around `Operations`. */
function body(...operations: unknown[]): Record<string, unknown> {
  return { schemas: [PATCH_OP], Operations: operations };
}

/** Validates and applies a PatchOp body, as the route does. */
function patch(
  resource: Record<string, unknown>,
  message: unknown,
  resourceType: ResourceTypeName = "User",
  id = "2819c223-7f76-453a-919d-413861904646",
) {
  return applyPatch(resource, parsePatchRequest(message), { resourceType, id });
}

/** Asserts that `fn` throws a `ScimError` with this status and `scimType` (and detail). */
function assertScimError(
  fn: () => unknown,
  expected: { status: number; scimType: ScimType; detail?: string | RegExp },
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ScimError, `expected a ScimError, got ${error}`);
    assert.deepEqual(
      { status: error.status, scimType: error.scimType },
      { status: expected.status, scimType: expected.scimType },
    );
    if (typeof expected.detail === "string") assert.equal(error.message, expected.detail);
    else if (expected.detail) assert.match(error.message, expected.detail);
    return true;
  });
}

function user(): Record<string, unknown> {
  return {
    userName: "test.user@okta.local",
    name: { givenName: "Test", familyName: "User" },
    emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
    displayName: "Test User",
    active: true,
    title: "Engineer",
    [ENTERPRISE]: { department: "R&D", employeeNumber: "42", manager: { value: "m-1" } },
  };
}

// ---------------------------------------------------------------------------------------------
// parsePatchRequest()
// ---------------------------------------------------------------------------------------------

Deno.test("parsePatchRequest() lowercases Entra's capitalised ops", () => {
  const ops = parsePatchRequest(body(
    { op: "Replace", path: "userName", value: "a@b.com" },
    { op: "ADD", path: "nickName", value: "Babs" },
    { op: "Remove", path: "title" },
  ));
  assert.deepEqual(ops, [
    { op: "replace", path: "userName", value: "a@b.com", index: 0 },
    { op: "add", path: "nickName", value: "Babs", index: 1 },
    { op: "remove", path: "title", index: 2 },
  ]);
});

Deno.test("parsePatchRequest() accepts an empty Operations array as a no-op", () => {
  assert.deepEqual(parsePatchRequest(body()), []);
});

Deno.test("parsePatchRequest() matches schemas and the Operations key case-insensitively", () => {
  const ops = parsePatchRequest({
    schemas: [PATCH_OP.toUpperCase()],
    operations: [{ op: "replace", value: { active: false } }],
  });
  assert.deepEqual(ops, [{ op: "replace", value: { active: false }, index: 0 }]);
});

Deno.test("parsePatchRequest() keeps a null value, which means clear", () => {
  const ops = parsePatchRequest(body({ op: "replace", path: "title", value: null }));
  assert.deepEqual(ops, [{ op: "replace", path: "title", value: null, index: 0 }]);
});

Deno.test("parsePatchRequest() rejects a body that is not an object", () => {
  assertScimError(() => parsePatchRequest([]), {
    status: 400,
    scimType: "invalidSyntax",
    detail: "Request body must be a JSON object",
  });
});

Deno.test("parsePatchRequest() rejects a message without the PatchOp URN", () => {
  assertScimError(
    () =>
      parsePatchRequest({
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        Operations: [],
      }),
    { status: 400, scimType: "invalidSyntax", detail: `"schemas" must contain "${PATCH_OP}"` },
  );
  assertScimError(() => parsePatchRequest({ Operations: [] }), {
    status: 400,
    scimType: "invalidSyntax",
    detail: /^"schemas" must be an array/,
  });
});

Deno.test("parsePatchRequest() rejects Operations that is not an array", () => {
  assertScimError(() => parsePatchRequest({ schemas: [PATCH_OP], Operations: {} }), {
    status: 400,
    scimType: "invalidSyntax",
    detail: '"Operations" must be an array',
  });
});

Deno.test("parsePatchRequest() names the operation with an unknown op", () => {
  assertScimError(
    () =>
      parsePatchRequest(body(
        { op: "replace", path: "title", value: "x" },
        { op: "move", path: "title", value: "y" },
      )),
    {
      status: 400,
      scimType: "invalidSyntax",
      detail: 'Operation 2: "op" must be "add", "remove" or "replace"',
    },
  );
  assertScimError(() => parsePatchRequest(body("replace")), {
    status: 400,
    scimType: "invalidSyntax",
    detail: "Operation 1: Operation must be a JSON object",
  });
});

Deno.test("parsePatchRequest() requires a path for remove (noTarget, RFC 7644 §3.5.2.2)", () => {
  assertScimError(() => parsePatchRequest(body({ op: "remove" })), {
    status: 400,
    scimType: "noTarget",
    detail: 'Operation 1: "path" is required for "remove"',
  });
});

Deno.test("parsePatchRequest() requires a value for add and replace", () => {
  assertScimError(() => parsePatchRequest(body({ op: "add", path: "title" })), {
    status: 400,
    scimType: "invalidValue",
    detail: 'Operation 1: "value" is required for "add"',
  });
  assertScimError(
    () =>
      parsePatchRequest(body(
        { op: "remove", path: "title" },
        { op: "Replace", value: undefined },
      )),
    {
      status: 400,
      scimType: "invalidValue",
      detail: 'Operation 2: "value" is required for "replace"',
    },
  );
});

Deno.test("parsePatchRequest() parses every path before anything is applied", () => {
  assertScimError(
    () => parsePatchRequest(body({ op: "replace", path: 'emails[type eq "work"', value: "x" })),
    { status: 400, scimType: "invalidPath", detail: /^Operation 1: Cannot parse path: / },
  );
  assertScimError(() => parsePatchRequest(body({ op: "replace", path: 42, value: "x" })), {
    status: 400,
    scimType: "invalidPath",
    detail: 'Operation 1: "path" must be a string',
  });
});

Deno.test("parsePatchRequest() rejects more than 1000 operations", () => {
  const operations = Array.from(
    { length: MAX_PATCH_OPERATIONS + 1 },
    () => ({ op: "add", path: "members", value: [{ value: "u1" }] }),
  );
  assertScimError(() => parsePatchRequest(body(...operations)), {
    status: 400,
    scimType: "tooMany",
    detail: "Too many operations: 1001 exceeds the limit of 1000",
  });
  assert.equal(parsePatchRequest(body(...operations.slice(1))).length, MAX_PATCH_OPERATIONS);
});

Deno.test("parsePatchRequest() accepts Entra's member removal by value array", () => {
  const ops = parsePatchRequest(body(
    { op: "Remove", path: "members", value: [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }] },
    { op: "remove", value: { members: [{ value: "u2" }] } },
  ));
  assert.equal(ops.length, 2);
  assert.deepEqual(ops[0].value, [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }]);
});

Deno.test("parsePatchRequest() rejects reserved keys and paths", () => {
  assertScimError(
    () =>
      parsePatchRequest(
        JSON.parse(`{"schemas":["${PATCH_OP}"],"Operations":[
          {"op":"add","path":"title","value":"x"},
          {"op":"replace","value":{"__proto__":{"polluted":true}}}]}`),
      ),
    { status: 400, scimType: "invalidValue", detail: /^Operation 2: .*"__proto__"/ },
  );
  assertScimError(
    () => parsePatchRequest(body({ op: "add", path: "constructor.prototype", value: "x" })),
    { status: 400, scimType: "invalidPath", detail: /^Operation 1: .*reserved name/ },
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

// ---------------------------------------------------------------------------------------------
// applyPatch(): pathless values
// ---------------------------------------------------------------------------------------------

Deno.test("applyPatch() deactivates and reactivates with Okta's pathless replace", () => {
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

Deno.test("applyPatch() treats SailPoint's pathless add of active as replace", () => {
  const result = patch(user(), body({ op: "add", value: { active: false } }));
  assert.equal(result.resource.active, false);
});

Deno.test("applyPatch() ignores the id Okta sends in a pathless group rename", () => {
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

Deno.test("applyPatch() applies Entra's pathless replace with dotted and URN keys", () => {
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

Deno.test("applyPatch() merges a URN key holding an object into the extension", () => {
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

Deno.test("applyPatch() merges complex values and keeps sub-attributes not given", () => {
  const pathless = patch(user(), body({ op: "replace", value: { name: { givenName: "Babs" } } }));
  assert.deepEqual(pathless.resource.name, { givenName: "Babs", familyName: "User" });
  const withPath = patch(user(), body({ op: "replace", path: "name", value: { familyName: "J" } }));
  assert.deepEqual(withPath.resource.name, { givenName: "Test", familyName: "J" });
});

Deno.test("applyPatch() ignores id, meta, schemas, groups and password in values and paths", () => {
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

Deno.test("applyPatch() rejects a pathless value that is not an object", () => {
  assertScimError(() => patch(user(), body({ op: "replace", value: "x" })), {
    status: 400,
    scimType: "invalidValue",
    detail: 'Operation 1: "value" must be an object when "path" is omitted, got "x"',
  });
});

// ---------------------------------------------------------------------------------------------
// applyPatch(): paths
// ---------------------------------------------------------------------------------------------

Deno.test("applyPatch() coerces Entra's string booleans", () => {
  const disabled = patch(user(), body({ op: "Replace", path: "active", value: "False" }));
  assert.equal(disabled.resource.active, false);
  const enabled = patch(disabled.resource, body({ op: "Replace", path: "active", value: "True" }));
  assert.equal(enabled.resource.active, true);
  const pathless = patch(user(), body({ op: "replace", value: { active: "false" } }));
  assert.equal(pathless.resource.active, false);
});

Deno.test("applyPatch() rejects a value that is not a boolean for a boolean attribute", () => {
  assertScimError(() => patch(user(), body({ op: "replace", path: "active", value: "maybe" })), {
    status: 400,
    scimType: "invalidValue",
    detail: 'Operation 1: "active" must be a boolean, got "maybe"',
  });
});

Deno.test("applyPatch() resolves attribute names case-insensitively to canonical names", () => {
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

Deno.test("applyPatch() strips the core schema URN prefix from a path", () => {
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

Deno.test("applyPatch() replaces an Enterprise attribute by URN path", () => {
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

Deno.test("applyPatch() sets, changes and clears Entra's string manager", () => {
  const managerPath = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
  const set = patch({ userName: "a" }, body({ op: "Add", path: managerPath, value: "m-100" }));
  assert.deepEqual(set.resource[ENTERPRISE], { manager: { value: "m-100" } });
  const changed = patch(set.resource, body({ op: "replace", path: managerPath, value: "m-200" }));
  assert.deepEqual(changed.resource[ENTERPRISE], { manager: { value: "m-200" } });
  const cleared = patch(changed.resource, body({ op: "replace", path: managerPath, value: "" }));
  assert.deepEqual(cleared.resource, { userName: "a" });
  assert.deepEqual(cleared.changedAttributes, [`${ENTERPRISE}:manager`]);
});

Deno.test("applyPatch() accepts the manager as an object or the old array form", () => {
  const object = patch(
    { userName: "a" },
    body({
      op: "replace",
      path: `${ENTERPRISE}:manager`,
      value: { value: "m-1", displayName: "B" },
    }),
  );
  assert.deepEqual(object.resource[ENTERPRISE], { manager: { value: "m-1" } });
  const array = patch({ userName: "a" }, {
    schemas: [PATCH_OP],
    Operations: [{
      op: "Add",
      path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
      value: [{ $ref: "https://h/scim/v2/Users/m-2", value: "m-2" }],
    }],
  });
  assert.deepEqual(array.resource[ENTERPRISE], { manager: { value: "m-2" } });
  const subPath = patch(
    user(),
    body({ op: "replace", path: `${ENTERPRISE}:manager.value`, value: "m-3" }),
  );
  assert.deepEqual((subPath.resource[ENTERPRISE] as Record<string, unknown>).manager, {
    value: "m-3",
  });
  assertScimError(
    () => patch(user(), body({ op: "replace", path: `${ENTERPRISE}:manager`, value: 7 })),
    { status: 400, scimType: "invalidValue", detail: /^Operation 1: ".*:manager" must be/ },
  );
});

Deno.test('applyPatch() clears title with Entra\'s "" and null', () => {
  const empty = patch(user(), body({ op: "replace", path: "title", value: "" }));
  assert.equal("title" in empty.resource, false);
  assert.deepEqual(empty.changedAttributes, ["title"]);
  const nulled = patch(user(), body({ op: "replace", path: "title", value: null }));
  assert.equal("title" in nulled.resource, false);
  const dotted = patch(
    user(),
    body({ op: "replace", value: { "name.givenName": null, title: "" } }),
  );
  assert.deepEqual(dotted.resource.name, { familyName: "User" });
  assert.equal("title" in dotted.resource, false);
  const again = patch(empty.resource, body({ op: "replace", path: "title", value: "" }));
  assert.equal(again.changed, false);
});

Deno.test("applyPatch() removes a whole attribute", () => {
  const result = patch(
    user(),
    body({ op: "remove", path: "title" }, { op: "remove", path: "name" }),
  );
  assert.equal("title" in result.resource, false);
  assert.equal("name" in result.resource, false);
  assert.deepEqual(result.changedAttributes, ["name", "title"]);
  const absent = patch(result.resource, body({ op: "remove", path: "title" }));
  assert.equal(absent.changed, false);
});

Deno.test("applyPatch() requires a path for remove", () => {
  assertScimError(
    () => applyPatch(user(), [{ op: "remove", index: 3 }], { resourceType: "User", id: "u1" }),
    { status: 400, scimType: "noTarget", detail: 'Operation 4: "path" is required for "remove"' },
  );
});

Deno.test("applyPatch() appends to a multi-valued attribute on add, without duplicates", () => {
  const result = patch(
    user(),
    body({
      op: "add",
      path: "emails",
      value: [
        { value: "test.user@okta.local", type: "work", primary: true },
        { value: "home@example.com", type: "home" },
        { value: "home@example.com", type: "home" },
      ],
    }),
  );
  assert.deepEqual(result.resource.emails, [
    { primary: true, value: "test.user@okta.local", type: "work" },
    { value: "home@example.com", type: "home" },
  ]);
});

Deno.test("applyPatch() replaces a whole multi-valued attribute on replace", () => {
  const result = patch(
    user(),
    body({
      op: "replace",
      path: "emails",
      value: [{ value: "new@example.com", type: "work", primary: "True" }],
    }),
  );
  assert.deepEqual(result.resource.emails, [
    { value: "new@example.com", type: "work", primary: true },
  ]);
  const emptied = patch(user(), body({ op: "replace", path: "emails", value: [] }));
  assert.equal("emails" in emptied.resource, false);
});

Deno.test("applyPatch() makes a newly primary value the only primary one", () => {
  const result = patch(
    user(),
    body({
      op: "add",
      path: "emails",
      value: [{ value: "second@example.com", type: "home", primary: true }],
    }),
  );
  assert.deepEqual(result.resource.emails, [
    { primary: false, value: "test.user@okta.local", type: "work" },
    { value: "second@example.com", type: "home", primary: true },
  ]);
});

Deno.test("applyPatch() stores unknown attributes and unknown extensions by their SCIM name", () => {
  const custom = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
  const result = patch(
    { userName: "a" },
    body(
      { op: "add", path: "badgeColor", value: "blue" },
      { op: "add", path: `${custom}:costCentre`, value: "CC-1" },
      { op: "replace", value: { [custom]: { floor: 3 } } },
    ),
  );
  assert.deepEqual(result.resource, {
    userName: "a",
    badgeColor: "blue",
    [custom]: { costCentre: "CC-1", floor: 3 },
  });
  const changed = patch(result.resource, body({ op: "replace", path: "BADGECOLOR", value: "red" }));
  assert.deepEqual(changed.resource.badgeColor, "red");
});

// ---------------------------------------------------------------------------------------------
// applyPatch(): value-path filters
// ---------------------------------------------------------------------------------------------

Deno.test("applyPatch() creates the element a value-path filter does not match", () => {
  const result = patch({ userName: "a" }, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Add", path: 'emails[type eq "work"].value', value: "a@contoso.com" }],
  });
  assert.deepEqual(result.resource.emails, [{ type: "work", value: "a@contoso.com" }]);
  assert.deepEqual(result.changedAttributes, ["emails"]);
});

Deno.test("applyPatch() creates Entra's addresses, phoneNumbers and proxyAddresses elements", () => {
  const result = patch(
    { userName: "a" },
    body(
      { op: "Add", path: 'addresses[type eq "work"].formatted', value: "1 Main St" },
      { op: "Add", path: 'phoneNumbers[type eq "mobile"].value', value: "+1 555 0100" },
      { op: "Add", path: 'emails[type eq "other"].Value', value: "smtp:alias@contoso.com" },
    ),
  );
  assert.deepEqual(result.resource, {
    userName: "a",
    addresses: [{ type: "work", formatted: "1 Main St" }],
    phoneNumbers: [{ type: "mobile", value: "+1 555 0100" }],
    emails: [{ type: "other", value: "smtp:alias@contoso.com" }],
  });
});

Deno.test("applyPatch() sets the sub-attribute on the matching element only", () => {
  const resource = {
    userName: "a",
    emails: [
      { value: "old@contoso.com", type: "work", primary: true },
      { value: "me@home.example", type: "home" },
    ],
  };
  const result = patch(resource, {
    schemas: [PATCH_OP],
    Operations: [
      { op: "Replace", path: 'emails[type eq "work"].value', value: "updatedEmail@microsoft.com" },
      { op: "Replace", path: "name.familyName", value: "updatedFamilyName" },
    ],
  });
  assert.deepEqual(result.resource, {
    userName: "a",
    emails: [
      { value: "updatedEmail@microsoft.com", type: "work", primary: true },
      { value: "me@home.example", type: "home" },
    ],
    name: { familyName: "updatedFamilyName" },
  });
  assert.deepEqual(result.changedAttributes, ["emails", "name"]);
});

Deno.test("applyPatch() merges an object into the elements a value-path filter matches", () => {
  const result = patch(
    user(),
    body({
      op: "replace",
      path: 'emails[type eq "work"]',
      value: { value: "merged@example.com", display: "Work" },
    }),
  );
  assert.deepEqual(result.resource.emails, [
    { primary: true, value: "merged@example.com", type: "work", display: "Work" },
  ]);
});

Deno.test("applyPatch() removes the elements a value-path filter matches", () => {
  const resource = {
    emails: [{ value: "a@x", type: "work" }, { value: "b@x", type: "home" }],
  };
  const result = patch(resource, body({ op: "remove", path: 'emails[type eq "work"]' }));
  assert.deepEqual(result.resource.emails, [{ value: "b@x", type: "home" }]);
  const sub = patch(resource, body({ op: "remove", path: 'emails[type eq "home"].type' }));
  assert.deepEqual(sub.resource.emails, [{ value: "a@x", type: "work" }, { value: "b@x" }]);
});

Deno.test("applyPatch() removes an attribute whose last element is removed", () => {
  const result = patch(user(), body({ op: "remove", path: 'emails[type eq "work"]' }));
  assert.equal("emails" in result.resource, false);
  assert.deepEqual(result.changedAttributes, ["emails"]);
});

Deno.test("applyPatch() treats a remove whose filter matches nothing as a no-op", () => {
  const result = patch(
    user(),
    body(
      { op: "remove", path: 'emails[type eq "home"]' },
      { op: "remove", path: 'phoneNumbers[type eq "mobile"].value' },
    ),
  );
  assert.equal(result.changed, false);
  assert.deepEqual(result.resource, user());
});

Deno.test("applyPatch() answers noTarget when a filter matches nothing and cannot create", () => {
  assertScimError(
    () => patch(user(), body({ op: "replace", path: 'emails[type co "ho"].value', value: "x" })),
    { status: 400, scimType: "noTarget", detail: /^Operation 1: No value of "emails" matches/ },
  );
});

// ---------------------------------------------------------------------------------------------
// applyPatch(): safety and atomicity
// ---------------------------------------------------------------------------------------------

Deno.test("applyPatch() never mutates its input", () => {
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

Deno.test("applyPatch() leaves Object.prototype untouched", () => {
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
    const operation = { ...(attempt as PatchOperation), index: 0 };
    assert.throws(
      () => applyPatch(user(), [operation], { resourceType: "User", id: "u1" }),
      rejected,
    );
    assert.throws(() => parsePatchRequest(body(attempt)), rejected);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
});

Deno.test("applyPatch() applies all operations or none", () => {
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

Deno.test("applyPatch() refuses group members, which are member operations", () => {
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

// ---------------------------------------------------------------------------------------------
// extractMemberOperations()
// ---------------------------------------------------------------------------------------------

Deno.test("extractMemberOperations() splits Okta's mixed membership PATCH in order", () => {
  const ops = parsePatchRequest({
    schemas: [PATCH_OP],
    Operations: [
      { op: "replace", value: { id: "abf4dd94", displayName: "Test SCIMv2" } },
      { op: "remove", path: 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]' },
      {
        op: "add",
        path: "members",
        value: [{ value: "23a35c27-23d3-4c03-b4c5-6443c09e7173", display: "test.user@okta.local" }],
      },
    ],
  });
  const { memberOps, otherOps } = extractMemberOperations(ops);
  assert.deepEqual(otherOps, [ops[0]]);
  assert.deepEqual(memberOps, [
    {
      op: "remove",
      filter: {
        kind: "compare",
        path: { attr: "value" },
        op: "eq",
        value: "89bb1940-b905-4575-9e7f-6f887cfb368e",
      },
    },
    { op: "add", values: ["23a35c27-23d3-4c03-b4c5-6443c09e7173"] },
  ]);
});

Deno.test("extractMemberOperations() removes only the members Entra lists in value", () => {
  const ops = parsePatchRequest(body(
    { op: "Remove", path: "members", value: [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }] },
  ));
  assert.deepEqual(extractMemberOperations(ops).memberOps, [
    { op: "remove", values: ["f648f8d5ea4e4cd38e9c"] },
  ]);
});

Deno.test("extractMemberOperations() reads Entra's adds with a null $ref, deduplicated", () => {
  const ops = parsePatchRequest(body(
    {
      op: "Add",
      path: "Members",
      value: [{ $ref: null, value: "u1" }, { $ref: null, value: "u2" }, { value: "u1" }],
    },
    {
      op: "add",
      path: "urn:ietf:params:scim:schemas:core:2.0:Group:members",
      value: { value: "u3" },
    },
    { op: "add", path: "members", value: "u4" },
  ));
  assert.deepEqual(extractMemberOperations(ops).memberOps, [
    { op: "add", values: ["u1", "u2"] },
    { op: "add", values: ["u3"] },
    { op: "add", values: ["u4"] },
  ]);
});

Deno.test("extractMemberOperations() removes all members when remove has no value", () => {
  const ops = parsePatchRequest(body({ op: "remove", path: "members" }));
  assert.deepEqual(extractMemberOperations(ops).memberOps, [{ op: "remove", all: true }]);
});

Deno.test("extractMemberOperations() replaces the member list exactly, [] and null empty it", () => {
  const ops = parsePatchRequest(body(
    { op: "replace", path: "members", value: [{ value: "u1" }, { value: "u2" }] },
    { op: "replace", path: "members", value: [] },
    { op: "replace", path: "members", value: null },
  ));
  assert.deepEqual(extractMemberOperations(ops).memberOps, [
    { op: "replace", values: ["u1", "u2"] },
    { op: "replace", values: [] },
    { op: "replace", values: [] },
  ]);
});

Deno.test("extractMemberOperations() splits members out of a pathless value", () => {
  const ops = parsePatchRequest(body(
    { op: "replace", value: { displayName: "Renamed", members: [{ value: "u1" }] } },
    { op: "add", value: { members: [{ value: "u2" }] } },
  ));
  const { memberOps, otherOps } = extractMemberOperations(ops);
  assert.deepEqual(memberOps, [
    { op: "replace", values: ["u1"] },
    { op: "add", values: ["u2"] },
  ]);
  assert.deepEqual(otherOps, [{ op: "replace", value: { displayName: "Renamed" }, index: 0 }]);
  const applied = applyPatch({ displayName: "G" }, otherOps, { resourceType: "Group", id: "g" });
  assert.deepEqual(applied.resource, { displayName: "Renamed" });
});

Deno.test("extractMemberOperations() rejects a member without a string value", () => {
  const ops = parsePatchRequest(body(
    { op: "add", path: "members", value: [{ value: "u1" }] },
    { op: "add", path: "members", value: [{ display: "no id" }] },
  ));
  assertScimError(() => extractMemberOperations(ops), {
    status: 400,
    scimType: "invalidValue",
    detail:
      'Operation 2: Each member must be an object with a non-empty string "value", got an object',
  });
});

// ---------------------------------------------------------------------------------------------
// selectValues()
// ---------------------------------------------------------------------------------------------

Deno.test("selectValues() reads the values a path selects", () => {
  const resource = {
    ...user(),
    emails: [
      { value: "home@example.com", type: "home" },
      { value: "work@example.com", type: "work", primary: true },
    ],
  };
  assert.deepEqual(selectValues(resource, 'emails[type eq "work"].value', "User"), [
    "work@example.com",
  ]);
  assert.deepEqual(selectValues(resource, 'EMAILS[TYPE eq "WORK"]', "User"), [resource.emails[1]]);
  assert.deepEqual(selectValues(resource, "name.givenName", "User"), ["Test"]);
  assert.deepEqual(selectValues(resource, "userName", "User"), ["test.user@okta.local"]);
  assert.deepEqual(selectValues(resource, `${ENTERPRISE}:department`, "User"), ["R&D"]);
  assert.deepEqual(selectValues(resource, `${ENTERPRISE}:manager.value`, "User"), ["m-1"]);
  assert.deepEqual(selectValues(resource, "emails.value", "User"), [
    "home@example.com",
    "work@example.com",
  ]);
  assert.deepEqual(selectValues(resource, "nickName", "User"), []);
  assert.deepEqual(selectValues(resource, 'phoneNumbers[type eq "work"].value', "User"), []);
});

Deno.test("selectValues() rejects an invalid path", () => {
  assertScimError(() => selectValues(user(), "emails[type eq", "User"), {
    status: 400,
    scimType: "invalidPath",
    detail: /^Cannot parse path/,
  });
});

Deno.test("applyPatch() removes only the listed values when remove carries a value", () => {
  const resource = {
    emails: [{ value: "a@x", type: "work" }, { value: "b@x", type: "home" }],
  };
  const result = patch(
    resource,
    body({ op: "Remove", path: "emails", value: [{ $ref: null, value: "b@x" }] }),
  );
  assert.deepEqual(result.resource.emails, [{ value: "a@x", type: "work" }]);
});

Deno.test("applyPatch() creates an element from Entra's string boolean filter", () => {
  const result = patch(
    { userName: "a" },
    body({
      op: "Add",
      path: 'roles[primary eq "True"].value',
      value: "Admin",
    }),
  );
  assert.deepEqual(result.resource.roles, [{ primary: true, value: "Admin" }]);
  const again = patch(
    result.resource,
    body({
      op: "Replace",
      path: 'roles[primary eq "True"].value',
      value: "Owner",
    }),
  );
  assert.deepEqual(again.resource.roles, [{ primary: true, value: "Owner" }]);
});

Deno.test("applyPatch() answers invalidPath for a filter comparison with no meaning", () => {
  assertScimError(
    () => patch(user(), body({ op: "replace", path: "emails[primary gt 1].value", value: "x" })),
    { status: 400, scimType: "invalidPath", detail: /^Operation 1: Cannot resolve path/ },
  );
});
