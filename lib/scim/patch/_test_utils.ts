/**
 * Helpers of the PATCH tests: PatchOp bodies, the route's parse-then-apply, a user as Okta creates
 * it, and an assertion on the `ScimError` thrown.
 * @module
 */
import assert from "node:assert/strict";
import { ScimError, type ScimType } from "../errors.ts";
import type { ResourceTypeName } from "../schema_types.ts";
import { ENTERPRISE_USER_SCHEMA, PATCH_OP } from "../urns.ts";
import { applyPatch, type ApplyPatchResult } from "./apply.ts";
import { parsePatchRequest } from "./parse.ts";

/** The Enterprise User extension URN. */
export const ENTERPRISE = ENTERPRISE_USER_SCHEMA;

/** A PatchOp body around `Operations`. */
export function body(...operations: unknown[]): Record<string, unknown> {
  return { schemas: [PATCH_OP], Operations: operations };
}

/** Validates and applies a PatchOp body, as the route does. */
export function patch(
  resource: Record<string, unknown>,
  message: unknown,
  resourceType: ResourceTypeName = "User",
  id = "2819c223-7f76-453a-919d-413861904646",
): ApplyPatchResult {
  return applyPatch(resource, parsePatchRequest(message), { resourceType, id });
}

/** Asserts that `fn` throws a `ScimError` with this status and `scimType` (and detail). */
export function assertScimError(
  fn: () => unknown,
  expected: { status: number; scimType: ScimType; detail?: string | RegExp },
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ScimError, `expected a ScimError, got ${error}`);
    assert.deepEqual(
      { status: error.status, scimType: error.scimType },
      { status: expected.status, scimType: expected.scimType },
    );
    if (typeof expected.detail === "string") assert.equal(error.message, expected.detail);
    else if (expected.detail) assert.match(error.message, expected.detail);
    return true;
  });
}

/** A user as Okta creates it, with an Enterprise extension. */
export function user(): Record<string, unknown> {
  return {
    userName: "test.user@okta.local",
    name: { givenName: "Test", familyName: "User" },
    emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
    displayName: "Test User",
    active: true,
    title: "Engineer",
    [ENTERPRISE]: { department: "R&D", employeeNumber: "42", manager: { value: "m-1" } },
  };
}
