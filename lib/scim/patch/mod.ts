/**
 * SCIM PATCH (RFC 7644 §3.5.2): {@linkcode parsePatchRequest} validates the whole PatchOp message
 * and parses each path once, {@linkcode extractMemberOperations} takes group `members` operations
 * out for the store, and {@linkcode applyPatch} applies the rest to a copy of the resource.
 *
 * Semantics follow RFC 7644 §3.5.2.1–3 (add, remove, replace), widened where a large identity
 * provider deviates (see `../compat.ts` and `docs/idp-behaviour.md`): `add` ≡ `replace` for
 * single-valued attributes (X5), pathless values whose keys are paths (E4, O5), value-path targets
 * that create the missing element (E3), `""`/`null` clearing, string booleans (E2), a string
 * manager (E5), and member removal by value array (E6). Written by hand on purpose: npm PATCH
 * libraries mishandle the Entra and Okta shapes, and one of them writes through `__proto__`.
 * @module
 */
export {
  MAX_PATCH_OPERATIONS,
  parsePatchRequest,
  type PatchOperation,
  type PathlessOperation,
  type PathOperation,
} from "./parse.ts";
export { extractMemberOperations, type MemberOperation } from "./members.ts";
export { applyPatch, type ApplyPatchOptions, type ApplyPatchResult } from "./apply.ts";
