import assert from "node:assert/strict";
import { ScimError } from "./errors.ts";
import { findAttribute } from "./schema_defs.ts";
import type { AttributeDef, AttributeType, ResourceTypeName } from "./schema_types.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./urns.ts";
import { normalizeAttributeValue, normalizeResource } from "./validate.ts";

const ENTERPRISE = ENTERPRISE_USER_SCHEMA;

/** Asserts that normalising `body` throws a SCIM error with this status, keyword and detail. */
function assertRejects(
  resourceType: ResourceTypeName,
  body: unknown,
  detail: string | RegExp,
  { status = 400, scimType = "invalidValue" }: { status?: number; scimType?: string } = {},
): void {
  assert.throws(
    () => normalizeResource(resourceType, body),
    (error: unknown) => {
      assert.ok(error instanceof ScimError, `expected a ScimError, got ${error}`);
      assert.equal(error.status, status);
      assert.equal(error.scimType, scimType);
      if (typeof detail === "string") assert.equal(error.message, detail);
      else assert.match(error.message, detail);
      return true;
    },
  );
}

Deno.test("normalizeResource() accepts Okta's create body, dropping password and groups", () => {
  const body = {
    schemas: [USER_SCHEMA],
    userName: "test.user@okta.local",
    name: { givenName: "Test", familyName: "User" },
    emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
    displayName: "Test User",
    locale: "en-US",
    externalId: "00ujl29u0le5T6Aj10h7",
    groups: [],
    password: "1mz050nq",
    active: true,
  };
  assert.deepEqual(normalizeResource("User", body), {
    userName: "test.user@okta.local",
    name: { givenName: "Test", familyName: "User" },
    emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
    displayName: "Test User",
    locale: "en-US",
    externalId: "00ujl29u0le5T6Aj10h7",
    active: true,
  });
});

Deno.test("normalizeResource() accepts Okta's PUT round-trip body", () => {
  const body = {
    schemas: [USER_SCHEMA],
    id: "5f0c1b8e-7a0e-4a8e-9a52-8b0e6f1d2c3b",
    userName: "test.user@okta.local",
    name: { givenName: "Test", middleName: "", familyName: "Userson" },
    emails: [{
      primary: true,
      value: "test.user@okta.local",
      type: "work",
      display: "test.user@okta.local",
    }],
    displayName: "Test Userson",
    locale: "en-US",
    externalId: "00ujl29u0le5T6Aj10h7",
    groups: [],
    active: false,
    meta: {
      resourceType: "User",
      created: "2024-01-02T03:04:05.678Z",
      lastModified: "2024-01-02T03:04:05.678Z",
      location: "https://acme.example.com/scim/v2/inbound/idp123/Users/5f0c",
      version: 'W/"1"',
    },
  };
  assert.deepEqual(normalizeResource("User", body), {
    userName: "test.user@okta.local",
    name: { givenName: "Test", middleName: "", familyName: "Userson" },
    emails: [{
      primary: true,
      value: "test.user@okta.local",
      type: "work",
      display: "test.user@okta.local",
    }],
    displayName: "Test Userson",
    locale: "en-US",
    externalId: "00ujl29u0le5T6Aj10h7",
    active: false,
  });
});

Deno.test("normalizeResource() accepts Entra's create body with meta, nulls and a typo'd URN", () => {
  const body = {
    schemas: [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
    externalId: "0a21f0f2-8d2a-4f8e-bf98-7b2c0f0b1e1d",
    userName: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    active: true,
    emails: [{ primary: true, type: "work", value: "Test_User_fd0ea19b@testuser.com" }],
    meta: { resourceType: "User" },
    name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
    roles: [],
    addresses: null,
    phoneNumbers: null,
    title: null,
    manager: null,
    [ENTERPRISE]: { manager: null, department: null, employeeNumber: "701984" },
  };
  assert.deepEqual(normalizeResource("User", body), {
    externalId: "0a21f0f2-8d2a-4f8e-bf98-7b2c0f0b1e1d",
    userName: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    active: true,
    emails: [{ primary: true, type: "work", value: "Test_User_fd0ea19b@testuser.com" }],
    name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
    roles: [],
    [ENTERPRISE]: { employeeNumber: "701984" },
  });
});

Deno.test("normalizeResource() accepts Entra's group body with a foreign schema URN", () => {
  const body = {
    schemas: [
      GROUP_SCHEMA,
      "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
    ],
    externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    displayName: "displayName",
    meta: { resourceType: "Group" },
  };
  assert.deepEqual(normalizeResource("Group", body), {
    externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    displayName: "displayName",
  });
});

Deno.test("normalizeResource() keeps Group members as {value, display, type, $ref}", () => {
  const body = {
    schemas: [GROUP_SCHEMA],
    displayName: "Test SCIMv2",
    members: [
      { $ref: null, value: "f648f8d5ea4e4cd38e9c" },
      { Value: "23a35c27", Display: "test.user@okta.local", TYPE: "User", extra: "x" },
      { value: "u3", $ref: "https://acme.example.com/scim/v2/inbound/idp123/Users/u3" },
      { value: "f648f8d5ea4e4cd38e9c", display: "duplicate" },
    ],
  };
  assert.deepEqual(normalizeResource("Group", body), {
    displayName: "Test SCIMv2",
    members: [
      { value: "f648f8d5ea4e4cd38e9c" },
      { value: "23a35c27", display: "test.user@okta.local", type: "User" },
      { value: "u3", $ref: "https://acme.example.com/scim/v2/inbound/idp123/Users/u3" },
    ],
  });
  assert.deepEqual(normalizeResource("Group", { displayName: "Empty", members: [] }), {
    displayName: "Empty",
    members: [],
  });
});

Deno.test("normalizeResource() requires a string value on every Group member", () => {
  assertRejects(
    "Group",
    { displayName: "g", members: [{ value: "u1" }, { display: "x" }] },
    'Attribute "members[1].value" is required',
  );
  assertRejects(
    "Group",
    { displayName: "g", members: [{ value: 42 }] },
    'Attribute "members[0].value" must be a string',
  );
  assertRejects(
    "Group",
    { displayName: "g", members: ["u1"] },
    'Attribute "members[0]" must be an object',
  );
});

Deno.test("normalizeResource() rewrites names and URN keys to their canonical case", () => {
  const body = {
    UserName: "bjensen",
    NAME: { GivenName: "Barbara", familyname: "Jensen" },
    Emails: [{ Value: "bjensen@example.com", TYPE: "work", Primary: true }],
    "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {
      Department: "Sales",
      MANAGER: { Value: "m1" },
    },
  };
  assert.deepEqual(normalizeResource("User", body), {
    userName: "bjensen",
    name: { givenName: "Barbara", familyName: "Jensen" },
    emails: [{ value: "bjensen@example.com", type: "work", primary: true }],
    [ENTERPRISE]: { department: "Sales", manager: { value: "m1" } },
  });
});

Deno.test("normalizeResource() keeps unknown attributes and extensions as sent", () => {
  const custom = "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User";
  const body = {
    userName: "bjensen",
    costCentreCode: "CC-1",
    badgeNumbers: [1, 2, null],
    name: { givenName: "Barbara", pronunciation: "bar-bra" },
    [custom]: { Favourite: "tea", nested: { a: null, b: true } },
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User": { department: "typo" },
  };
  assert.deepEqual(normalizeResource("User", body), {
    userName: "bjensen",
    costCentreCode: "CC-1",
    badgeNumbers: [1, 2],
    name: { givenName: "Barbara", pronunciation: "bar-bra" },
    [custom]: { Favourite: "tea", nested: { b: true } },
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User": { department: "typo" },
  });
});

Deno.test("normalizeResource() - a bare extension attribute name goes to its extension", () => {
  assert.deepEqual(
    normalizeResource("User", {
      userName: "bjensen",
      EmployeeNumber: "701984",
      manager: "m1",
      [ENTERPRISE]: { department: "Tour Operations" },
    }),
    {
      userName: "bjensen",
      [ENTERPRISE]: {
        department: "Tour Operations",
        employeeNumber: "701984",
        manager: { value: "m1" },
      },
    },
  );
  assertRejects(
    "User",
    { userName: "bjensen", employeeNumber: "1", [ENTERPRISE]: { employeeNumber: "2" } },
    `Attribute "${ENTERPRISE}:employeeNumber" is given more than once`,
  );
  // A core name stays core; a Group has no extension.
  assert.deepEqual(normalizeResource("User", { userName: "a", title: "x" }), {
    userName: "a",
    title: "x",
  });
  assert.deepEqual(normalizeResource("Group", { displayName: "g", employeeNumber: "1" }), {
    displayName: "g",
    employeeNumber: "1",
  });
});

Deno.test("normalizeResource() folds URN-qualified and dotted keys into their attribute", () => {
  const body = {
    [`${USER_SCHEMA}:userName`]: "bjensen",
    "name.givenName": "Barbara",
    name: { familyName: "Jensen" },
    [`${ENTERPRISE}:department`]: "Sales",
    [`${ENTERPRISE.toLowerCase()}:EmployeeNumber`]: "42",
    [ENTERPRISE]: { costCenter: "4130" },
    [`${ENTERPRISE}:manager.value`]: "m1",
  };
  assert.deepEqual(normalizeResource("User", body), {
    userName: "bjensen",
    name: { givenName: "Barbara", familyName: "Jensen" },
    [ENTERPRISE]: {
      department: "Sales",
      employeeNumber: "42",
      costCenter: "4130",
      manager: { value: "m1" },
    },
  });
});

Deno.test("normalizeResource() rejects an attribute given twice in different spellings", () => {
  assertRejects(
    "User",
    { userName: "a", UserName: "b" },
    'Attribute "userName" is given more than once',
  );
  assertRejects(
    "User",
    { userName: "a", [ENTERPRISE]: { department: "x" }, [`${ENTERPRISE}:Department`]: "y" },
    `Attribute "${ENTERPRISE}:department" is given more than once`,
  );
  assertRejects(
    "User",
    { userName: "a", name: { givenName: "x", GIVENNAME: "y" } },
    'Attribute "name.GIVENNAME" is given more than once',
  );
  assertRejects(
    "User",
    { userName: "a", name: { givenName: "x" }, "name.givenName": "y" },
    'Attribute "name.givenName" is given more than once',
  );
  // A null does not count: it is dropped first.
  assert.deepEqual(normalizeResource("User", { userName: "a", UserName: null }), { userName: "a" });
});

Deno.test("normalizeResource() rejects a dotted key on a simple or multi-valued attribute", () => {
  assertRejects(
    "User",
    { userName: "a", "emails.value": "x" },
    'Attribute "emails.value" is not a valid attribute path',
  );
  assertRejects(
    "User",
    { userName: "a", "active.value": true },
    'Attribute "active.value" is not a valid attribute path',
  );
});

Deno.test("normalizeResource() drops read-only, write-only and null attributes at every level", () => {
  const body = {
    schemas: [USER_SCHEMA],
    id: "u1",
    meta: { resourceType: "User" },
    "meta.created": "2024-01-01T00:00:00Z",
    userName: "bjensen",
    Schemas: ["x"],
    [`${USER_SCHEMA}:schemas`]: ["y"],
    password: "t1meMa$heen",
    PassWord: null,
    groups: [{ value: "g1", display: "Admins" }],
    title: null,
    name: { givenName: null, familyName: "Jensen" },
    emails: [null, { value: "a@example.com", display: null }],
    [ENTERPRISE]: { manager: { value: "m1", displayName: "Boss" } },
  };
  assert.deepEqual(normalizeResource("User", body), {
    userName: "bjensen",
    name: { familyName: "Jensen" },
    emails: [{ value: "a@example.com" }],
    [ENTERPRISE]: { manager: { value: "m1" } },
  });
});

Deno.test("normalizeResource() drops complex values and extensions that end up empty", () => {
  const body = {
    userName: "bjensen",
    name: { givenName: null },
    emails: [{}],
    [ENTERPRISE]: { manager: { displayName: "Boss" } },
  };
  assert.deepEqual(normalizeResource("User", body), { userName: "bjensen", emails: [] });
});

Deno.test("normalizeResource() coerces Entra's string booleans", () => {
  const body = {
    userName: "bjensen",
    active: "False",
    emails: [{ value: "a@example.com", primary: "TRUE" }],
    roles: [{ value: "Admin", primary: "true" }],
  };
  assert.deepEqual(normalizeResource("User", body), {
    userName: "bjensen",
    active: false,
    emails: [{ value: "a@example.com", primary: true }],
    roles: [{ value: "Admin", primary: true }],
  });
  assert.equal(normalizeResource("User", { userName: "b", active: "true" }).active, true);
  assertRejects("User", { userName: "b", active: "yes" }, 'Attribute "active" must be a boolean');
  assertRejects("User", { userName: "b", active: 1 }, 'Attribute "active" must be a boolean');
});

Deno.test("normalizeResource() accepts the manager as a string, an object or a one-element array", () => {
  function manager(value: unknown): unknown {
    const resource = normalizeResource("User", { userName: "b", [ENTERPRISE]: { manager: value } });
    return (resource[ENTERPRISE] as Record<string, unknown> | undefined)?.manager;
  }
  assert.deepEqual(manager("m1"), { value: "m1" });
  assert.deepEqual(manager({ value: "m1", $ref: "../Users/m1" }), {
    value: "m1",
    $ref: "../Users/m1",
  });
  assert.deepEqual(manager([{ value: "m1", $ref: "https://graph.example.com/Users/m1" }]), {
    value: "m1",
  });
  assert.deepEqual(manager(["m1"]), { value: "m1" });
  assert.equal(manager(""), undefined);
  assert.equal(manager([]), undefined);
  assert.deepEqual(
    normalizeResource("User", { userName: "b", [`${ENTERPRISE}:manager`]: "m2" })[ENTERPRISE],
    { manager: { value: "m2" } },
  );
  assertRejects(
    "User",
    { userName: "b", [ENTERPRISE]: { manager: [{ value: "m1" }, { value: "m2" }] } },
    `Attribute "${ENTERPRISE}:manager" must be a single value`,
  );
  assertRejects(
    "User",
    { userName: "b", [ENTERPRISE]: { manager: 7 } },
    `Attribute "${ENTERPRISE}:manager" must be an object`,
  );
  assertRejects(
    "User",
    { userName: "b", [ENTERPRISE]: { manager: { value: 7 } } },
    `Attribute "${ENTERPRISE}:manager.value" must be a string`,
  );
});

Deno.test("normalizeResource() keeps the first primary value and demotes the others", () => {
  const body = {
    userName: "bjensen",
    emails: [
      { value: "a@example.com", primary: false },
      { value: "b@example.com", primary: true },
      { value: "c@example.com", primary: "True" },
    ],
  };
  assert.deepEqual(normalizeResource("User", body).emails, [
    { value: "a@example.com", primary: false },
    { value: "b@example.com", primary: true },
    { value: "c@example.com", primary: false },
  ]);
});

Deno.test("normalizeResource() wraps a single object where an array is expected", () => {
  const body = { userName: "b", emails: { value: "a@example.com", type: "work" } };
  assert.deepEqual(normalizeResource("User", body).emails, [
    { value: "a@example.com", type: "work" },
  ]);
  assertRejects(
    "User",
    { userName: "b", emails: "a@example.com" },
    'Attribute "emails" must be an array',
  );
});

Deno.test("normalizeResource() names the failing attribute in type errors", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ userName: 42 }, 'Attribute "userName" must be a string'],
    [{ userName: "b", displayName: true }, 'Attribute "displayName" must be a string'],
    [{ userName: "b", externalId: 1234 }, 'Attribute "externalId" must be a string'],
    [{ userName: "b", profileUrl: {} }, 'Attribute "profileUrl" must be a string'],
    [{ userName: "b", name: "Barbara" }, 'Attribute "name" must be an object'],
    [{ userName: "b", name: { givenName: ["B"] } }, 'Attribute "name.givenName" must be a string'],
    [
      { userName: "b", emails: [{ primary: "maybe" }] },
      'Attribute "emails[0].primary" must be a boolean',
    ],
    [
      { userName: "b", emails: [{ value: "a" }, { value: 5 }] },
      'Attribute "emails[1].value" must be a string',
    ],
    [{ userName: "b", phoneNumbers: [42] }, 'Attribute "phoneNumbers[0]" must be an object'],
    [
      { userName: "b", x509Certificates: [{ value: "not base64!" }] },
      'Attribute "x509Certificates[0].value" must be a base64 string',
    ],
    [
      { userName: "b", [ENTERPRISE]: { department: 5 } },
      `Attribute "${ENTERPRISE}:department" must be a string`,
    ],
    [{ userName: "b", [ENTERPRISE]: "Sales" }, `Attribute "${ENTERPRISE}" must be an object`],
    [
      { userName: "b", Emails: [{ Primary: 1 }] },
      'Attribute "emails[0].primary" must be a boolean',
    ],
  ];
  for (const [body, detail] of cases) assertRejects("User", body, detail);
  assertRejects("Group", { displayName: ["x"] }, 'Attribute "displayName" must be a string');
  assertRejects(
    "Group",
    { displayName: "g", members: "u1" },
    'Attribute "members" must be an array',
  );
});

Deno.test("normalizeAttributeValue() checks integer, decimal and dateTime values", () => {
  // No writable core attribute has these types (`meta` is read-only); custom schemas and PATCH
  // values reach them through normalizeAttributeValue().
  function def(type: AttributeType, multiValued = false): AttributeDef {
    return {
      name: "x",
      type,
      multiValued,
      description: "",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none",
    };
  }
  function rejects(type: AttributeType, value: unknown, detail: string): void {
    assert.throws(() => normalizeAttributeValue(def(type), value, "x"), (error: unknown) => {
      assert.ok(error instanceof ScimError);
      assert.equal(error.scimType, "invalidValue");
      assert.equal(error.message, detail);
      return true;
    });
  }
  assert.equal(normalizeAttributeValue(def("integer"), 42, "x"), 42);
  rejects("integer", 4.2, 'Attribute "x" must be an integer');
  rejects("integer", "42", 'Attribute "x" must be an integer');
  rejects("integer", 2 ** 60, 'Attribute "x" must be an integer');
  assert.equal(normalizeAttributeValue(def("decimal"), 4.2, "x"), 4.2);
  rejects("decimal", "4.2", 'Attribute "x" must be a number');
  for (
    const ok of ["2011-08-01T21:32:44.882Z", "2011-08-01T21:32:44+02:00", "2011-08-01T21:32:44"]
  ) {
    assert.equal(normalizeAttributeValue(def("dateTime"), ok, "x"), ok);
  }
  for (const bad of ["2011-08-01", "yesterday", 1312234364]) {
    rejects("dateTime", bad, 'Attribute "x" must be an ISO 8601 dateTime');
  }
  assert.equal(normalizeAttributeValue(def("binary"), "TUlJRA==", "x"), "TUlJRA==");
  assert.equal(normalizeAttributeValue(def("boolean"), "False", "x"), false);
  assert.equal(normalizeAttributeValue(def("string"), null, "x"), undefined);
  assert.deepEqual(normalizeAttributeValue(def("string", true), "one", "x"), ["one"]);
  assert.deepEqual(
    normalizeAttributeValue(findAttribute("User", { attr: "emails" })!, { Value: "a" }, "emails"),
    [{ value: "a" }],
  );
});

Deno.test("normalizeResource() requires userName and displayName", () => {
  assertRejects("User", {}, 'Attribute "userName" is required');
  assertRejects("User", { userName: "" }, 'Attribute "userName" is required');
  assertRejects("User", { userName: "   " }, 'Attribute "userName" is required');
  assertRejects("User", { userName: null }, 'Attribute "userName" is required');
  assertRejects("Group", { members: [] }, 'Attribute "displayName" is required');
  assertRejects("Group", { displayName: "" }, 'Attribute "displayName" is required');
  assertRejects("Group", { userName: "x" }, 'Attribute "displayName" is required');
});

Deno.test("normalizeResource() rejects bodies that are not JSON objects", () => {
  for (const body of [null, undefined, "text", 42, true, [], [{ userName: "a" }], new Date()]) {
    assertRejects("User", body, "Cannot parse User: the body must be a JSON object", {
      scimType: "invalidSyntax",
    });
  }
});

Deno.test("normalizeResource() rejects prototype keys anywhere", () => {
  const bodies: [string, string][] = [
    ['{"userName":"a","__proto__":{"admin":true}}', 'Attribute "__proto__" is not allowed'],
    ['{"userName":"a","name":{"__proto__":{"x":1}}}', 'Attribute "name.__proto__" is not allowed'],
    ['{"userName":"a","constructor":{"prototype":{}}}', 'Attribute "constructor" is not allowed'],
    [
      '{"userName":"a","emails":[{"value":"x","prototype":1}]}',
      'Attribute "emails[0].prototype" is not allowed',
    ],
    ['{"userName":"a","meta":{"__proto__":{}}}', 'Attribute "meta.__proto__" is not allowed'],
    [
      `{"userName":"a","${ENTERPRISE}:__proto__":"x"}`,
      `Attribute "${ENTERPRISE}:__proto__" is not allowed`,
    ],
    ['{"userName":"a","name.__proto__":"x"}', 'Attribute "name.__proto__" is not allowed'],
    [
      '{"userName":"a","urn:x:custom:2.0:User":{"a":{"__proto__":1}}}',
      'Attribute "urn:x:custom:2.0:User.a.__proto__" is not allowed',
    ],
  ];
  for (const [json, detail] of bodies) assertRejects("User", JSON.parse(json), detail);
  assert.equal(({} as Record<string, unknown>).admin, undefined);
  assert.equal(
    Object.getPrototypeOf(normalizeResource("User", { userName: "a" })),
    Object.prototype,
  );
});

Deno.test("normalizeResource() limits string length, array length and nesting depth", () => {
  const long = "x".repeat(4097);
  assertRejects("User", { userName: long }, 'Attribute "userName" must be at most 4096 characters');
  assertRejects(
    "User",
    { userName: "a", custom: { note: long } },
    'Attribute "custom.note" must be at most 4096 characters',
  );
  assert.equal(
    normalizeResource("User", { userName: "a", title: "x".repeat(4096) }).title,
    "x".repeat(4096),
  );
  // Identifiers are index keys: at most 1 KiB of UTF-8.
  assertRejects(
    "User",
    { userName: "é".repeat(513) },
    'Attribute "userName" must be at most 1024 bytes',
  );
  assert.equal(
    normalizeResource("User", { userName: "x".repeat(1024) }).userName,
    "x".repeat(1024),
  );

  const emails = Array.from({ length: 1001 }, (_, i) => ({ value: `u${i}@example.com` }));
  assertRejects(
    "User",
    { userName: "a", emails },
    'Attribute "emails" must have at most 1000 values',
  );
  assertRejects(
    "User",
    { userName: "a", tags: Array.from({ length: 1001 }, () => "t") },
    'Attribute "tags" must have at most 1000 values',
  );

  let deep: Record<string, unknown> = { leaf: "x" };
  for (let i = 0; i < 8; i++) deep = { level: deep };
  assertRejects(
    "User",
    { userName: "a", custom: deep },
    /^Attribute "custom(\.level)+" is nested deeper than 8 levels$/,
  );
  let ok: Record<string, unknown> = { leaf: "x" };
  for (let i = 0; i < 6; i++) ok = { level: ok };
  assert.ok(normalizeResource("User", { userName: "a", custom: ok }).custom);
});

Deno.test("normalizeResource() allows 10,000 Group members and no more", () => {
  const members = Array.from({ length: 10_000 }, (_, i) => ({ value: `u${i}` }));
  assert.equal(
    (normalizeResource("Group", { displayName: "All", members }).members as unknown[]).length,
    10_000,
  );
  assertRejects(
    "Group",
    { displayName: "All", members: [...members, { value: "one-more" }] },
    'Attribute "members" must have at most 10000 values',
  );
});

Deno.test("normalizeResource() rejects a User over 60 KiB with 413 tooMany", () => {
  const addresses = Array.from(
    { length: 20 },
    (_, i) => ({ formatted: `${i}${"x".repeat(4000)}` }),
  );
  assertRejects(
    "User",
    { userName: "a", addresses },
    /^Cannot store User: it takes \d+ bytes, over the limit of 61440 bytes$/,
    {
      status: 413,
      scimType: "tooMany",
    },
  );
  const fits = Array.from({ length: 14 }, (_, i) => ({ formatted: `${i}${"x".repeat(4000)}` }));
  assert.equal(
    (normalizeResource("User", { userName: "a", addresses: fits }).addresses as unknown[]).length,
    14,
  );
});

Deno.test("normalizeResource() does not count Group members toward the size limit", () => {
  const members = Array.from({ length: 2000 }, (_, i) => ({ value: `${i}`.padStart(36, "0") }));
  assert.equal(
    (normalizeResource("Group", { displayName: "Big", members }).members as unknown[]).length,
    2000,
  );
});

Deno.test("normalizeResource() does not modify its input", () => {
  const body = {
    userName: "a",
    active: "True",
    emails: [{ value: "x", primary: true }, { value: "y", primary: true }],
  };
  const copy = structuredClone(body);
  normalizeResource("User", body);
  assert.deepEqual(body, copy);
});

Deno.test("normalizeResource() is idempotent", () => {
  const body = {
    UserName: "bjensen",
    active: "False",
    emails: [{ Value: "a@example.com", primary: true }, { value: "b@example.com", primary: true }],
    [`${ENTERPRISE}:manager`]: "m1",
  };
  const once = normalizeResource("User", body);
  assert.deepEqual(normalizeResource("User", once), once);
});
