/**
 * Value lookup on a SCIM resource for filters, sorting and projection (RFC 7644 §3.4.2.2,
 * §3.10; RFC 7643 §2.1 and §3.3).
 *
 * A resource is plain JSON: core attributes at the top level under their canonical names,
 * extension attributes nested under the schema URN key, e.g.
 * `resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].department`. Names
 * are matched case-insensitively (RFC 7643 §2.1), and only own properties are ever read, so a
 * key like `constructor` or `__proto__` never resolves to `Object.prototype`.
 * @module
 */
import type { AttrPath } from "./ast.ts";
import { GROUP_SCHEMA, USER_SCHEMA } from "../urns.ts";
import { isPlainObject, ownValue } from "../../json.ts";

const CORE_PREFIX = "urn:ietf:params:scim:schemas:core:2.0:";

/** The own key of `obj` equal to `name` ignoring case (an exact match wins), or `undefined`. */
export function findKey(obj: Record<string, unknown>, name: string): string | undefined {
  if (typeof obj !== "object" || obj === null) return undefined;
  if (Object.hasOwn(obj, name)) return name;
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) {
    if (key.toLowerCase() === lower) return key;
  }
  return undefined;
}

/** The value of the own attribute `name` of `obj`, matched case-insensitively. */
export function attributeOf(obj: Record<string, unknown>, name: string): unknown {
  const key = findKey(obj, name);
  return key === undefined ? undefined : ownValue(obj, key);
}

/** Appends `value` to `out`, one level of array flattened and `null`/`undefined` dropped. */
function pushValues(out: unknown[], value: unknown): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) {
    out.push(value);
    return;
  }
  for (const item of value) {
    if (item !== undefined && item !== null) out.push(item);
  }
}

/** The core schema URN of `resource`: the given one, else from `schemas`, else from `meta`. */
function coreUrnOf(resource: Record<string, unknown>, given?: string): string | undefined {
  if (given !== undefined) return given;
  const schemas = attributeOf(resource, "schemas");
  if (Array.isArray(schemas)) {
    const core = schemas.find((urn) =>
      typeof urn === "string" && urn.toLowerCase().startsWith(CORE_PREFIX)
    );
    if (typeof core === "string") return core;
  }
  const meta = attributeOf(resource, "meta");
  const type = isPlainObject(meta) ? attributeOf(meta, "resourceType") : undefined;
  if (type === "User") return USER_SCHEMA;
  if (type === "Group") return GROUP_SCHEMA;
  return undefined;
}

/** Whether `uri` names the resource's core schema, whose attributes sit at the top level. */
function isCoreUri(resource: Record<string, unknown>, uri: string, given?: string): boolean {
  const core = coreUrnOf(resource, given);
  const lower = uri.toLowerCase();
  if (core !== undefined) return lower === core.toLowerCase();
  // Unknown resource type: accept either core URN rather than resolving nothing.
  return lower === USER_SCHEMA.toLowerCase() || lower === GROUP_SCHEMA.toLowerCase();
}

/** The values of the top-level attribute `attr` of `path`, before any sub-attribute. */
function topValues(
  resource: Record<string, unknown>,
  path: AttrPath,
  coreSchemaUrn?: string,
): unknown[] {
  const out: unknown[] = [];
  if (path.uri !== undefined && !isCoreUri(resource, path.uri, coreSchemaUrn)) {
    const extension = attributeOf(resource, path.uri);
    if (isPlainObject(extension)) pushValues(out, attributeOf(extension, path.attr));
    return out;
  }
  const key = findKey(resource, path.attr);
  if (key !== undefined || path.uri !== undefined) {
    if (key !== undefined) pushValues(out, ownValue(resource, key));
    return out;
  }
  // RFC 7644 §3.10 lets clients omit the URN of extension attributes (they SHOULD qualify them,
  // but Entra's manager check sends `manager eq "id"`), so fall back to every extension object.
  for (const extensionKey of Object.keys(resource)) {
    if (!extensionKey.includes(":")) continue;
    const extension = ownValue(resource, extensionKey);
    if (isPlainObject(extension)) pushValues(out, attributeOf(extension, path.attr));
  }
  return out;
}

/**
 * Every value at `path` in `resource`: multi-valued attributes are flattened (`emails.value` gives
 * each email's value), `null` is dropped and a missing attribute gives `[]`.
 */
export function resolveValues(
  resource: Record<string, unknown>,
  path: AttrPath,
  coreSchemaUrn?: string,
): unknown[] {
  if (!isPlainObject(resource)) return [];
  const top = topValues(resource, path, coreSchemaUrn);
  if (path.sub === undefined) return top;
  const out: unknown[] = [];
  for (const value of top) {
    if (isPlainObject(value)) pushValues(out, attributeOf(value, path.sub));
  }
  return out;
}
