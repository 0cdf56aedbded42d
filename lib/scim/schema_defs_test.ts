import assert from "node:assert/strict";
import {
  attributeLookup,
  canonicalSchemaUrn,
  COMMON_ATTRIBUTES,
  coreSchemaUrn,
  ENTERPRISE_USER_SCHEMA_DEF,
  extensionDefining,
  extensionKeyOfUri,
  extensionUrns,
  findAttribute,
  findSubAttribute,
  GROUP_SCHEMA_DEF,
  schemaDefs,
  splitAttributeName,
  USER_SCHEMA_DEF,
  wholeExtensionKey,
} from "./schema_defs.ts";
import type { AttributeDef } from "./schema_types.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./urns.ts";

const ENTERPRISE = ENTERPRISE_USER_SCHEMA;

function names(attributes: readonly AttributeDef[] | undefined): string[] {
  return (attributes ?? []).map((def) => def.name);
}

function user(attr: string, sub?: string): AttributeDef {
  const def = findAttribute("User", sub === undefined ? { attr } : { attr, sub });
  assert.ok(def, `User attribute ${attr}${sub ? `.${sub}` : ""} is defined`);
  return def;
}

Deno.test("USER_SCHEMA_DEF lists every RFC 7643 §4.1 attribute", () => {
  assert.equal(USER_SCHEMA_DEF.id, USER_SCHEMA);
  assert.deepEqual(names(USER_SCHEMA_DEF.attributes), [
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
  ]);
  assert.deepEqual(names(user("name").subAttributes), [
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
  ]);
  for (const attr of ["emails", "phoneNumbers", "ims", "photos", "entitlements", "roles"]) {
    assert.deepEqual(names(user(attr).subAttributes), ["value", "display", "type", "primary"]);
    assert.equal(user(attr).multiValued, true);
    assert.equal(user(attr, "primary").type, "boolean");
  }
  assert.deepEqual(names(user("x509Certificates").subAttributes), [
    "value",
    "display",
    "type",
    "primary",
  ]);
  assert.equal(user("x509Certificates", "value").type, "binary");
  assert.deepEqual(names(user("addresses").subAttributes), [
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
    "primary",
  ]);
  assert.deepEqual(names(user("groups").subAttributes), ["value", "$ref", "display", "type"]);
  assert.deepEqual(user("emails", "type").canonicalValues, ["work", "home", "other"]);
  assert.equal(user("photos", "value").type, "reference");
  assert.deepEqual(user("profileUrl").referenceTypes, ["external"]);
});

Deno.test("USER_SCHEMA_DEF marks characteristics as RFC 7643 §8.7.1 does", () => {
  const userName = user("userName");
  assert.equal(userName.required, true);
  assert.equal(userName.uniqueness, "server");
  assert.equal(userName.caseExact, false);
  assert.equal(userName.mutability, "readWrite");

  const password = user("password");
  assert.equal(password.mutability, "writeOnly");
  assert.equal(password.returned, "never");

  const groups = user("groups");
  assert.equal(groups.mutability, "readOnly");
  assert.ok(groups.subAttributes?.every((sub) => sub.mutability === "readOnly"));
  assert.deepEqual(user("groups", "$ref").referenceTypes, ["User", "Group"]);

  assert.equal(user("active").type, "boolean");
});

Deno.test("COMMON_ATTRIBUTES define id, externalId and meta (RFC 7643 §3.1)", () => {
  assert.deepEqual(names(COMMON_ATTRIBUTES), ["id", "externalId", "meta"]);
  const id = user("id");
  assert.equal(id.caseExact, true);
  assert.equal(id.mutability, "readOnly");
  assert.equal(id.returned, "always");
  const externalId = user("externalId");
  assert.equal(externalId.caseExact, true);
  assert.equal(externalId.mutability, "readWrite");
  assert.deepEqual(names(user("meta").subAttributes), [
    "resourceType",
    "created",
    "lastModified",
    "location",
    "version",
  ]);
  assert.equal(user("meta", "created").type, "dateTime");
  assert.equal(user("meta", "lastModified").type, "dateTime");
  assert.equal(user("meta", "location").type, "reference");
  assert.equal(user("meta").mutability, "readOnly");
});

Deno.test("GROUP_SCHEMA_DEF defines displayName and readWrite members (RFC 7643 §4.2)", () => {
  assert.equal(GROUP_SCHEMA_DEF.id, GROUP_SCHEMA);
  assert.deepEqual(names(GROUP_SCHEMA_DEF.attributes), ["displayName", "members"]);
  const members = findAttribute("Group", { attr: "members" });
  assert.equal(members?.mutability, "readWrite");
  assert.equal(members?.multiValued, true);
  assert.deepEqual(names(members?.subAttributes), ["value", "$ref", "display", "type"]);
  assert.deepEqual(findAttribute("Group", { attr: "members", sub: "type" })?.canonicalValues, [
    "User",
    "Group",
  ]);
  assert.equal(findAttribute("Group", { attr: "displayName" })?.required, true);
});

Deno.test("ENTERPRISE_USER_SCHEMA_DEF defines the RFC 7643 §4.3 attributes", () => {
  assert.equal(ENTERPRISE_USER_SCHEMA_DEF.id, ENTERPRISE);
  assert.deepEqual(names(ENTERPRISE_USER_SCHEMA_DEF.attributes), [
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
  ]);
  const manager = findAttribute("User", { uri: ENTERPRISE, attr: "manager" });
  assert.deepEqual(names(manager?.subAttributes), ["value", "$ref", "displayName"]);
  assert.equal(
    findAttribute("User", { uri: ENTERPRISE, attr: "manager", sub: "displayName" })?.mutability,
    "readOnly",
  );
});

Deno.test("schema definitions are frozen and contain no null or undefined values", () => {
  for (const schema of [USER_SCHEMA_DEF, GROUP_SCHEMA_DEF, ENTERPRISE_USER_SCHEMA_DEF]) {
    assert.ok(Object.isFrozen(schema));
    assert.ok(Object.isFrozen(schema.attributes[0]));
    assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema);
    assert.ok(!JSON.stringify(schema).includes(":null"));
  }
  assert.throws(() => {
    (USER_SCHEMA_DEF.attributes[0] as { name: string }).name = "x";
  }, TypeError);
});

Deno.test("findAttribute() matches names case-insensitively", () => {
  assert.equal(findAttribute("User", { attr: "USERNAME" })?.name, "userName");
  assert.equal(findAttribute("User", { attr: "emails", sub: "VALUE" })?.name, "value");
  assert.equal(findAttribute("User", { attr: "Name", sub: "givenname" })?.name, "givenName");
  assert.equal(findAttribute("Group", { attr: "Members" })?.name, "members");
});

Deno.test("findAttribute() resolves core and common attributes with or without the core URN", () => {
  assert.equal(findAttribute("User", { uri: USER_SCHEMA, attr: "userName" })?.name, "userName");
  assert.equal(
    findAttribute("User", { uri: USER_SCHEMA.toUpperCase(), attr: "externalId" })?.name,
    "externalId",
  );
  assert.equal(findAttribute("Group", { uri: GROUP_SCHEMA, attr: "id" })?.name, "id");
  assert.equal(findAttribute("User", { attr: "meta", sub: "lastModified" })?.type, "dateTime");
  assert.equal(findAttribute("User", { uri: GROUP_SCHEMA, attr: "displayName" }), undefined);
  assert.equal(findAttribute("Group", { attr: "userName" }), undefined);
});

Deno.test("findAttribute() resolves Enterprise User attributes only under their URN", () => {
  assert.equal(
    findAttribute("User", { uri: ENTERPRISE.toLowerCase(), attr: "DEPARTMENT" })?.name,
    "department",
  );
  assert.equal(
    findAttribute("User", { uri: ENTERPRISE, attr: "manager", sub: "value" })?.name,
    "value",
  );
  assert.equal(findAttribute("User", { attr: "department" }), undefined);
  assert.equal(findAttribute("User", { uri: ENTERPRISE, attr: "userName" }), undefined);
  assert.equal(findAttribute("Group", { uri: ENTERPRISE, attr: "department" }), undefined);
  assert.equal(
    findAttribute("User", {
      uri: "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
      attr: "department",
    }),
    undefined,
  );
});

Deno.test("findAttribute() returns undefined for unknown names and sub-attributes of simple types", () => {
  assert.equal(findAttribute("User", { attr: "nope" }), undefined);
  assert.equal(findAttribute("User", { attr: "emails", sub: "nope" }), undefined);
  assert.equal(findAttribute("User", { attr: "userName", sub: "value" }), undefined);
  assert.equal(findAttribute("User", { attr: "constructor" }), undefined);
  assert.equal(findAttribute("User", { attr: "__proto__" }), undefined);
  assert.equal(findAttribute("User", { attr: "name", sub: "toString" }), undefined);
});

Deno.test("findSubAttribute() finds sub-attributes case-insensitively", () => {
  assert.equal(findSubAttribute(user("emails"), "Primary")?.type, "boolean");
  assert.equal(findSubAttribute(user("userName"), "value"), undefined);
});

Deno.test("attributeLookup() returns one memoised function per resource type", () => {
  assert.equal(attributeLookup("User"), attributeLookup("User"));
  assert.notEqual(attributeLookup("User"), attributeLookup("Group"));
  assert.equal(attributeLookup("User")({ attr: "emails", sub: "type" }), user("emails", "type"));
  assert.equal(attributeLookup("Group")({ attr: "userName" }), undefined);
});

Deno.test("coreSchemaUrn(), extensionUrns() and schemaDefs() describe each resource type", () => {
  assert.equal(coreSchemaUrn("User"), USER_SCHEMA);
  assert.equal(coreSchemaUrn("Group"), GROUP_SCHEMA);
  assert.deepEqual(extensionUrns("User"), [ENTERPRISE]);
  assert.deepEqual(extensionUrns("Group"), []);
  assert.deepEqual(schemaDefs("User"), [USER_SCHEMA_DEF, ENTERPRISE_USER_SCHEMA_DEF]);
  assert.deepEqual(schemaDefs("Group"), [GROUP_SCHEMA_DEF]);
});

Deno.test("canonicalSchemaUrn() spells known URNs canonically", () => {
  assert.equal(canonicalSchemaUrn("User", ENTERPRISE.toUpperCase()), ENTERPRISE);
  assert.equal(canonicalSchemaUrn("User", USER_SCHEMA.toLowerCase()), USER_SCHEMA);
  assert.equal(canonicalSchemaUrn("Group", ENTERPRISE), undefined);
  assert.equal(
    canonicalSchemaUrn("User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"),
    undefined,
  );
});

Deno.test("splitAttributeName() splits URN prefixes and sub-attributes", () => {
  assert.deepEqual(splitAttributeName("userName"), { attr: "userName" });
  assert.deepEqual(splitAttributeName("name.givenName"), { attr: "name", sub: "givenName" });
  assert.deepEqual(splitAttributeName(`${ENTERPRISE}:manager.value`), {
    uri: ENTERPRISE,
    attr: "manager",
    sub: "value",
  });
  assert.deepEqual(splitAttributeName(`${USER_SCHEMA}:emails`), {
    uri: USER_SCHEMA,
    attr: "emails",
  });
});

Deno.test("wholeExtensionKey() - names a known extension canonically and a custom one as written", () => {
  const custom = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
  assert.equal(wholeExtensionKey("User", ENTERPRISE.toUpperCase()), ENTERPRISE);
  assert.equal(wholeExtensionKey("User", custom), custom);
  assert.equal(wholeExtensionKey("User", USER_SCHEMA), undefined);
  assert.equal(wholeExtensionKey("User", `${ENTERPRISE}:department`), undefined);
  assert.equal(wholeExtensionKey("User", "urn:acme:2.0:Group"), undefined);
  assert.equal(wholeExtensionKey("Group", "urn:acme:2.0:Group"), "urn:acme:2.0:Group");
  assert.equal(wholeExtensionKey("User", "department"), undefined);
});

Deno.test("extensionKeyOfUri() - strips the core URN and keeps unknown prefixes as written", () => {
  assert.equal(extensionKeyOfUri("User", undefined), undefined);
  assert.equal(extensionKeyOfUri("User", USER_SCHEMA.toLowerCase()), undefined);
  assert.equal(extensionKeyOfUri("User", ENTERPRISE.toLowerCase()), ENTERPRISE);
  assert.equal(extensionKeyOfUri("User", "urn:acme:2.0:User"), "urn:acme:2.0:User");
  assert.equal(extensionKeyOfUri("Group", GROUP_SCHEMA), undefined);
});

Deno.test("extensionDefining() - finds the extension of a bare extension attribute name", () => {
  assert.equal(extensionDefining("User", "EMPLOYEENUMBER")?.urn, ENTERPRISE);
  assert.equal(extensionDefining("User", "manager")?.def.name, "manager");
  assert.equal(extensionDefining("User", "notAnAttribute"), undefined);
  assert.equal(extensionDefining("Group", "employeeNumber"), undefined);
});
