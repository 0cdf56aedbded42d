/**
 * Tests of reading stored resources by PATCH-style paths, as attribute mirroring does.
 * @module
 */
import assert from "node:assert/strict";
import { elementMatcher, selectValues } from "./select.ts";
import { parseFilter } from "./parser.ts";
import { ScimError } from "../errors.ts";
import { ENTERPRISE_USER_SCHEMA as ENTERPRISE } from "../urns.ts";

const RESOURCE = {
  userName: "test.user@okta.local",
  name: { givenName: "Test", familyName: "User" },
  emails: [
    { value: "home@example.com", type: "home" },
    { value: "work@example.com", type: "work", primary: true },
  ],
  [ENTERPRISE]: { department: "R&D", employeeNumber: "42", manager: { value: "m-1" } },
};

function throwsInvalidPath(fn: () => unknown, detail: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ScimError, `expected a ScimError, got ${error}`);
    assert.equal(error.scimType, "invalidPath");
    assert.match(error.message, detail);
    return true;
  });
}

Deno.test("selectValues() - reads the values a path selects", () => {
  assert.deepEqual(selectValues(RESOURCE, 'emails[type eq "work"].value', "User"), [
    "work@example.com",
  ]);
  assert.deepEqual(selectValues(RESOURCE, 'EMAILS[TYPE eq "WORK"]', "User"), [RESOURCE.emails[1]]);
  assert.deepEqual(selectValues(RESOURCE, "name.givenName", "User"), ["Test"]);
  assert.deepEqual(selectValues(RESOURCE, "userName", "User"), ["test.user@okta.local"]);
  assert.deepEqual(selectValues(RESOURCE, `${ENTERPRISE}:department`, "User"), ["R&D"]);
  assert.deepEqual(selectValues(RESOURCE, `${ENTERPRISE}:manager.value`, "User"), ["m-1"]);
  assert.deepEqual(selectValues(RESOURCE, "emails.value", "User"), [
    "home@example.com",
    "work@example.com",
  ]);
  assert.deepEqual(selectValues(RESOURCE, "nickName", "User"), []);
  assert.deepEqual(selectValues(RESOURCE, 'phoneNumbers[type eq "work"].value', "User"), []);
});

Deno.test("selectValues() - reads a whole extension and bare names only from the core", () => {
  assert.deepEqual(selectValues(RESOURCE, ENTERPRISE.toLowerCase(), "User"), [
    RESOURCE[ENTERPRISE],
  ]);
  assert.deepEqual(selectValues(RESOURCE, "department", "User"), []);
  assert.deepEqual(selectValues(RESOURCE, `${ENTERPRISE}:costCenter`, "User"), []);
});

Deno.test("selectValues() - rejects an invalid or reserved path", () => {
  throwsInvalidPath(() => selectValues(RESOURCE, "emails[type eq", "User"), /^Cannot parse path/);
  throwsInvalidPath(
    () => selectValues(RESOURCE, "constructor.prototype", "User"),
    /"constructor" is a reserved name/,
  );
});

Deno.test("elementMatcher() - tests elements with the evaluator's rules, a bad comparison is invalidPath", () => {
  const work = elementMatcher(
    { name: "emails", filter: parseFilter('type eq "WORK"'), label: "emails[type eq]" },
    "User",
  );
  assert.equal(work({ type: "work", value: "a@x" }), true);
  assert.equal(work({ type: "home", value: "a@x" }), false);
  const meaningless = elementMatcher(
    { name: "emails", filter: parseFilter("primary gt 1"), label: "emails[primary gt 1]" },
    "User",
  );
  throwsInvalidPath(
    () => meaningless({ primary: true }),
    /^Cannot resolve path "emails\[primary gt 1\]": /,
  );
});
