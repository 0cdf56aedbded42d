/**
 * Tests of `add` and `replace` through `applyPatch()` (RFC 7644 §3.5.2.1, §3.5.2.3): typed values,
 * Entra's string booleans and manager (E2, E5), multi-valued attributes, and value-path targets
 * created when missing (E3).
 * @module
 */
import assert from "node:assert/strict";
import { assertScimError, body, ENTERPRISE, patch, user } from "./_test_utils.ts";
import { PATCH_OP } from "../urns.ts";

Deno.test("applyPatch() - coerces Entra's string booleans", () => {
  const disabled = patch(user(), body({ op: "Replace", path: "active", value: "False" }));
  assert.equal(disabled.resource.active, false);
  const enabled = patch(disabled.resource, body({ op: "Replace", path: "active", value: "True" }));
  assert.equal(enabled.resource.active, true);
  const pathless = patch(user(), body({ op: "replace", value: { active: "false" } }));
  assert.equal(pathless.resource.active, false);
});

Deno.test("applyPatch() - rejects a value that is not a boolean for a boolean attribute", () => {
  assertScimError(() => patch(user(), body({ op: "replace", path: "active", value: "maybe" })), {
    status: 400,
    scimType: "invalidValue",
    detail: 'Operation 1: "active" must be a boolean, got "maybe"',
  });
});

Deno.test("applyPatch() - sets, changes and clears Entra's string manager", () => {
  const managerPath = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
  const set = patch({ userName: "a" }, body({ op: "Add", path: managerPath, value: "m-100" }));
  assert.deepEqual(set.resource[ENTERPRISE], { manager: { value: "m-100" } });
  const changed = patch(set.resource, body({ op: "replace", path: managerPath, value: "m-200" }));
  assert.deepEqual(changed.resource[ENTERPRISE], { manager: { value: "m-200" } });
  const cleared = patch(changed.resource, body({ op: "replace", path: managerPath, value: "" }));
  assert.deepEqual(cleared.resource, { userName: "a" });
  assert.deepEqual(cleared.changedAttributes, [`${ENTERPRISE}:manager`]);
});

Deno.test("applyPatch() - accepts the manager as an object or the old array form", () => {
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

Deno.test('applyPatch() - clears title with Entra\'s "" and null', () => {
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

Deno.test("applyPatch() - appends to a multi-valued attribute on add, without duplicates", () => {
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

Deno.test("applyPatch() - replaces a whole multi-valued attribute on replace", () => {
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

Deno.test("applyPatch() - makes a newly primary value the only primary one", () => {
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

Deno.test("applyPatch() - stores unknown attributes and unknown extensions by their SCIM name", () => {
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

Deno.test("applyPatch() - creates the element a value-path filter does not match", () => {
  const result = patch({ userName: "a" }, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Add", path: 'emails[type eq "work"].value', value: "a@contoso.com" }],
  });
  assert.deepEqual(result.resource.emails, [{ type: "work", value: "a@contoso.com" }]);
  assert.deepEqual(result.changedAttributes, ["emails"]);
});

Deno.test("applyPatch() - creates Entra's addresses, phoneNumbers and proxyAddresses elements", () => {
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

Deno.test("applyPatch() - sets the sub-attribute on the matching element only", () => {
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

Deno.test("applyPatch() - merges an object into the elements a value-path filter matches", () => {
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

Deno.test("applyPatch() - answers noTarget when a filter matches nothing and cannot create", () => {
  assertScimError(
    () => patch(user(), body({ op: "replace", path: 'emails[type co "ho"].value', value: "x" })),
    { status: 400, scimType: "noTarget", detail: /^Operation 1: No value of "emails" matches/ },
  );
});

Deno.test("applyPatch() - creates an element from Entra's string boolean filter", () => {
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
