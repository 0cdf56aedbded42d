/**
 * Identity-provider quirks of SCIM PATCH (RFC 7644 §3.5.2), one named function each.
 *
 * RFC 7644 §3.5.2 is the rule; where Okta, Microsoft Entra ID, OneLogin or SailPoint deviate from
 * it, the server accepts what they send. Each function below cites the row of
 * `docs/idp-behaviour.md` (O* Okta, E* Entra, X* other clients) and the vendor document or issue
 * behind it, so a quirk can be found, tested and removed on its own. `lib/scim/patch/` calls these.
 * @module
 */
import type { CompareValue, Filter } from "./filter/ast.ts";
import type { ResourceTypeName } from "./schema_types.ts";
import { GROUP_SCHEMA } from "./urns.ts";
import { isPlainObject } from "../json.ts";

/** The three PATCH operations of RFC 7644 §3.5.2. */
export type PatchOpName = "add" | "remove" | "replace";

const OP_NAMES: readonly PatchOpName[] = ["add", "remove", "replace"];

/**
 * Normalises an `op` to lower case, or returns `undefined` when it is not a PATCH operation.
 *
 * Entra sends `"Add"`, `"Replace"`, `"Remove"` by default (E1: Entra known issues, "ENTRA-KI";
 * langwatch/langwatch#6972, ory/polis#4070); OneLogin sends lowercase ops and Microsoft's own
 * library once accepted only capitalised ones (X1: Azure/AzureAD-BYOA-Provisioning-Samples#24).
 * RFC 7644 §3.5.2 spells them in lower case; compare case-insensitively in both directions.
 */
export function normalizeOp(op: unknown): PatchOpName | undefined {
  if (typeof op !== "string") return undefined;
  const lower = op.trim().toLowerCase();
  return OP_NAMES.find((name) => name === lower);
}

/**
 * Coerces a boolean or the strings `"true"`/`"false"` (any case) to a boolean, else `undefined`.
 *
 * Entra disables users with `{"op":"Replace","path":"active","value":"False"}` unless the tenant
 * URL carries `aadOptscim062020` (E2: ENTRA-KI; AzureAD/SCIMReferenceCode#21, scimmyjs/scimmy#86).
 * Rejecting the string blocks every Entra offboarding.
 */
export function coerceBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value !== "string") return undefined;
  const lower = value.trim().toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  return undefined;
}

/**
 * Removes an `id` key (any case) from a pathless PATCH value object; other values pass through.
 *
 * Okta renames groups with `{"op":"replace","value":{"id":"abf4…","displayName":"X"}}` and re-sends
 * it with every membership update (O8; §2.1 item 10: Okta SCIM 2.0 reference, "OKTA-REF"). The id
 * in a body never changes the resource id, so it is dropped whether or not it equals `id`;
 * `foreignId` reports an id that differs from the resource's, for callers that want to log it.
 */
export function stripOktaIdFromValue(
  value: unknown,
  id: string,
): { value: unknown; foreignId?: string } {
  if (!isPlainObject(value)) return { value };
  const kept: Record<string, unknown> = {};
  let foreignId: string | undefined;
  for (const [key, entry] of Object.entries(value)) {
    if (key.toLowerCase() === "id") {
      if (entry !== id) foreignId = typeof entry === "string" ? entry : JSON.stringify(entry);
      continue;
    }
    kept[key] = entry;
  }
  return foreignId === undefined ? { value: kept } : { value: kept, foreignId };
}

/**
 * Reduces an Enterprise `manager` value to `{value}`, `null` (clear it) or `undefined` (unusable).
 *
 * Entra sets the manager with a plain string (`"value":"<managerId>"`), clears it with `""`, and its
 * older documentation sends `[{"$ref":"…/Users/x","value":"x"}]`; RFC 7643 §4.3 defines an object
 * `{value, $ref, displayName}`. Entra reads back `manager.value` and re-PATCHes forever if it is
 * missing (E5: Captain-P-Goldfish/SCIM-SDK#686, apache/directory-scimple#1242,
 * MicrosoftDocs/azure-docs#11784).
 */
export function normalizeManagerValue(value: unknown): { value: string } | null | undefined {
  if (value === null || value === "") return null;
  if (typeof value === "string") return { value };
  if (Array.isArray(value)) {
    if (value.length === 0) return null;
    return value.length === 1 ? normalizeManagerValue(value[0]) : undefined;
  }
  if (isPlainObject(value)) {
    const key = Object.keys(value).find((k) => k.toLowerCase() === "value");
    if (key === undefined) return undefined;
    const inner = value[key];
    if (inner === null || inner === "") return null;
    return typeof inner === "string" ? { value: inner } : undefined;
  }
  return undefined;
}

/**
 * Tells whether an operation is Entra's `remove` of `members` carrying the members to remove.
 *
 * Entra's default shape is `{"op":"Remove","path":"members","value":[{"value":"u1"}]}`, which must
 * remove only the listed members, never the whole list (E6: ENTRA-KI;
 * AzureAD/SCIMReferenceCode#10, apache/directory-scimple#436). RFC 7644 §3.5.2.2 has no `value`
 * on remove; with `aadOptscim062020` Entra sends `members[value eq "u1"]` instead.
 */
export function isMemberRemovalByValueArray(
  op: { op: string; path?: string; value?: unknown },
): boolean {
  if (normalizeOp(op.op) !== "remove" || op.path === undefined) return false;
  const path = op.path.trim().toLowerCase();
  const isMembers = path === "members" || path === `${GROUP_SCHEMA.toLowerCase()}:members`;
  return isMembers && op.value !== undefined && op.value !== null;
}

/**
 * Returns the member id of a `members` entry (`{"value":"u1","$ref":null}` or `"u1"`), else `undefined`.
 *
 * Entra adds members as `{"$ref":null,"value":"u1"}` (E6, §2.2 item 11); Okta adds
 * `{"value":"u1","display":"…"}` (O9). `$ref` and `display` are ignored: members are rows keyed by id.
 */
export function memberValue(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry.length > 0 ? entry : undefined;
  if (!isPlainObject(entry)) return undefined;
  const key = Object.keys(entry).find((k) => k.toLowerCase() === "value");
  const value = key === undefined ? undefined : entry[key];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/**
 * Derives a new multi-valued element from a value-path filter's equality terms, e.g.
 * `type eq "work"` → `{type: "work"}`; `undefined` when the filter is not a conjunction of `eq`.
 *
 * Entra sends `Add`/`Replace` on `emails[type eq "work"].value` (also `addresses[type eq "work"]`,
 * `phoneNumbers[type eq "mobile"]`) for users that have no such element and expects it created,
 * where RFC 7644 §3.5.2.3 would answer `noTarget` (E3: ENTRA-DEV attribute mappings;
 * ssoready/ssoready#228, zitadel/zitadel#9690, elimity-com/scim#105; E16: the validator's Add on a
 * user with no emails). Keys keep the case of the filter; the caller canonicalises them.
 */
export function elementFromFilter(filter: Filter): Record<string, CompareValue> | undefined {
  const terms: Array<[string, CompareValue]> = [];
  function collect(node: Filter): boolean {
    if (node.kind === "and") return collect(node.left) && collect(node.right);
    if (node.kind !== "compare" || node.op !== "eq") return false;
    if (node.path.uri !== undefined || node.path.sub !== undefined) return false;
    terms.push([node.path.attr, node.value]);
    return true;
  }
  if (!collect(filter) || terms.length === 0) return undefined;
  const element: Record<string, CompareValue> = {};
  for (const [name, value] of terms) {
    if (value !== null) element[name] = value;
  }
  return element;
}

/**
 * Tells whether a top-level attribute is ignored in PATCH values and paths: `id`, `meta`,
 * `schemas`, `password`, and `groups` on users.
 *
 * Okta sends `password` on create and password sync and `groups:[]` (O4: OKTA-REF,
 * okta/okta-developer-docs#3456), round-trips `id`, `meta`, `groups`, `schemas` (O7) and puts `id`
 * in pathless values (O8); Entra sends `meta` (E13). These are read-only (RFC 7643 §3.1, §4.1.2) or
 * never stored (`password`), and IdPs send them back on round-trips, so they are skipped, not 400.
 */
export function isIgnoredAttribute(name: string, resourceType: ResourceTypeName): boolean {
  const lower = name.toLowerCase();
  if (lower === "id" || lower === "meta" || lower === "schemas" || lower === "password") {
    return true;
  }
  return resourceType === "User" && lower === "groups";
}

/**
 * Tells whether an `add`/`replace` value means "clear the attribute": `null` or `""`.
 *
 * Entra's null-update test sends `{"op":"replace","path":"title","value":""}` and then
 * `"value":null`, and clears a manager with `""` (§2.2 items 8 and 9, E5). RFC 7643 §2.5 treats
 * null and empty values as unassigned.
 */
export function isClearValue(value: unknown): boolean {
  return value === null || value === "";
}

/**
 * The display name an IdP sent with a member reference: `display` (RFC 7643 §4.2), or
 * `displayName`, which Microsoft's SCIM validator collection sends instead.
 */
export function memberDisplay(entry: unknown): string | undefined {
  if (!isPlainObject(entry)) return undefined;
  const display = entry.display ?? entry.displayName;
  return typeof display === "string" ? display : undefined;
}
