/**
 * The edge contract for User and Group bodies (RFC 7643 §2, §3, §4; RFC 7644 §3.3 and §3.5.1):
 * {@linkcode normalizeResource} turns an untrusted POST or PUT body, or a resource after a PATCH,
 * into the plain object Weft stores.
 *
 * What it does, and why:
 * - Attribute names are case-insensitive (RFC 7643 §2.1): known names and schema URN keys are
 *   rewritten to their canonical case at every level. Unknown attributes and unknown extension
 *   objects are kept as sent: everything an IdP sends stays on its attribute row. (An unknown
 *   top-level attribute is not returned as an attribute of the resource: see `resource.ts`.)
 * - URN-qualified keys (`urn:…:enterprise:2.0:User:department`) are folded into their extension
 *   object, and dotted keys into a single-valued complex attribute (`name.givenName`); the core URN
 *   prefix is stripped, and a bare extension attribute name (`employeeNumber`) goes to its
 *   extension (RFC 7644 §3.10), as in PATCH. A name given twice (in any spelling) is rejected.
 * - Dropped: `schemas` (the route rebuilds it), read-only attributes at any level (`id`, `meta`,
 *   User `groups`, `manager.displayName`), write-only ones (`password`, which Weft never stores and
 *   Okta always sends as a placeholder), nulls (RFC 7643 §2.5: null means unassigned), and complex
 *   values that end up empty. Empty strings and empty arrays are kept as sent.
 * - IdP quirks: Entra's `"True"`/`"False"` for booleans; Entra's manager as a bare string
 *   (`""` clears it) or as the older one-element array; a single object where an array is expected
 *   is wrapped.
 * - At most one `primary: true` per multi-valued attribute (RFC 7643 §2.4). IdPs are sloppy, so
 *   extra ones are set to `false` instead of rejecting the body: the first stays primary.
 * - Group `members` keep only `value` (required), `display`, `type` and `$ref`, de-duplicated by
 *   `value` (the first wins): they become membership rows, not a stored array.
 * - Limits, 400 `invalidValue` unless said otherwise: `__proto__`, `constructor` and `prototype` keys
 *   anywhere; strings over 4096 characters; arrays over 1000 values (10,000 for Group `members`);
 *   more than 100 values of one defined multi-valued attribute (`emails`…), which is 400 `tooMany`
 *   because every email is an index entry and a write must fit one atomic operation;
 *   nesting deeper than 8 levels; and a stored User (a Group without its `members`) over 60 KiB,
 *   which is 413 `tooMany` because it must fit one Deno KV value (64 KiB).
 * @module
 */
import { z } from "zod";
import { ScimError } from "./errors.ts";
import {
  canonicalSchemaUrn,
  coreSchemaUrn,
  extensionDefining,
  extensionUrns,
  findAttribute,
  findSubAttribute,
} from "./schema_defs.ts";
import type { AttributeDef, AttributeType, ResourceTypeName } from "./schema_types.ts";
import { ENTERPRISE_USER_SCHEMA } from "./urns.ts";
import { isPlainObject, PROTOTYPE_KEYS } from "../json.ts";

const MAX_STRING_LENGTH = 4096;
const MAX_VALUES = 1000;
/**
 * Most values of one multi-valued User or Group attribute (emails, phoneNumbers, roles…), other
 * than Group `members`. Every email is an index entry, and a write must fit one atomic KV
 * operation (1,000 mutations), so the cap keeps every write committable: more is `400 tooMany`.
 */
export const MAX_ATTRIBUTE_VALUES = 100;
const MAX_MEMBERS = 10_000;
const MAX_DEPTH = 8;
/** 60 KiB: one Deno KV value holds 64 KiB, leaving room for what the store adds. */
const MAX_RESOURCE_BYTES = 60 * 1024;

/** Entra sends booleans as `"True"`/`"False"` (idp-behaviour.md E2). */
const BOOLEAN = z.union([
  z.boolean(),
  z.stringbool({ truthy: ["true"], falsy: ["false"], case: "insensitive" }),
]);

/** zod checks of the simple types of RFC 7643 §2.3. */
const SIMPLE_TYPES: Record<Exclude<AttributeType, "complex">, z.ZodType> = {
  string: z.string().max(MAX_STRING_LENGTH),
  reference: z.string().max(MAX_STRING_LENGTH),
  boolean: BOOLEAN,
  integer: z.int(),
  decimal: z.number(),
  // xsd:dateTime (RFC 7643 §2.3.5): the offset is optional, seconds are not.
  dateTime: z.iso.datetime({ offset: true, local: true }),
  binary: z.base64().max(MAX_STRING_LENGTH),
};

/** How a type error names the expected type. */
const TYPE_NAMES: Record<AttributeType, string> = {
  string: "a string",
  reference: "a string",
  boolean: "a boolean",
  integer: "an integer",
  decimal: "a number",
  dateTime: "an ISO 8601 dateTime",
  binary: "a base64 string",
  complex: "an object",
};

const OBJECT = z.custom<Record<string, unknown>>(isPlainObject);
const VALUES = z.array(z.unknown()).max(MAX_VALUES);
const MEMBER_VALUES = z.array(z.unknown()).max(MAX_MEMBERS);

const MEMBERS_DEF = findAttribute("Group", { attr: "members" });
const MANAGER_DEF = findAttribute("User", { uri: ENTERPRISE_USER_SCHEMA, attr: "manager" });

const encoder = new TextEncoder();

function invalid(path: string, problem: string): ScimError {
  return ScimError.invalidValue(`Attribute "${path}" ${problem}`);
}

function assertAllowedName(name: string, path: string): void {
  if (PROTOTYPE_KEYS.has(name)) throw invalid(path, "is not allowed");
  if (name.length > MAX_STRING_LENGTH) {
    throw ScimError.invalidValue(
      `Attribute name "${name.slice(0, 40)}…" is longer than ${MAX_STRING_LENGTH} characters`,
    );
  }
}

/** Rejects forbidden keys, over-long keys and deep nesting anywhere, including parts later dropped. */
function inspect(value: unknown, path: string, depth: number): void {
  if (typeof value === "string") {
    // A lone surrogate cannot be stored faithfully (it becomes U+FFFD, so distinct names would
    // collide in indexes); NUL is never text.
    if (!value.isWellFormed() || value.includes("\0")) {
      throw invalid(path, "contains an invalid character (NUL or an unpaired surrogate)");
    }
    return;
  }
  if (typeof value !== "object" || value === null) return;
  if (depth > MAX_DEPTH) throw invalid(path, `is nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, index) => inspect(item, `${path}[${index}]`, depth + 1));
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === "" ? key : `${path}.${key}`;
    assertAllowedName(key, childPath);
    inspect(child, childPath, depth + 1);
  }
}

/** Runs a zod check and turns its failure into an `invalidValue` naming the attribute. */
function check<T>(schema: z.ZodType<T>, value: unknown, path: string, expected: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === "too_big" && issue.origin === "array") {
    throw invalid(path, `must have at most ${issue.maximum} values`);
  }
  if (issue?.code === "too_big" && issue.origin === "string") {
    throw invalid(path, `must be at most ${issue.maximum} characters`);
  }
  throw invalid(path, `must be ${expected}`);
}

/** Copies a value of an unknown attribute, dropping nulls and enforcing the size limits. */
function copyUnknown(value: unknown, path: string): unknown {
  if (typeof value === "string") return check(SIMPLE_TYPES.string, value, path, "a string");
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    check(VALUES, value, path, "an array").forEach((item, index) => {
      if (item !== null) out.push(copyUnknown(item, `${path}[${index}]`));
    });
    return out;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child !== null) out[key] = copyUnknown(child, `${path}.${key}`);
    }
    return out;
  }
  throw invalid(path, "must be a JSON value");
}

/** Entra's manager forms: `"id"` → `{value}`, `""` → cleared, `[{value, $ref}]` → `{value}` (E5). */
function managerObject(value: unknown, path: string): unknown {
  if (typeof value === "string") return value === "" ? undefined : { value };
  if (!Array.isArray(value)) return value;
  const items = value.filter((item) => item !== null);
  if (items.length === 0) return undefined;
  if (items.length > 1) throw invalid(path, "must be a single value");
  const [item] = items;
  if (typeof item === "string") return item === "" ? undefined : { value: item };
  if (!isPlainObject(item)) throw invalid(path, "must be an object");
  const key = Object.keys(item).find((name) => name.toLowerCase() === "value");
  return key === undefined ? {} : { value: item[key] };
}

/** Normalises a complex value: canonical sub-attribute names, read-only and null ones dropped. */
function normalizeComplex(def: AttributeDef, value: unknown, path: string): unknown {
  const members = def === MEMBERS_DEF;
  const object = check(OBJECT, value, path, "an object");
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const [key, child] of Object.entries(object)) {
    if (child === null) continue; // Entra's `"$ref": null` on members
    const lower = key.toLowerCase();
    if (seen.has(lower)) throw invalid(`${path}.${key}`, "is given more than once");
    seen.add(lower);
    const sub = findSubAttribute(def, key);
    if (sub === undefined) {
      // Members become membership rows of {value, display, type, $ref}: nothing else is kept.
      if (!members) out[key] = copyUnknown(child, `${path}.${key}`);
      continue;
    }
    if (sub.mutability === "readOnly" || sub.mutability === "writeOnly") continue;
    const normalized = normalizeValue(sub, child, `${path}.${sub.name}`);
    if (normalized !== undefined) out[sub.name] = normalized;
  }
  if (members && (typeof out.value !== "string" || out.value === "")) {
    throw invalid(`${path}.value`, "is required");
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Normalises one value (not an array of values) of a known attribute. */
function normalizeSingle(def: AttributeDef, value: unknown, path: string): unknown {
  if (value === null) return undefined;
  if (def.type !== "complex") {
    return check(SIMPLE_TYPES[def.type], value, path, TYPE_NAMES[def.type]);
  }
  if (def === MANAGER_DEF) {
    const manager = managerObject(value, path);
    return manager === undefined ? undefined : normalizeComplex(def, manager, path);
  }
  return normalizeComplex(def, value, path);
}

/** Keeps the first `primary: true` of a multi-valued attribute and sets later ones to `false`. */
function keepFirstPrimary(values: unknown[]): void {
  let found = false;
  for (const item of values) {
    if (!isPlainObject(item) || item.primary !== true) continue;
    if (found) item.primary = false;
    found = true;
  }
}

/** Keeps the first member of each `value`. */
function uniqueMembers(values: unknown[]): unknown[] {
  const seen = new Set<unknown>();
  return values.filter((item) => {
    const value = isPlainObject(item) ? item.value : item;
    if (seen.has(value)) return false;
    seen.add(value);
    return true;
  });
}

/** Normalises an array of values, wrapping a single value into an array. */
function normalizeMultiValued(def: AttributeDef, value: unknown, path: string): unknown[] {
  const wrap = def.type === "complex" ? isPlainObject(value) : !Array.isArray(value);
  const items = check(
    def === MEMBERS_DEF ? MEMBER_VALUES : VALUES,
    wrap ? [value] : value,
    path,
    "an array",
  );
  if (def !== MEMBERS_DEF && items.length > MAX_ATTRIBUTE_VALUES) {
    throw new ScimError(
      400,
      `Attribute "${path}" has ${items.length} values: at most ${MAX_ATTRIBUTE_VALUES} are accepted`,
      { scimType: "tooMany" },
    );
  }
  let out: unknown[] = [];
  items.forEach((item, index) => {
    const normalized = normalizeSingle(def, item, `${path}[${index}]`);
    if (normalized !== undefined) out.push(normalized);
  });
  if (def === MEMBERS_DEF) out = uniqueMembers(out);
  if (def.subAttributes?.some((sub) => sub.name === "primary")) keepFirstPrimary(out);
  return out;
}

/**
 * Validates and normalises one value of a known attribute (for PATCH values and custom schemas);
 * `undefined` means "unassigned". `path` names the attribute in error details.
 */
export function normalizeAttributeValue(
  def: AttributeDef,
  value: unknown,
  path: string,
): unknown {
  inspect(value, path, 2);
  return normalizeValue(def, value, path);
}

/** Normalises the value of a known attribute; `undefined` means the attribute is dropped. */
function normalizeValue(def: AttributeDef, value: unknown, path: string): unknown {
  if (value === null) return undefined;
  return def.multiValued
    ? normalizeMultiValued(def, value, path)
    : normalizeSingle(def, value, path);
}

/** One attribute collected from the body before normalisation. */
interface Entry {
  /** The canonical name when known, else the name as sent. */
  name: string;
  def: AttributeDef | undefined;
  value: unknown;
  /** The name used in error messages (`urn:…:User:manager`, `name`). */
  path: string;
}

/** The attributes of one schema (core or an extension), keyed by lower-case name. */
class Bucket {
  readonly entries = new Map<string, Entry>();

  constructor(
    readonly resourceType: ResourceTypeName,
    readonly urn: string | undefined,
  ) {}

  /** The error path of attribute `name` of this schema. */
  pathOf(name: string): string {
    return this.urn === undefined ? name : `${this.urn}:${name}`;
  }

  /** Adds `name` (maybe `attr.sub`), merging sub-attributes of single-valued complex attributes. */
  add(name: string, value: unknown): void {
    if (value === null) return;
    const dot = name.indexOf(".");
    const head = dot === -1 ? name : name.slice(0, dot);
    assertAllowedName(head, this.pathOf(name));
    if (this.urn === undefined && head.toLowerCase() === "schemas") return;
    const def = findAttribute(this.resourceType, { uri: this.urn, attr: head });
    // Read-only and write-only attributes are dropped whatever their shape (`meta.created`).
    if (def?.mutability === "readOnly" || def?.mutability === "writeOnly") return;
    if (dot !== -1 && def === undefined) {
      // An unknown dotted name is a custom attribute name, kept as sent.
      this.put({ name, def, value, path: this.pathOf(name) });
      return;
    }
    if (dot !== -1) {
      const sub = name.slice(dot + 1);
      assertAllowedName(sub, this.pathOf(name));
      if (def?.type !== "complex" || def.multiValued) {
        throw invalid(this.pathOf(name), "is not a valid attribute path");
      }
      value = { [sub]: value };
    }
    this.put({ name: def?.name ?? name, def, value, path: this.pathOf(def?.name ?? name) });
  }

  private put(entry: Entry): void {
    const key = entry.name.toLowerCase();
    const existing = this.entries.get(key);
    if (existing === undefined) {
      this.entries.set(key, entry);
      return;
    }
    const mergeable = entry.def?.type === "complex" && !entry.def.multiValued &&
      isPlainObject(existing.value) && isPlainObject(entry.value);
    if (!mergeable) throw invalid(entry.path, "is given more than once");
    const merged: Record<string, unknown> = { ...(existing.value as Record<string, unknown>) };
    const names = new Set(Object.keys(merged).map((name) => name.toLowerCase()));
    for (const [sub, child] of Object.entries(entry.value as Record<string, unknown>)) {
      if (names.has(sub.toLowerCase())) {
        throw invalid(`${entry.path}.${sub}`, "is given more than once");
      }
      merged[sub] = child; // `sub` passed assertAllowedName() or inspect()
    }
    this.entries.set(key, { ...existing, value: merged });
  }

  /** Normalises the collected attributes into `out`. */
  normalizeInto(out: Record<string, unknown>): void {
    for (const { name, def, value, path } of this.entries.values()) {
      if (def === undefined) {
        out[name] = copyUnknown(value, path);
        continue;
      }
      const normalized = normalizeValue(def, value, path);
      if (normalized !== undefined) out[name] = normalized;
    }
  }
}

/** The URN of `key`'s schema when `key` is `<urn>:<attribute>` for a schema of `resourceType`. */
function qualifiedBy(resourceType: ResourceTypeName, key: string): string | undefined {
  const lower = key.toLowerCase();
  return [coreSchemaUrn(resourceType), ...extensionUrns(resourceType)].find((urn) =>
    lower.startsWith(`${urn.toLowerCase()}:`)
  );
}

/**
 * The extension whose attribute a bare body key is (`employeeNumber`, Entra's bare `manager`):
 * one that no core attribute has but an extension defines, read as PATCH reads it (RFC 7644
 * §3.10), so a POST, a PUT and a PATCH store the same body alike.
 */
function bareExtensionName(resourceType: ResourceTypeName, key: string): string | undefined {
  const head = key.split(".", 1)[0];
  if (head.toLowerCase() === "schemas" || findAttribute(resourceType, { attr: head })) {
    return undefined;
  }
  return extensionDefining(resourceType, head)?.urn;
}

/** Longest identifier in UTF-8 bytes: identifiers are index keys, and a KV key holds 2 KiB. */
const MAX_IDENTIFIER_BYTES = 1024;

/**
 * Control, format and invisible characters (C0/C1 controls, DEL, soft hyphen, zero-width and
 * bidi controls, BOM, non-characters): in an identifier they only make look-alikes of real names.
 */
const INVISIBLE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\u0000-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFFB\uFFFE\uFFFF]/;

/** Spaces other than U+0020 (no-break, thin, ideographic…) and line separators. */
const ODD_SPACE = /[\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/;

/** Scripts whose letters pass for one another (UTS #39 confusables: а/a, е/e, ι/i, Ꭺ/A…). */
const CONFUSABLE_SCRIPTS = [
  /\p{Script=Latin}/u,
  /\p{Script=Cyrillic}/u,
  /\p{Script=Greek}/u,
  /\p{Script=Armenian}/u,
  /\p{Script=Cherokee}/u,
  /\p{Script=Coptic}/u,
];

/**
 * Whether some word of a name mixes letters of confusable scripts, as `аdmin` (Cyrillic а) does.
 * Names written wholly in one script — Latin, Cyrillic, Greek… — are fine (UTS #39 §5.1,
 * "single script" restriction applied per word).
 */
function mixesScripts(value: string): boolean {
  for (const word of value.split(/[^\p{L}\p{M}]+/u)) {
    let seen = -1;
    for (const ch of word) {
      const script = CONFUSABLE_SCRIPTS.findIndex((re) => re.test(ch));
      if (script < 0) continue;
      if (seen >= 0 && script !== seen) return true;
      seen = script;
    }
  }
  return false;
}

function assertIdentifier(value: unknown, path: string, readable = true): void {
  if (typeof value !== "string") return;
  if (encoder.encode(value).length > MAX_IDENTIFIER_BYTES) {
    throw invalid(path, `must be at most ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  if (INVISIBLE.test(value)) {
    throw invalid(path, "contains a control or invisible character");
  }
  if (!readable) return;
  if (ODD_SPACE.test(value)) throw invalid(path, "contains a space other than U+0020");
  if (mixesScripts(value)) {
    throw invalid(
      path,
      "mixes letters of different scripts in one word (a look-alike of another name)",
    );
  }
}

/** Checks the identifiers Weft indexes: userName, externalId, e-mails, group names, members. */
function assertIdentifiers(
  resourceType: ResourceTypeName,
  resource: Record<string, unknown>,
): void {
  // externalId is the IdP's opaque id: bounded and visible, not necessarily readable.
  assertIdentifier(resource.externalId, "externalId", false);
  if (resourceType === "User") {
    assertIdentifier(resource.userName, "userName");
    if (Array.isArray(resource.emails)) {
      resource.emails.forEach((e, i) => {
        if (isPlainObject(e)) assertIdentifier(e.value, `emails[${i}].value`);
      });
    }
  } else {
    assertIdentifier(resource.displayName, "displayName");
    if (Array.isArray(resource.members)) {
      resource.members.forEach((m, i) => {
        if (isPlainObject(m)) assertIdentifier(m.value, `members[${i}].value`, false);
      });
    }
  }
}

/** Checks the required attribute of each resource type (RFC 7643 §4.1.1, §4.2). */
function assertRequired(resourceType: ResourceTypeName, resource: Record<string, unknown>): void {
  const name = resourceType === "User" ? "userName" : "displayName";
  const value = resource[name];
  if (typeof value !== "string" || value.trim() === "") throw invalid(name, "is required");
}

/** Checks that the stored form fits one Deno KV value (members are stored as rows). */
function assertSize(resourceType: ResourceTypeName, resource: Record<string, unknown>): void {
  let stored = resource;
  if (resourceType === "Group" && "members" in resource) {
    const { members: _members, ...rest } = resource;
    stored = rest;
  }
  const bytes = encoder.encode(JSON.stringify(stored)).length;
  if (bytes > MAX_RESOURCE_BYTES) {
    throw new ScimError(
      413,
      `Cannot store ${resourceType}: it takes ${bytes} bytes, over the limit of ${MAX_RESOURCE_BYTES} bytes`,
      { scimType: "tooMany" },
    );
  }
}

/**
 * Validates and normalises a User or Group body (POST, PUT, or a resource after PATCH) into the
 * form Weft stores; throws {@linkcode ScimError} 400 `invalidSyntax`/`invalidValue` or 413 `tooMany`.
 */
export function normalizeResource(
  resourceType: ResourceTypeName,
  body: unknown,
): Record<string, unknown> {
  if (!isPlainObject(body)) {
    throw ScimError.invalidSyntax(`Cannot parse ${resourceType}: the body must be a JSON object`);
  }
  inspect(body, "", 1);

  const core = new Bucket(resourceType, undefined);
  const extensions = new Map<string, Bucket>();
  const unknownUrns = new Map<string, [string, unknown]>();
  function extension(urn: string): Bucket {
    let bucket = extensions.get(urn);
    if (bucket === undefined) extensions.set(urn, bucket = new Bucket(resourceType, urn));
    return bucket;
  }

  for (const [key, value] of Object.entries(body)) {
    if (value === null) continue;
    if (!key.toLowerCase().startsWith("urn:")) {
      const urn = bareExtensionName(resourceType, key);
      (urn === undefined ? core : extension(urn)).add(key, value);
      continue;
    }
    const schemaUrn = canonicalSchemaUrn(resourceType, key);
    if (schemaUrn !== undefined) {
      // An extension object, or (leniently) core attributes nested under the core URN.
      const bucket = schemaUrn === coreSchemaUrn(resourceType) ? core : extension(schemaUrn);
      for (const [name, child] of Object.entries(check(OBJECT, value, schemaUrn, "an object"))) {
        bucket.add(name, child);
      }
      continue;
    }
    const qualifier = qualifiedBy(resourceType, key);
    if (qualifier !== undefined) {
      const bucket = qualifier === coreSchemaUrn(resourceType) ? core : extension(qualifier);
      bucket.add(key.slice(qualifier.length + 1), value);
      continue;
    }
    // Unknown schema URN (a custom extension, Entra's typo'd enterprise URN): kept as sent.
    const lower = key.toLowerCase();
    if (unknownUrns.has(lower)) throw invalid(key, "is given more than once");
    unknownUrns.set(lower, [key, value]);
  }

  const result: Record<string, unknown> = {};
  core.normalizeInto(result);
  for (const urn of extensionUrns(resourceType)) {
    const bucket = extensions.get(urn);
    if (bucket === undefined) continue;
    const attributes: Record<string, unknown> = {};
    bucket.normalizeInto(attributes);
    if (Object.keys(attributes).length > 0) result[urn] = attributes;
  }
  for (const [key, value] of unknownUrns.values()) result[key] = copyUnknown(value, key);

  assertRequired(resourceType, result);
  assertIdentifiers(resourceType, result);
  assertSize(resourceType, result);
  return result;
}
