/**
 * Tests of `extractMemberOperations()`: group membership PATCHes as Okta and Entra ID send them
 * (O9, E6).
 * @module
 */
import assert from "node:assert/strict";
import { applyPatch } from "./apply.ts";
import { parsePatchRequest } from "./parse.ts";
import { extractMemberOperations } from "./members.ts";
import { assertScimError, body } from "./_test_utils.ts";
import { PATCH_OP } from "../urns.ts";

Deno.test("extractMemberOperations() - splits Okta's mixed membership PATCH in order", () => {
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

Deno.test("extractMemberOperations() - removes only the members Entra lists in value", () => {
  const ops = parsePatchRequest(body(
    { op: "Remove", path: "members", value: [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }] },
  ));
  assert.deepEqual(extractMemberOperations(ops).memberOps, [
    { op: "remove", values: ["f648f8d5ea4e4cd38e9c"] },
  ]);
});

Deno.test("extractMemberOperations() - reads Entra's adds with a null $ref, deduplicated", () => {
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

Deno.test("extractMemberOperations() - removes all members when remove has no value", () => {
  const ops = parsePatchRequest(body({ op: "remove", path: "members" }));
  assert.deepEqual(extractMemberOperations(ops).memberOps, [{ op: "remove", all: true }]);
});

Deno.test("extractMemberOperations() - replaces the member list exactly, [] and null empty it", () => {
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

Deno.test("extractMemberOperations() - splits members out of a pathless value", () => {
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

Deno.test("extractMemberOperations() - rejects a member without a string value", () => {
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
