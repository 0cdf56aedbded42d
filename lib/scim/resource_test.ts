import assert from "node:assert/strict";
import { renderGroup, renderUser } from "./resource.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./urns.ts";
import type { Group, IdpUser } from "../store/types.ts";

const CUSTOM = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

Deno.test("renderUser() - returns core and extension attributes, not those no schema defines", () => {
  const link: IdpUser = {
    userId: "u1",
    idpId: "i1",
    externalId: "00u1",
    active: true,
    resource: {
      userName: "bjensen",
      title: "Tour Guide",
      notAnAttribute: "x",
      "junk.key": 1,
      [ENTERPRISE_USER_SCHEMA]: { department: "Tours" },
      [CUSTOM]: { badge: "blue" },
    },
    created: "2024-01-01T00:00:00Z",
    lastModified: "2024-01-01T00:00:00Z",
    receivedAt: "2024-01-01T00:00:00Z",
  };
  const user = renderUser(link, "00000000000000010000", "https://x/Users/u1");
  assert.deepEqual(
    Object.keys(user).sort(),
    [
      "active",
      "externalId",
      "id",
      "meta",
      "schemas",
      "title",
      "userName",
      CUSTOM,
      ENTERPRISE_USER_SCHEMA,
    ].sort(),
  );
  assert.deepEqual(user.schemas, [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM]);
  assert.equal(link.resource.notAnAttribute, "x", "the stored row is left as it is");
});

Deno.test("renderGroup() - returns the group's extensions, not attributes no schema defines", () => {
  const group: Group = {
    id: "g1",
    idpId: "i1",
    displayName: "Tour Guides",
    extra: { notAnAttribute: "x", "urn:acme:2.0:Group": { floor: 3 } },
    created: "2024-01-01T00:00:00Z",
    lastModified: "2024-01-01T00:00:00Z",
  };
  const rendered = renderGroup(group, "00000000000000010000", "https://x/Groups/g1");
  assert.equal("notAnAttribute" in rendered, false);
  assert.deepEqual(rendered["urn:acme:2.0:Group"], { floor: 3 });
  assert.deepEqual(rendered.schemas, [GROUP_SCHEMA, "urn:acme:2.0:Group"]);
});
