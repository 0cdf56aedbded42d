import assert from "node:assert/strict";
import { canonicalSourcePath } from "./source_path.ts";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

Deno.test("canonicalSourcePath() - the dot after a schema URN becomes the RFC's colon", () => {
  assert.equal(canonicalSourcePath(`${ENT}.department`), `${ENT}:department`);
  assert.equal(canonicalSourcePath(`${ENT}.manager.value`), `${ENT}:manager.value`);
  assert.equal(canonicalSourcePath(`${ENT}:department`), `${ENT}:department`);
  assert.equal(canonicalSourcePath(`${ENT}:manager.value`), `${ENT}:manager.value`);
  assert.equal(
    canonicalSourcePath("urn:example:params:scim:schemas:extension:acme:2.0:User.badge"),
    "urn:example:params:scim:schemas:extension:acme:2.0:User:badge",
  );
  assert.equal(canonicalSourcePath("name.givenName"), "name.givenName");
  assert.equal(
    canonicalSourcePath(' emails[type eq "work"].value '),
    'emails[type eq "work"].value',
  );
});
