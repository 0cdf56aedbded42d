/**
 * `remove` on a resolved target (RFC 7644 §3.5.2.2): a whole attribute, a sub-attribute, or the
 * elements a value filter matches; no match is a no-op, so retries stay idempotent.
 * @module
 */
import { findKey } from "../filter/resolve.ts";
import { deepEqual, isPlainObject, ownValue } from "../../json.ts";
import {
  type Context,
  deleteKey,
  filterableElements,
  getContainer,
  isNotEmptyObject,
  type Target,
  targetMatcher,
  writeArray,
} from "./targets.ts";

/**
 * Removes what a target names. A `value` on a multi-valued attribute removes only the listed
 * values, like Entra's member removal (E6).
 */
export function removeTarget(
  resource: Record<string, unknown>,
  target: Target,
  value: unknown,
  ctx: Context,
): void {
  const container = getContainer(resource, target.ext, false);
  if (container === undefined) return;
  const key = findKey(container, target.name);
  if (key === undefined) return;
  const existing = container[key];
  if (target.filter !== undefined) {
    removeFiltered(container, key, target, ctx);
  } else if (target.sub !== undefined) {
    if (Array.isArray(existing)) {
      for (const element of existing.filter(isPlainObject)) deleteKey(element, target.sub);
      writeArray(container, key, existing.filter(isNotEmptyObject));
    } else if (isPlainObject(existing)) {
      deleteKey(existing, target.sub);
      if (Object.keys(existing).length === 0) delete container[key];
    }
  } else if (Array.isArray(existing) && value !== undefined && value !== null) {
    const listed = Array.isArray(value) ? value : [value];
    writeArray(
      container,
      key,
      existing.filter((element) => !listed.some((entry) => sameElement(element, entry))),
    );
  } else {
    delete container[key];
  }
}

/** Removes the elements the target's value filter matches, or their sub-attribute. */
export function removeFiltered(
  container: Record<string, unknown>,
  key: string,
  target: Target,
  ctx: Context,
): void {
  const existing = ownValue(container, key);
  if (existing === undefined) return;
  const elements = filterableElements(existing, target);
  const test = targetMatcher(target, ctx);
  const kept: unknown[] = [];
  for (const element of elements) {
    if (!isPlainObject(element) || !test(element)) {
      kept.push(element);
    } else if (target.sub !== undefined) {
      deleteKey(element, target.sub);
      if (Object.keys(element).length > 0) kept.push(element);
    }
  }
  writeArray(container, key, kept);
}

/** An element named by a remove `value` entry: same `value` sub-attribute, or deep-equal. */
function sameElement(element: unknown, entry: unknown): boolean {
  if (isPlainObject(entry) && isPlainObject(element)) {
    const entryKey = findKey(entry, "value");
    const entryValue = entryKey === undefined ? undefined : entry[entryKey];
    if (entryValue !== undefined && entryValue !== null) {
      const elementKey = findKey(element, "value");
      return elementKey !== undefined && deepEqual(element[elementKey], entryValue);
    }
  }
  return deepEqual(element, entry);
}
