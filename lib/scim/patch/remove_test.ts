/**
 * Tests of `remove` through `applyPatch()` (RFC 7644 §3.5.2.2): whole attributes, value-path
 * matches, and Entra's removal by value (E6).
 * @module
 */
import assert from "node:assert/strict";
import { body, patch, user } from "./_test_utils.ts";

Deno.test("applyPatch() - removes a whole attribute", () => {
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

Deno.test("applyPatch() - removes the elements a value-path filter matches", () => {
  const resource = {
    emails: [{ value: "a@x", type: "work" }, { value: "b@x", type: "home" }],
  };
  const result = patch(resource, body({ op: "remove", path: 'emails[type eq "work"]' }));
  assert.deepEqual(result.resource.emails, [{ value: "b@x", type: "home" }]);
  const sub = patch(resource, body({ op: "remove", path: 'emails[type eq "home"].type' }));
  assert.deepEqual(sub.resource.emails, [{ value: "a@x", type: "work" }, { value: "b@x" }]);
});

Deno.test("applyPatch() - removes an attribute whose last element is removed", () => {
  const result = patch(user(), body({ op: "remove", path: 'emails[type eq "work"]' }));
  assert.equal("emails" in result.resource, false);
  assert.deepEqual(result.changedAttributes, ["emails"]);
});

Deno.test("applyPatch() - treats a remove whose filter matches nothing as a no-op", () => {
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

Deno.test("applyPatch() - removes only the listed values when remove carries a value", () => {
  const resource = {
    emails: [{ value: "a@x", type: "work" }, { value: "b@x", type: "home" }],
  };
  const result = patch(
    resource,
    body({ op: "Remove", path: "emails", value: [{ $ref: null, value: "b@x" }] }),
  );
  assert.deepEqual(result.resource.emails, [{ value: "a@x", type: "work" }]);
});
