/**
 * Helpers for JSON data — request bodies, stored resources, PATCH values: nothing in them is a
 * class instance, a getter or a cycle, which lets these be simple and fast.
 * @module
 */

/** Keys that reach `Object.prototype` when written through: never written, wherever they appear. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
]);

/** Tells whether a value is a plain JSON object (not an array, not `null`, not a class instance). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The own data property `key` of `object`: never an inherited value, never a getter's result. */
export function ownValue(object: Record<string, unknown>, key: string): unknown {
  return Object.getOwnPropertyDescriptor(object, key)?.value;
}

/**
 * A deep copy of JSON data, about ten times faster than `structuredClone`. A `__proto__` key stays
 * an own property, as `JSON.parse` makes it.
 */
export function cloneJson<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const copy = cloneJson((value as Record<string, unknown>)[key]);
    if (key === "__proto__") {
      Object.defineProperty(out, key, {
        value: copy,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else out[key] = copy;
  }
  return out as T;
}

/** JSON with object keys sorted, so deep-equal values give the same string. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) =>
      isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}

/** Tells whether two JSON values are equal: same arrays in the same order, same object keys in any order. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}

/** Freezes a value and everything reachable from it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
