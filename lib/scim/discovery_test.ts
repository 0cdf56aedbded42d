import assert from "node:assert/strict";
import {
  resourceType,
  resourceTypes,
  schema,
  schemas,
  serviceProviderConfig,
} from "./discovery.ts";
import { ENTERPRISE_USER_SCHEMA_DEF, GROUP_SCHEMA_DEF, USER_SCHEMA_DEF } from "./schema_defs.ts";
import {
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  LIST_RESPONSE,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SERVICE_PROVIDER_CONFIG_SCHEMA,
  USER_SCHEMA,
} from "./urns.ts";

const BASE = "https://acme.example.com/scim/v2/inbound/idp123";
const LIMITS = { maxResults: 200, maxPayloadSize: 1_048_576, maxOperations: 1000 };

/** Asserts that a JSON document has no nulls and no non-camelCase property names. */
function assertCleanJson(value: unknown, path = "$"): void {
  assert.notEqual(value, null, `${path} is null`);
  assert.notEqual(value, undefined, `${path} is undefined`);
  if (Array.isArray(value)) {
    value.forEach((item, index) => assertCleanJson(item, `${path}[${index}]`));
  } else if (typeof value === "object" && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      assert.match(key, /^(\$ref|Resources|[a-z][A-Za-z0-9]*)$/, `${path}.${key} is camelCase`);
      assertCleanJson(child, `${path}.${key}`);
    }
  }
}

Deno.test("serviceProviderConfig() advertises what Weft supports", () => {
  const config = serviceProviderConfig(BASE, LIMITS);
  assert.deepEqual(JSON.parse(JSON.stringify(config)), {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 1_048_576 },
    filter: { supported: true, maxResults: 200 },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [{
      type: "oauthbearertoken",
      name: "OAuth Bearer Token",
      description:
        "Authentication with the bearer token minted for this identity provider connection",
      specUri: "https://www.rfc-editor.org/info/rfc6750",
      primary: true,
    }],
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: "index",
      defaultPageSize: 100,
      maxPageSize: 200,
      cursorTimeout: 3600,
    },
    meta: { resourceType: "ServiceProviderConfig", location: `${BASE}/ServiceProviderConfig` },
  });
  assertCleanJson(config);
});

Deno.test("resourceTypes() lists User (with the optional Enterprise extension) and Group", () => {
  const list = resourceTypes(BASE);
  assert.deepEqual(list.schemas, [LIST_RESPONSE]);
  assert.equal(list.totalResults, 2);
  assert.equal(list.itemsPerPage, 2);
  assert.equal(list.startIndex, 1);
  assert.ok(Number.isInteger(list.totalResults) && Number.isInteger(list.itemsPerPage));
  assert.deepEqual(JSON.parse(JSON.stringify(list.Resources)), [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: "User",
      name: "User",
      endpoint: "/Users",
      description: "User Account",
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: "ResourceType", location: `${BASE}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      description: "Group",
      schema: GROUP_SCHEMA,
      meta: { resourceType: "ResourceType", location: `${BASE}/ResourceTypes/Group` },
    },
  ]);
  assertCleanJson(list);
});

Deno.test("resourceType() finds one resource type by id, case-insensitively", () => {
  assert.equal(resourceType(BASE, "User")?.endpoint, "/Users");
  assert.equal(resourceType(BASE, "group")?.id, "Group");
  assert.deepEqual(resourceType(BASE, "GROUP")?.meta, {
    resourceType: "ResourceType",
    location: `${BASE}/ResourceTypes/Group`,
  });
  assert.equal(resourceType(BASE, "Device"), undefined);
  assert.equal(resourceType(BASE, "constructor"), undefined);
});

Deno.test("schemas() lists the three schemas in the RFC 7643 §7 shape", () => {
  const list = schemas(BASE);
  assert.deepEqual(list.schemas, [LIST_RESPONSE]);
  assert.equal(list.totalResults, 3);
  assert.equal(list.itemsPerPage, 3);
  assert.equal(list.startIndex, 1);
  assert.deepEqual(list.Resources.map((item) => item.id), [
    USER_SCHEMA,
    GROUP_SCHEMA,
    ENTERPRISE_USER_SCHEMA,
  ]);
  const [user, group, enterprise] = list.Resources;
  assert.deepEqual(JSON.parse(JSON.stringify(user)), {
    schemas: [SCHEMA_SCHEMA],
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: JSON.parse(JSON.stringify(USER_SCHEMA_DEF.attributes)),
    meta: { resourceType: "Schema", location: `${BASE}/Schemas/${USER_SCHEMA}` },
  });
  assert.equal(group.attributes, GROUP_SCHEMA_DEF.attributes);
  assert.equal(enterprise.attributes, ENTERPRISE_USER_SCHEMA_DEF.attributes);
  assert.equal(enterprise.name, "EnterpriseUser");
  assertCleanJson(list);
});

Deno.test("schemas() describes every attribute with all RFC 7643 §7 characteristics", () => {
  const keys = [
    "name",
    "type",
    "multiValued",
    "description",
    "required",
    "caseExact",
    "mutability",
    "returned",
    "uniqueness",
  ];
  function check(attribute: Record<string, unknown>): void {
    for (const key of keys) assert.ok(key in attribute, `${attribute.name} has ${key}`);
    if (attribute.type === "complex") {
      assert.ok(Array.isArray(attribute.subAttributes), `${attribute.name} has subAttributes`);
    }
    for (const sub of (attribute.subAttributes as Record<string, unknown>[] | undefined) ?? []) {
      check(sub);
    }
  }
  for (const item of schemas(BASE).Resources) {
    for (const attribute of item.attributes as Record<string, unknown>[]) check(attribute);
  }
});

Deno.test("schema() finds one schema by URN, case-insensitively", () => {
  assert.equal(schema(BASE, ENTERPRISE_USER_SCHEMA.toLowerCase())?.id, ENTERPRISE_USER_SCHEMA);
  assert.equal(schema(BASE, GROUP_SCHEMA)?.name, "Group");
  assert.deepEqual(schema(BASE, USER_SCHEMA)?.meta, {
    resourceType: "Schema",
    location: `${BASE}/Schemas/${USER_SCHEMA}`,
  });
  assert.equal(
    schema(BASE, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"),
    undefined,
  );
  assert.equal(schema(BASE, "User"), undefined);
});

Deno.test("discovery documents share no mutable state between calls", () => {
  const first = resourceTypes(BASE);
  first.Resources.pop();
  (first.schemas as string[]).push("x");
  assert.equal(resourceTypes(BASE).Resources.length, 2);
  assert.deepEqual(resourceTypes(BASE).schemas, [LIST_RESPONSE]);
  assert.throws(() => {
    (schema(BASE, USER_SCHEMA)?.attributes as unknown[]).push({});
  }, TypeError);
  const other = "https://other.example.com/scim/v2/inbound/x";
  assert.deepEqual(resourceType(other, "User")?.meta, {
    resourceType: "ResourceType",
    location: `${other}/ResourceTypes/User`,
  });
  assert.deepEqual(resourceType(BASE, "User")?.meta, {
    resourceType: "ResourceType",
    location: `${BASE}/ResourceTypes/User`,
  });
});
