/**
 * `add` and `replace` on a resolved target (RFC 7644 §3.5.2.1 and §3.5.2.3): a whole attribute, a
 * sub-attribute, or the elements a value filter matches, with the values checked against the
 * attribute's type.
 * @module
 */
import type { Filter } from "../filter/ast.ts";
import { ScimError } from "../errors.ts";
import type { AttributeDef } from "../schema_types.ts";
import { ENTERPRISE_USER_SCHEMA } from "../urns.ts";
import {
  coerceBoolean,
  elementFromFilter,
  isClearValue,
  normalizeManagerValue,
} from "../compat.ts";
import { canonicalJson, cloneJson, deepEqual, isPlainObject, ownValue } from "../../json.ts";
import { describe } from "./detail.ts";
import { assertSafeValue } from "./guard.ts";
import { removeFiltered } from "./remove.ts";
import {
  attributeKey,
  canonicalKey,
  type Context,
  deleteKey,
  filterableElements,
  getContainer,
  isNotEmptyObject,
  subAttribute,
  subKey,
  type Target,
  targetMatcher,
  writeArray,
} from "./targets.ts";

/** Applies `add` or `replace` of `value` at a target; `""`/`null` clear what it targets. */
export function setTarget(
  resource: Record<string, unknown>,
  target: Target,
  op: "add" | "replace",
  value: unknown,
  ctx: Context,
): void {
  const clear = isClearValue(value);
  const container = getContainer(resource, target.ext, !clear);
  if (container === undefined) return;
  const key = attributeKey(container, target);
  if (target.filter !== undefined) {
    setFiltered(container, key, target, value, ctx);
  } else if (target.sub !== undefined) {
    setSubAttribute(container, key, target, value);
  } else if (clear) {
    delete container[key];
  } else {
    const next = writeWhole(ownValue(container, key), target, op, value);
    if (next === undefined) delete container[key];
    else container[key] = next;
  }
}

/**
 * The new value of a whole attribute. `add` ≡ `replace` for single-valued attributes (X5, the
 * interop profile); `add` appends new values to a multi-valued attribute (RFC 7644 §3.5.2.1) and
 * `replace` replaces the array (§3.5.2.3); complex values merge (§3.5.2.3).
 */
function writeWhole(
  existing: unknown,
  target: Target,
  op: "add" | "replace",
  value: unknown,
): unknown {
  if (isManager(target)) {
    const manager = normalizeManagerValue(value);
    if (manager === undefined) {
      throw ScimError.invalidValue(
        `"${target.label}" must be a manager id or an object with a string "value", got ${
          describe(value)
        }`,
      );
    }
    return manager ?? undefined;
  }
  const def = target.def;
  if (def === undefined) return writeUnknown(existing, op, value);
  if (def.multiValued) {
    const incoming = appendUnique(
      [],
      (Array.isArray(value) ? value : [value])
        .filter((element) => !isClearValue(element))
        .map((element) => coerceElement(def, element, target.label)),
    );
    const base = op === "add" && Array.isArray(existing) ? existing : [];
    const result = appendUnique(base, incoming);
    demoteOtherPrimaries(result, incoming);
    return result.length > 0 ? result : undefined;
  }
  if (def.type === "complex") {
    if (!isPlainObject(value)) {
      throw ScimError.invalidValue(`"${target.label}" must be an object, got ${describe(value)}`);
    }
    const merged = mergeComplex(isPlainObject(existing) ? existing : {}, value, def, target.label);
    return Object.keys(merged).length > 0 ? merged : undefined;
  }
  return coerceSimple(def, value, target.label);
}

/** Unknown (custom) attributes are kept as sent: arrays append on `add`, objects merge. */
function writeUnknown(existing: unknown, op: "add" | "replace", value: unknown): unknown {
  if (Array.isArray(value)) {
    return op === "add" && Array.isArray(existing) ? appendUnique(existing, value) : value;
  }
  if (op === "add" && Array.isArray(existing)) return appendUnique(existing, [value]);
  if (isPlainObject(value)) {
    const merged = mergeComplex(isPlainObject(existing) ? existing : {}, value, undefined, "");
    return Object.keys(merged).length > 0 ? merged : undefined;
  }
  return value;
}

/** `name.givenName`, `manager.value`, or `emails.value` (every element; one is created if none). */
function setSubAttribute(
  container: Record<string, unknown>,
  key: string,
  target: Target,
  value: unknown,
): void {
  const existing = ownValue(container, key);
  const sub = target.sub as string;
  const label = target.label;
  if (target.def?.multiValued || (target.def === undefined && Array.isArray(existing))) {
    const elements: unknown[] = Array.isArray(existing) ? existing : [];
    if (isClearValue(value)) {
      for (const element of elements.filter(isPlainObject)) deleteKey(element, sub);
      writeArray(container, key, elements.filter(isNotEmptyObject));
      return;
    }
    if (!elements.some(isPlainObject)) elements.push({});
    const coerced = coerceSub(target.subDef, value, label);
    for (const element of elements.filter(isPlainObject)) {
      element[subKey(element, target)] = cloneJson(coerced);
    }
    writeArray(container, key, elements);
    return;
  }
  const object = isPlainObject(existing) ? existing : {};
  if (isClearValue(value)) {
    deleteKey(object, sub);
  } else {
    object[subKey(object, target)] = coerceSub(target.subDef, value, label);
  }
  if (Object.keys(object).length > 0) container[key] = object;
  else delete container[key];
}

/**
 * `emails[type eq "work"].value` and `emails[type eq "work"]`: sets the sub-attribute on (or merges
 * the object into) every matching element. When none matches, the element is created from the
 * filter's `eq` terms (E3), not refused with `noTarget` as RFC 7644 §3.5.2.3 would; a filter
 * without usable `eq` terms still gets `noTarget`. `""`/`null` removes what it targets.
 */
function setFiltered(
  container: Record<string, unknown>,
  key: string,
  target: Target,
  value: unknown,
  ctx: Context,
): void {
  const elements = filterableElements(ownValue(container, key), target);
  if (isClearValue(value)) {
    removeFiltered(container, key, target, ctx);
    return;
  }
  const test = targetMatcher(target, ctx);
  let matched = elements.filter((element): element is Record<string, unknown> =>
    isPlainObject(element) && test(element)
  );
  if (matched.length === 0) {
    const seed = elementFromFilter(target.filter as Filter);
    if (seed === undefined) {
      throw ScimError.noTarget(`No value of "${target.name}" matches "${target.label}"`);
    }
    assertSafeValue(seed);
    const created = mergeComplex({}, seed, target.def, target.label);
    elements.push(created);
    matched = [created];
  }
  if (target.sub !== undefined) {
    const coerced = coerceSub(target.subDef, value, target.label);
    for (const element of matched) element[subKey(element, target)] = cloneJson(coerced);
  } else {
    const object = Array.isArray(value) && value.length === 1 ? value[0] : value;
    if (!isPlainObject(object)) {
      throw ScimError.invalidValue(`"${target.label}" must be an object, got ${describe(value)}`);
    }
    for (const element of matched) {
      mergeComplex(element, cloneJson(object), target.def, target.label);
    }
  }
  demoteOtherPrimaries(elements, matched);
  writeArray(container, key, elements.filter(isNotEmptyObject));
}

function isManager(target: Target): boolean {
  return target.ext === ENTERPRISE_USER_SCHEMA && target.name.toLowerCase() === "manager";
}

/**
 * Merges sub-attributes into `base` (mutated and returned): given ones replace, `""`/`null` remove,
 * others are kept (RFC 7644 §3.5.2.3). Known sub-attributes get their canonical name and type.
 */
function mergeComplex(
  base: Record<string, unknown>,
  value: Record<string, unknown>,
  def: AttributeDef | undefined,
  label: string,
): Record<string, unknown> {
  for (const [name, entry] of Object.entries(value)) {
    const subDef = subAttribute(def, name);
    if (subDef?.mutability === "readOnly") continue;
    const key = canonicalKey(base, subDef?.name ?? name, subDef !== undefined);
    if (isClearValue(entry)) delete base[key];
    else base[key] = subDef === undefined ? entry : coerceSub(subDef, entry, `${label}.${key}`);
  }
  return base;
}

function coerceElement(def: AttributeDef, element: unknown, label: string): unknown {
  if (def.type !== "complex") return coerceSimple(def, element, label);
  if (!isPlainObject(element)) {
    throw ScimError.invalidValue(
      `Each value of "${label}" must be an object, got ${describe(element)}`,
    );
  }
  return mergeComplex({}, element, def, label);
}

function coerceSub(subDef: AttributeDef | undefined, value: unknown, label: string): unknown {
  if (subDef === undefined) return value;
  if (subDef.multiValued) {
    return (Array.isArray(value) ? value : [value]).map((item) =>
      coerceSimple(subDef, item, label)
    );
  }
  return coerceSimple(subDef, value, label);
}

/** Checks a simple value; booleans also accept Entra's `"True"`/`"False"` (E2). */
function coerceSimple(def: AttributeDef, value: unknown, label: string): unknown {
  if (def.type === "boolean") {
    const bool = coerceBoolean(value);
    if (bool === undefined) {
      throw ScimError.invalidValue(`"${label}" must be a boolean, got ${describe(value)}`);
    }
    return bool;
  }
  if (typeof value === "object" && value !== null) {
    throw ScimError.invalidValue(
      `"${label}" must be a single ${def.type} value, got ${describe(value)}`,
    );
  }
  return value;
}

/** Appends values not already present (deep-equal), to a new array. */
function appendUnique(base: unknown[], values: unknown[]): unknown[] {
  // Linear: values are compared by a canonical JSON form (key order ignored), not pairwise.
  const result = [...base];
  const seen = new Set(base.map(canonicalJson));
  for (const value of values) {
    const key = canonicalJson(value);
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(value);
  }
  return result;
}

/**
 * RFC 7643 §2.4: `primary: true` appears at most once; RFC 7644 §3.5.2 lets the server set the
 * others to false when a PATCH makes a value primary.
 */
function demoteOtherPrimaries(elements: unknown[], written: unknown[]): void {
  const primary = written.filter((element) =>
    isPlainObject(element) && ownValue(element, "primary") === true
  );
  if (primary.length === 0) return;
  for (const element of elements) {
    if (
      isPlainObject(element) && ownValue(element, "primary") === true &&
      !primary.some((chosen) => chosen === element || deepEqual(chosen, element))
    ) {
      element.primary = false;
    }
  }
}
