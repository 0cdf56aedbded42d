import assert from "node:assert/strict";
import { parseAttributeList, project } from "./projection.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./urns.ts";

const ENTERPRISE = ENTERPRISE_USER_SCHEMA;
const CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User";

const META = {
  resourceType: "User",
  created: "2024-01-02T03:04:05.678Z",
  lastModified: "2024-01-02T03:04:05.678Z",
  location: "https://acme.example.com/scim/v2/inbound/idp123/Users/u1",
  version: 'W/"1"',
};

function userResource(): Record<string, unknown> {
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    id: "u1",
    externalId: "00ujl29u0le5T6Aj10h7",
    userName: "bjensen@example.com",
    name: { givenName: "Barbara", familyName: "Jensen", middleName: "" },
    active: true,
    emails: [
      { value: "bjensen@example.com", type: "work", primary: true },
      { value: "babs@jensen.org", type: "home" },
    ],
    password: "must never leak",
    [ENTERPRISE]: { department: "Sales", employeeNumber: "42", manager: { value: "m1" } },
    [CUSTOM]: { favourite: "tea" },
    meta: META,
  };
}

function groupResource(): Record<string, unknown> {
  return {
    schemas: [GROUP_SCHEMA],
    id: "g1",
    displayName: "Admins",
    externalId: "8aa1a0c0",
    members: [{ value: "u1", display: "bjensen@example.com" }, { value: "u2" }],
    meta: { ...META, resourceType: "Group" },
  };
}

Deno.test("project() without parameters returns everything but password", () => {
  const { password: _password, ...expected } = userResource();
  assert.deepEqual(project(userResource(), "User", {}), expected);
  assert.deepEqual(
    project(userResource(), "User", { attributes: [], excludedAttributes: [] }),
    expected,
  );
});

Deno.test("project() with attributes returns those plus schemas and id", () => {
  assert.deepEqual(project(userResource(), "User", { attributes: ["userName", "active"] }), {
    schemas: [USER_SCHEMA, ENTERPRISE],
    id: "u1",
    userName: "bjensen@example.com",
    active: true,
  });
  // Entra's manager check asks for `attributes=id`.
  assert.deepEqual(project(userResource(), "User", { attributes: ["id"] }), {
    schemas: [USER_SCHEMA, ENTERPRISE],
    id: "u1",
  });
});

Deno.test("project() matches attribute names case-insensitively", () => {
  assert.deepEqual(
    project(userResource(), "User", { attributes: ["USERNAME", "Name.GivenName"] }),
    {
      schemas: [USER_SCHEMA, ENTERPRISE],
      id: "u1",
      userName: "bjensen@example.com",
      name: { givenName: "Barbara" },
    },
  );
  const result = project(userResource(), "User", { excludedAttributes: ["EMAILS", "META"] });
  assert.equal(result.emails, undefined);
  assert.equal(result.meta, undefined);
  assert.equal(result.userName, "bjensen@example.com");
});

Deno.test("project() returns meta only when asked for with attributes", () => {
  assert.equal(project(userResource(), "User", { attributes: ["userName"] }).meta, undefined);
  assert.deepEqual(project(userResource(), "User", { attributes: ["meta"] }).meta, META);
  assert.deepEqual(project(userResource(), "User", { attributes: ["meta.lastModified"] }).meta, {
    lastModified: META.lastModified,
  });
  assert.deepEqual(
    project(userResource(), "User", { excludedAttributes: ["userName"] }).meta,
    META,
  );
});

Deno.test("project() selects sub-attributes of complex and multi-valued attributes", () => {
  assert.deepEqual(project(userResource(), "User", { attributes: ["emails.value"] }).emails, [
    { value: "bjensen@example.com" },
    { value: "babs@jensen.org" },
  ]);
  assert.deepEqual(project(userResource(), "User", { attributes: ["emails.primary"] }).emails, [
    { primary: true },
  ]);
  assert.deepEqual(
    project(userResource(), "User", { attributes: ["emails.value", "emails"] }).emails,
    userResource().emails,
  );
  assert.deepEqual(
    project(userResource(), "User", { excludedAttributes: ["emails.type"] }).emails,
    [
      { value: "bjensen@example.com", primary: true },
      { value: "babs@jensen.org" },
    ],
  );
  assert.deepEqual(
    project(userResource(), "User", { excludedAttributes: ["name.middleName"] }).name,
    {
      givenName: "Barbara",
      familyName: "Jensen",
    },
  );
});

Deno.test("project() resolves URN-qualified names", () => {
  assert.deepEqual(
    project(userResource(), "User", { attributes: [`${ENTERPRISE}:department`] }),
    { schemas: [USER_SCHEMA, ENTERPRISE], id: "u1", [ENTERPRISE]: { department: "Sales" } },
  );
  assert.deepEqual(
    project(userResource(), "User", { attributes: [`${ENTERPRISE.toLowerCase()}:manager.value`] })[
      ENTERPRISE
    ],
    { manager: { value: "m1" } },
  );
  assert.deepEqual(
    project(userResource(), "User", { attributes: [ENTERPRISE] })[ENTERPRISE],
    userResource()[ENTERPRISE],
  );
  assert.deepEqual(
    project(userResource(), "User", { attributes: [`${USER_SCHEMA}:userName`] }).userName,
    "bjensen@example.com",
  );
  assert.deepEqual(
    project(userResource(), "User", { attributes: [`${CUSTOM}:favourite`] })[CUSTOM],
    {
      favourite: "tea",
    },
  );

  const withoutDepartment = project(userResource(), "User", {
    excludedAttributes: [`${ENTERPRISE}:department`, `${USER_SCHEMA}:externalId`],
  });
  assert.deepEqual(withoutDepartment[ENTERPRISE], {
    employeeNumber: "42",
    manager: { value: "m1" },
  });
  assert.equal(withoutDepartment.externalId, undefined);
  assert.equal(
    project(userResource(), "User", { excludedAttributes: [CUSTOM] })[CUSTOM],
    undefined,
  );
});

Deno.test("project() honours excludedAttributes=members on Groups", () => {
  const { members: _members, ...expected } = groupResource();
  assert.deepEqual(
    project(groupResource(), "Group", { excludedAttributes: ["members"] }),
    expected,
  );
  assert.deepEqual(
    project(groupResource(), "Group", { excludedAttributes: ["Members"] }),
    expected,
  );
  assert.deepEqual(project(groupResource(), "Group", { attributes: ["displayName"] }), {
    schemas: [GROUP_SCHEMA],
    id: "g1",
    displayName: "Admins",
  });
  assert.deepEqual(project(groupResource(), "Group", { attributes: ["members.value"] }).members, [
    { value: "u1" },
    { value: "u2" },
  ]);
});

Deno.test("project() never leaves out schemas or id", () => {
  const result = project(userResource(), "User", {
    excludedAttributes: ["id", "schemas", "userName"],
  });
  assert.equal(result.id, "u1");
  assert.deepEqual(result.schemas, [USER_SCHEMA, ENTERPRISE]);
  assert.equal(result.userName, undefined);
});

Deno.test("project() never returns password", () => {
  for (
    const options of [
      {},
      { attributes: ["password"] },
      { attributes: ["PASSWORD", "userName"] },
      { excludedAttributes: ["userName"] },
    ]
  ) {
    assert.equal(project(userResource(), "User", options).password, undefined);
  }
});

Deno.test("project() applies attributes, then excludedAttributes, when both are given", () => {
  assert.deepEqual(
    project(userResource(), "User", {
      attributes: ["name"],
      excludedAttributes: ["name.familyName"],
    }),
    {
      schemas: [USER_SCHEMA, ENTERPRISE],
      id: "u1",
      name: { givenName: "Barbara", middleName: "" },
    },
  );
});

Deno.test("project() ignores names the resource does not have", () => {
  assert.deepEqual(project(userResource(), "User", { attributes: ["nickName", "emails.nope"] }), {
    schemas: [USER_SCHEMA, ENTERPRISE],
    id: "u1",
  });
  const { password: _password, ...expected } = userResource();
  assert.deepEqual(
    project(userResource(), "User", { excludedAttributes: ["nope", "userName.x"] }),
    expected,
  );
});

Deno.test("project() does not modify the resource", () => {
  const resource = userResource();
  project(resource, "User", { excludedAttributes: ["emails.value", "name"] });
  project(resource, "User", { attributes: ["emails.value"] });
  assert.deepEqual(resource, userResource());
});

Deno.test("parseAttributeList() splits at commas and trims", () => {
  assert.equal(parseAttributeList(undefined), undefined);
  assert.equal(parseAttributeList(""), undefined);
  assert.equal(parseAttributeList(" , "), undefined);
  assert.deepEqual(parseAttributeList("members"), ["members"]);
  assert.deepEqual(parseAttributeList("userName, name.givenName ,emails.value,"), [
    "userName",
    "name.givenName",
    "emails.value",
  ]);
  assert.deepEqual(parseAttributeList(`${ENTERPRISE}:department,id`), [
    `${ENTERPRISE}:department`,
    "id",
  ]);
});
