/**
 * Evaluates a parsed filter against one SCIM resource, with the comparison rules of RFC 7644
 * §3.4.2.2 and the data types of RFC 7643 §2.3.
 *
 * - Attribute names are case-insensitive; strings compare case-insensitively unless the
 *   attribute is `caseExact` (unknown attributes: case-insensitive).
 * - A multi-valued attribute matches when any one value matches.
 * - A complex attribute compared directly compares its `value` sub-attribute (RFC 7643 §2.4),
 *   as in the RFC's `emails co "example.com"` and Entra's `manager eq "<id>"`.
 * - `dateTime` attributes compare as instants; `meta.created` and `meta.lastModified` are
 *   `dateTime` even when the schema lookup does not know `meta` (a common attribute, RFC 7643
 *   §3.1).
 * - Booleans also accept Entra's strings `"True"`/`"False"` (any case), on either side.
 * - `eq null` means "not present" and `ne null` "present"; `ne` also matches an attribute with no
 *   value (absent is not identical to the operand).
 * - `pr` is present and not `null`, `""`, `[]` or `{}`.
 * - Comparisons that have no meaning (`gt` on a boolean, binary or complex attribute, `co` on a
 *   number or boolean, a non-date operand for a `dateTime`) throw `invalidFilter`, and so does a
 *   value filter on a simple single-valued attribute (`userName[type eq "x"]`).
 * @module
 */
import type { AttrPath, CompareOp, CompareValue, Filter } from "./ast.ts";
import type { AttributeDef, AttributeType } from "../schema_types.ts";
import { ScimError } from "../errors.ts";
import { formatAttrPath } from "./format.ts";
import { findKey, resolveValues } from "./resolve.ts";
import { isPlainObject, ownValue } from "../../json.ts";

/** The schema lookup for an attribute path (core, extension or `{attr, sub}` of a valuePath element). */
export type AttributeLookup = (path: AttrPath) => AttributeDef | undefined;

/** How a filter sees the object it is evaluated against (a resource, or one valuePath element). */
interface Scope {
  values(path: AttrPath): unknown[];
  def(path: AttrPath): AttributeDef | undefined;
  /** The absolute path, for messages. */
  label(path: AttrPath): string;
}

const CORE_PREFIX = "urn:ietf:params:scim:schemas:core:2.0:";
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;
const ORDERING: ReadonlySet<CompareOp> = new Set(["gt", "ge", "lt", "le"]);
const SUBSTRING: ReadonlySet<CompareOp> = new Set(["co", "sw", "ew"]);

/** A definition for the RFC 7643 §3.1 common attributes, which schema lookups may not list. */
function commonDef(
  name: string,
  type: AttributeType,
  caseExact: boolean,
  subAttributes?: AttributeDef[],
): AttributeDef {
  const def: AttributeDef = {
    name,
    type,
    multiValued: false,
    description: "",
    required: false,
    caseExact,
    mutability: "readOnly",
    returned: "default",
    uniqueness: "none",
  };
  if (subAttributes) def.subAttributes = subAttributes;
  return def;
}

const META_SUBS: Record<string, AttributeDef> = {
  resourcetype: commonDef("resourceType", "string", true),
  created: commonDef("created", "dateTime", false),
  lastmodified: commonDef("lastModified", "dateTime", false),
  location: commonDef("location", "reference", true),
  version: commonDef("version", "string", true),
};
const COMMON: Record<string, AttributeDef> = {
  id: commonDef("id", "string", true),
  externalid: commonDef("externalId", "string", true),
  meta: commonDef("meta", "complex", false, Object.values(META_SUBS)),
};

/** The common-attribute fallback for `path` (no URI or a core URI), or `undefined`. */
function fallbackDef(path: AttrPath): AttributeDef | undefined {
  if (path.uri !== undefined && !path.uri.toLowerCase().startsWith(CORE_PREFIX)) return undefined;
  const attr = path.attr.toLowerCase();
  const def = Object.hasOwn(COMMON, attr) ? COMMON[attr] : undefined;
  if (def === undefined || path.sub === undefined) return def;
  const sub = path.sub.toLowerCase();
  return attr === "meta" && Object.hasOwn(META_SUBS, sub) ? META_SUBS[sub] : undefined;
}

/** The sub-attribute definition `name` of a complex definition, matched case-insensitively. */
function subDef(def: AttributeDef, name: string): AttributeDef | undefined {
  const lower = name.toLowerCase();
  return def.subAttributes?.find((sub) => sub.name.toLowerCase() === lower);
}

/** The scope of the resource itself. */
function resourceScope(
  resource: Record<string, unknown>,
  lookup: AttributeLookup,
  coreSchemaUrn?: string,
): Scope {
  return {
    values: (path) => resolveValues(resource, path, coreSchemaUrn),
    def: (path) => lookup(path) ?? fallbackDef(path),
    label: formatAttrPath,
  };
}

/** The absolute path of `child` inside the valuePath on `parent`: `{uri, attr, sub: child.attr}`. */
function childPath(parent: AttrPath, child: AttrPath): AttrPath {
  const path: AttrPath = { attr: parent.attr, sub: child.attr };
  if (parent.uri !== undefined) path.uri = parent.uri;
  return path;
}

/** The scope of one element of the multi-valued attribute `parent`. */
function elementScope(
  parent: AttrPath,
  element: Record<string, unknown>,
  lookup: AttributeLookup,
): Scope {
  return {
    values: (path) => {
      const relative: AttrPath = { attr: path.attr };
      if (path.sub !== undefined) relative.sub = path.sub;
      return resolveValues(element, relative);
    },
    def: (path) => {
      const absolute = childPath(parent, path);
      return lookup(absolute) ?? fallbackDef(absolute);
    },
    label: (path) => formatAttrPath(childPath(parent, path)),
  };
}

/** The definition scope used while checking a valuePath's inner filter. */
function elementDefScope(parent: AttrPath, lookup: AttributeLookup): Scope {
  return elementScope(parent, {}, lookup);
}

/** Fails a filter that cannot be evaluated. */
function cannotEvaluate(detail: string): ScimError {
  return ScimError.invalidFilter(`Cannot evaluate filter: ${detail}`);
}

/** A boolean from `true`/`false` or Entra's `"True"`/`"False"` (any case). */
function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
  }
  return undefined;
}

/** A finite number from a number or a numeric string. */
function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && NUMBER.test(value.trim())) {
    const n = Number(value.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A string from a string, number or boolean (unquoted `externalId eq 12345` stays usable). */
function toText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/** Days in `month` (1-12) of `year`. */
function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * Milliseconds since the epoch of an ISO 8601 / `xsd:dateTime` string (RFC 7643 §2.3.5), keeping
 * sub-millisecond digits; a missing offset means UTC. `undefined` when it is not one.
 */
export function parseDateTime(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = DATE_TIME.exec(value.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== "Z") {
    const digits = zone.slice(1).replace(":", "");
    const hours = Number(digits.slice(0, 2));
    const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (hours > 23 || minutes > 59) return undefined;
    offset = (zone[0] === "-" ? -1 : 1) * (hours * 60 + minutes);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const fraction = m[7] !== undefined ? Number(`0.${m[7]}`) * 1000 : 0;
  return date.getTime() + fraction - offset * 60_000;
}

/** Applies an ordering or equality `op` to the sign of a comparison. */
function ordered(op: CompareOp, sign: number): boolean {
  switch (op) {
    case "eq":
      return sign === 0;
    case "ne":
      return sign !== 0;
    case "gt":
      return sign > 0;
    case "ge":
      return sign >= 0;
    case "lt":
      return sign < 0;
    case "le":
      return sign <= 0;
    default:
      return false;
  }
}

/** Compares two strings with `op`, folding case unless `caseExact`. */
function compareText(op: CompareOp, actual: string, expected: string, caseExact: boolean): boolean {
  const a = caseExact ? actual : actual.toLowerCase();
  const e = caseExact ? expected : expected.toLowerCase();
  switch (op) {
    case "co":
      return a.includes(e);
    case "sw":
      return a.startsWith(e);
    case "ew":
      return a.endsWith(e);
    default:
      return ordered(op, a === e ? 0 : a > e ? 1 : -1);
  }
}

/** Compares two numbers (or two instants) with `op`. */
function compareNumbers(op: CompareOp, actual: number, expected: number): boolean {
  return ordered(op, actual === expected ? 0 : actual > expected ? 1 : -1);
}

/** Compares booleans (equality only; ordering is rejected before this point). */
function compareBooleans(op: CompareOp, actual: boolean, expected: boolean): boolean {
  return op === "eq" ? actual === expected : op === "ne" ? actual !== expected : false;
}

/** Compares one attribute value whose schema type is known. */
function compareTyped(
  op: CompareOp,
  actual: unknown,
  expected: CompareValue,
  def: AttributeDef,
): boolean {
  switch (def.type) {
    case "boolean": {
      const a = toBoolean(actual);
      const e = toBoolean(expected);
      return a !== undefined && e !== undefined && compareBooleans(op, a, e);
    }
    case "integer":
    case "decimal": {
      const a = toNumber(actual);
      const e = toNumber(expected);
      return a !== undefined && e !== undefined && compareNumbers(op, a, e);
    }
    case "dateTime": {
      if (SUBSTRING.has(op)) {
        const a = toText(actual);
        const e = toText(expected);
        return a !== undefined && e !== undefined && compareText(op, a, e, false);
      }
      const a = parseDateTime(actual);
      const e = parseDateTime(expected);
      return a !== undefined && e !== undefined && compareNumbers(op, a, e);
    }
    case "complex":
      return compareUntyped(op, actual, expected, def.name);
    default: {
      const a = toText(actual);
      const e = toText(expected);
      return a !== undefined && e !== undefined && compareText(op, a, e, def.caseExact);
    }
  }
}

/** Compares one value of an attribute the schema does not know, by the value's JSON type. */
function compareUntyped(
  op: CompareOp,
  actual: unknown,
  expected: CompareValue,
  label: string,
): boolean {
  if (isPlainObject(actual)) {
    if (ORDERING.has(op)) {
      throw cannotEvaluate(`operator "${op}" is not defined for complex attribute "${label}"`);
    }
    const key = findKey(actual, "value");
    const inner = key === undefined ? undefined : ownValue(actual, key);
    if (inner === undefined || inner === null || isPlainObject(inner)) return false;
    actual = inner;
  }
  if (typeof actual === "boolean") {
    if (ORDERING.has(op)) {
      throw cannotEvaluate(`operator "${op}" is not defined for boolean attribute "${label}"`);
    }
    const e = toBoolean(expected);
    return !SUBSTRING.has(op) && e !== undefined && compareBooleans(op, actual, e);
  }
  if (typeof actual === "number") {
    const e = toNumber(expected);
    return !SUBSTRING.has(op) && e !== undefined && compareNumbers(op, actual, e);
  }
  if (typeof actual === "string") {
    const a = toBoolean(actual);
    if (typeof expected === "boolean" && a !== undefined && (op === "eq" || op === "ne")) {
      return compareBooleans(op, a, expected);
    }
    const e = toText(expected);
    return e !== undefined && compareText(op, actual, e, false);
  }
  return false;
}

/** Whether `value` counts as present for `pr`: not null, `""`, `[]` or `{}` (recursively). */
function isPresent(value: unknown, depth = 0): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "string") return value !== "";
  if (depth > 32) return true;
  if (Array.isArray(value)) return value.some((item) => isPresent(item, depth + 1));
  if (isPlainObject(value)) {
    return Object.keys(value).some((key) => isPresent(ownValue(value, key), depth + 1));
  }
  return true;
}

/** The definition comparisons on `def` actually use: a complex attribute's `value`. */
function comparedDef(def: AttributeDef | undefined): AttributeDef | undefined {
  return def?.type === "complex" ? subDef(def, "value") : def;
}

/** Throws `invalidFilter` when a comparison has no meaning for the attribute's schema type. */
function checkCompare(
  filter: Extract<Filter, { kind: "compare" }>,
  scope: Scope,
): void {
  const { op, value } = filter;
  const label = scope.label(filter.path);
  if (value === null) {
    if (op !== "eq" && op !== "ne") {
      throw cannotEvaluate(`operator "${op}" cannot compare with null ("${label}")`);
    }
    return;
  }
  const declared = scope.def(filter.path);
  if (declared?.type === "complex" && ORDERING.has(op)) {
    throw cannotEvaluate(`operator "${op}" is not defined for complex attribute "${label}"`);
  }
  const def = comparedDef(declared);
  if (def === undefined) return;
  const shown = JSON.stringify(value);
  switch (def.type) {
    case "boolean":
      if (op !== "eq" && op !== "ne") {
        throw cannotEvaluate(`operator "${op}" is not defined for boolean attribute "${label}"`);
      }
      if (toBoolean(value) === undefined) {
        throw cannotEvaluate(`attribute "${label}" is boolean, cannot compare with ${shown}`);
      }
      return;
    case "integer":
    case "decimal":
      if (SUBSTRING.has(op)) {
        throw cannotEvaluate(`operator "${op}" is not defined for numeric attribute "${label}"`);
      }
      if (toNumber(value) === undefined) {
        throw cannotEvaluate(`attribute "${label}" is numeric, cannot compare with ${shown}`);
      }
      return;
    case "dateTime":
      if (SUBSTRING.has(op) ? typeof value !== "string" : parseDateTime(value) === undefined) {
        throw cannotEvaluate(`attribute "${label}" is a dateTime, cannot compare with ${shown}`);
      }
      return;
    case "binary":
      if (ORDERING.has(op)) {
        throw cannotEvaluate(`operator "${op}" is not defined for binary attribute "${label}"`);
      }
      return;
  }
}

/** Walks `filter` checking every comparison against the schema (see {@linkcode checkFilter}). */
function check(filter: Filter, scope: Scope, lookup: AttributeLookup): void {
  switch (filter.kind) {
    case "compare":
      return checkCompare(filter, scope);
    case "present":
      return;
    case "not":
      return check(filter.filter, scope, lookup);
    case "and":
    case "or":
      check(filter.left, scope, lookup);
      return check(filter.right, scope, lookup);
    case "valuePath":
      checkValuePath(filter.path, scope);
      return check(filter.filter, elementDefScope(filter.path, lookup), lookup);
  }
}

/**
 * Throws `invalidFilter` for a value filter (`attr[…]`) on a simple single-valued attribute: it
 * has no elements to filter (RFC 7644 §3.4.2.2 `valuePath` is for multi-valued attributes), and
 * PATCH refuses the same path (`invalidPath`). A single complex attribute (`name[givenName eq
 * "x"]`) is read as its one element, and an unknown attribute is not checked.
 */
function checkValuePath(path: AttrPath, scope: Scope): void {
  const def = scope.def(path);
  if (def === undefined || def.multiValued || def.type === "complex") return;
  throw cannotEvaluate(
    `"${scope.label(path)}" is not multi-valued, so it takes no value filter ("[…]")`,
  );
}

/**
 * Throws `ScimError` `invalidFilter` when `filter` compares in a way the schema makes meaningless
 * (`active gt true`, `meta.lastModified gt "yesterday"`), whatever the data.
 */
export function checkFilter(filter: Filter, lookup: AttributeLookup): void {
  check(filter, resourceScope({}, lookup), lookup);
}

/** Evaluates one comparison node in `scope`. */
function compare(filter: Extract<Filter, { kind: "compare" }>, scope: Scope): boolean {
  const { op, value } = filter;
  let values = scope.values(filter.path);
  if (value === null) {
    const present = values.some((v) => isPresent(v));
    return op === "eq" ? !present : op === "ne" ? present : false;
  }
  const declared = scope.def(filter.path);
  let def = declared;
  if (declared?.type === "complex") {
    // RFC 7643 §2.4: a complex attribute's primary value is its `value` sub-attribute. A bare
    // string (Entra's `"manager": "<id>"`) is taken as that value.
    values = values.flatMap((v) => {
      if (!isPlainObject(v)) return [v];
      const key = findKey(v, "value");
      const inner = key === undefined ? undefined : ownValue(v, key);
      return inner === undefined || inner === null ? [] : [inner];
    });
    def = subDef(declared, "value");
  }
  if (values.length === 0) return op === "ne";
  const label = scope.label(filter.path);
  return values.some((v) =>
    def === undefined ? compareUntyped(op, v, value, label) : compareTyped(op, v, value, def)
  );
}

/** Evaluates `filter` in `scope`. */
function test(filter: Filter, scope: Scope, lookup: AttributeLookup): boolean {
  switch (filter.kind) {
    case "compare":
      return compare(filter, scope);
    case "present":
      return scope.values(filter.path).some((v) => isPresent(v));
    case "not":
      return !test(filter.filter, scope, lookup);
    case "and":
      return test(filter.left, scope, lookup) && test(filter.right, scope, lookup);
    case "or":
      return test(filter.left, scope, lookup) || test(filter.right, scope, lookup);
    case "valuePath":
      return scope.values(filter.path).some((element) =>
        isPlainObject(element) &&
        test(filter.filter, elementScope(filter.path, element, lookup), lookup)
      );
  }
}

/** Filters (and lookups) already checked by {@linkcode checkFilter}, so lists check once. */
const CHECKED = new WeakMap<Filter, WeakSet<AttributeLookup>>();

/**
 * Whether `resource` matches `filter` (RFC 7644 §3.4.2.2); throws `ScimError` `invalidFilter`
 * when a comparison is meaningless for the attribute's type.
 */
export function matches(
  filter: Filter,
  resource: Record<string, unknown>,
  lookup: AttributeLookup,
  coreSchemaUrn?: string,
): boolean {
  let lookups = CHECKED.get(filter);
  if (!lookups?.has(lookup)) {
    checkFilter(filter, lookup);
    if (!lookups) CHECKED.set(filter, lookups = new WeakSet());
    lookups.add(lookup);
  }
  return test(filter, resourceScope(resource, lookup, coreSchemaUrn), lookup);
}
