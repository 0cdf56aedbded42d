/**
 * Stored records → SCIM resources (RFC 7643 §3): `schemas`, `id`, `meta` are added here, so the
 * store never builds envelopes.
 * @module
 */
import type { Group, IdpUser } from "../store/types.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./urns.ts";
import { findAttribute } from "./schema_defs.ts";
import type { ResourceTypeName } from "./schema_types.ts";

/** A weak ETag from a KV versionstamp (RFC 7644 §3.14). */
export function etagOf(versionstamp: string): string {
  return `W/"${versionstamp}"`;
}

/**
 * Copies the stored attributes a SCIM resource returns: those of the core schema and the
 * extension objects (URN keys). An attribute no schema defines (`{"notAnAttribute": "x"}` in a
 * body or a pathless PATCH) stays on the IdP attribute row, where the console shows it and
 * mirroring may read it, but is not an attribute of the resource: `/Schemas` does not declare it.
 */
function assignReturned(
  out: Record<string, unknown>,
  stored: Record<string, unknown>,
  resourceType: ResourceTypeName,
): void {
  for (const [key, value] of Object.entries(stored)) {
    if (key.toLowerCase().startsWith("urn:") || findAttribute(resourceType, { attr: key })) {
      out[key] = value;
    }
  }
}

/** The SCIM User for an IdP row. `location` is the resource's absolute URL. */
export function renderUser(
  link: IdpUser,
  versionstamp: string,
  location: string,
  groups?: { value: string; display?: string; $ref: string }[],
): Record<string, unknown> {
  const schemas = [USER_SCHEMA];
  for (const key of Object.keys(link.resource)) {
    if (key.toLowerCase().startsWith("urn:") && !schemas.includes(key)) schemas.push(key);
  }
  if (schemas.length > 2) {
    // Enterprise first after core, then any custom extension, in a stable order.
    const rest = schemas.slice(1).sort((a, b) =>
      a === ENTERPRISE_USER_SCHEMA ? -1 : b === ENTERPRISE_USER_SCHEMA ? 1 : a.localeCompare(b)
    );
    schemas.splice(1, rest.length, ...rest);
  }
  const out: Record<string, unknown> = { schemas, id: link.userId };
  if (link.externalId !== undefined) out.externalId = link.externalId;
  assignReturned(out, link.resource, "User");
  out.active = link.active;
  if (groups) out.groups = groups;
  out.meta = {
    resourceType: "User",
    created: link.created,
    lastModified: link.lastModified,
    location,
    version: etagOf(versionstamp),
  };
  return out;
}

/** The SCIM Group; `members` is omitted when not given (e.g. `excludedAttributes=members`). */
export function renderGroup(
  group: Group,
  versionstamp: string,
  location: string,
  members?: { value: string; display?: string; $ref: string; type: "User" }[],
): Record<string, unknown> {
  const schemas = [GROUP_SCHEMA];
  for (const key of Object.keys(group.extra)) {
    if (key.toLowerCase().startsWith("urn:") && !schemas.includes(key)) schemas.push(key);
  }
  const out: Record<string, unknown> = { schemas, id: group.id, displayName: group.displayName };
  if (group.externalId !== undefined) out.externalId = group.externalId;
  assignReturned(out, group.extra, "Group");
  if (members) out.members = members;
  out.meta = {
    resourceType: "Group",
    created: group.created,
    lastModified: group.lastModified,
    location,
    version: etagOf(versionstamp),
  };
  return out;
}
