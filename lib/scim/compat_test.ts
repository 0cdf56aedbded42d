/**
 * Tests of the IdP PATCH quirks (RFC 7644 §3.5.2 deviations), one per function, with the values
 * Okta, Entra ID and OneLogin send (`docs/idp-behaviour.md` O8, E1–E6, X1, O4, O7).
 * @module
 */
import assert from "node:assert/strict";
import {
  coerceBoolean,
  elementFromFilter,
  isClearValue,
  isIgnoredAttribute,
  isMemberRemovalByValueArray,
  memberValue,
  normalizeManagerValue,
  normalizeOp,
  stripOktaIdFromValue,
} from "./compat.ts";
import { parsePath } from "./filter/parser.ts";
import type { Filter } from "./filter/ast.ts";

Deno.test("normalizeOp() accepts Entra's capitalised and OneLogin's lowercase ops", () => {
  assert.equal(normalizeOp("Replace"), "replace");
  assert.equal(normalizeOp("Add"), "add");
  assert.equal(normalizeOp("Remove"), "remove");
  assert.equal(normalizeOp("add"), "add");
  assert.equal(normalizeOp(" REPLACE "), "replace");
  assert.equal(normalizeOp("move"), undefined);
  assert.equal(normalizeOp(undefined), undefined);
  assert.equal(normalizeOp(1), undefined);
});

Deno.test('coerceBoolean() accepts Entra\'s "True"/"False" in any case', () => {
  assert.equal(coerceBoolean("False"), false);
  assert.equal(coerceBoolean("True"), true);
  assert.equal(coerceBoolean("TRUE"), true);
  assert.equal(coerceBoolean("false"), false);
  assert.equal(coerceBoolean(true), true);
  assert.equal(coerceBoolean(false), false);
  assert.equal(coerceBoolean("yes"), undefined);
  assert.equal(coerceBoolean(0), undefined);
  assert.equal(coerceBoolean(null), undefined);
});

Deno.test("stripOktaIdFromValue() drops the id of Okta's pathless group rename", () => {
  const id = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b";
  assert.deepEqual(stripOktaIdFromValue({ id, displayName: "Test SCIMv2" }, id), {
    value: { displayName: "Test SCIMv2" },
  });
  assert.deepEqual(stripOktaIdFromValue({ ID: "other", displayName: "X" }, id), {
    value: { displayName: "X" },
    foreignId: "other",
  });
  assert.deepEqual(stripOktaIdFromValue("plain", id), { value: "plain" });
});

Deno.test("normalizeManagerValue() accepts Entra's string, the object and the old array form", () => {
  assert.deepEqual(normalizeManagerValue("m-1"), { value: "m-1" });
  assert.deepEqual(normalizeManagerValue({ value: "m-1", displayName: "Boss" }), { value: "m-1" });
  assert.deepEqual(
    normalizeManagerValue([{ $ref: "https://h/scim/v2/Users/m-1", value: "m-1" }]),
    { value: "m-1" },
  );
  assert.equal(normalizeManagerValue(""), null);
  assert.equal(normalizeManagerValue(null), null);
  assert.equal(normalizeManagerValue({ value: "" }), null);
  assert.equal(normalizeManagerValue([]), null);
  assert.equal(normalizeManagerValue(42), undefined);
  assert.equal(normalizeManagerValue({ displayName: "Boss" }), undefined);
  assert.equal(normalizeManagerValue([{ value: "a" }, { value: "b" }]), undefined);
});

Deno.test("isMemberRemovalByValueArray() recognises Entra's default member removal", () => {
  assert.equal(
    isMemberRemovalByValueArray({
      op: "Remove",
      path: "members",
      value: [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }],
    }),
    true,
  );
  assert.equal(
    isMemberRemovalByValueArray({
      op: "remove",
      path: "urn:ietf:params:scim:schemas:core:2.0:Group:Members",
      value: { value: "u1" },
    }),
    true,
  );
  assert.equal(isMemberRemovalByValueArray({ op: "remove", path: "members" }), false);
  assert.equal(
    isMemberRemovalByValueArray({ op: "remove", path: 'members[value eq "u1"]' }),
    false,
  );
  assert.equal(
    isMemberRemovalByValueArray({ op: "add", path: "members", value: [{ value: "u1" }] }),
    false,
  );
});

Deno.test("memberValue() reads Entra's and Okta's member entries", () => {
  assert.equal(memberValue({ $ref: null, value: "u1" }), "u1");
  assert.equal(memberValue({ value: "u2", display: "test.user@okta.local" }), "u2");
  assert.equal(memberValue({ Value: "u3" }), "u3");
  assert.equal(memberValue("u4"), "u4");
  assert.equal(memberValue({ value: "" }), undefined);
  assert.equal(memberValue({ value: 5 }), undefined);
  assert.equal(memberValue({ display: "x" }), undefined);
  assert.equal(memberValue(null), undefined);
});

Deno.test("elementFromFilter() builds the element Entra expects created", () => {
  const filter = (path: string): Filter => parsePath(path).filter as Filter;
  assert.deepEqual(elementFromFilter(filter('emails[type eq "work"].value')), { type: "work" });
  assert.deepEqual(
    elementFromFilter(filter('phoneNumbers[type eq "mobile" and primary eq true].value')),
    { type: "mobile", primary: true },
  );
  assert.equal(elementFromFilter(filter('emails[type eq "work" or type eq "home"]')), undefined);
  assert.equal(elementFromFilter(filter('emails[type co "work"]')), undefined);
  assert.equal(elementFromFilter(filter("emails[not (type eq null)]")), undefined);
});

Deno.test("isIgnoredAttribute() skips read-only and never-stored attributes", () => {
  for (const name of ["id", "ID", "meta", "schemas", "password"]) {
    assert.equal(isIgnoredAttribute(name, "User"), true, name);
    assert.equal(isIgnoredAttribute(name, "Group"), true, name);
  }
  assert.equal(isIgnoredAttribute("groups", "User"), true);
  assert.equal(isIgnoredAttribute("groups", "Group"), false);
  assert.equal(isIgnoredAttribute("externalId", "User"), false);
  assert.equal(isIgnoredAttribute("active", "User"), false);
});

Deno.test('isClearValue() treats Entra\'s "" and null as clear', () => {
  assert.equal(isClearValue(""), true);
  assert.equal(isClearValue(null), true);
  assert.equal(isClearValue(" "), false);
  assert.equal(isClearValue(false), false);
  assert.equal(isClearValue(0), false);
  assert.equal(isClearValue([]), false);
});
