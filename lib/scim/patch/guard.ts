/**
 * Limits on PATCH values: no key that reaches `Object.prototype`, and a bounded size and depth, so
 * a hostile value is refused before anything walks it recursively.
 * @module
 */
import { isReservedName } from "../filter/safe_path.ts";
import { ScimError } from "../errors.ts";

/** Deepest nesting of a PATCH value (a SCIM resource needs about 4). */
const MAX_VALUE_DEPTH = 16;
/** Most objects and arrays in one PATCH value. */
const MAX_VALUE_NODES = 50_000;
/** Longest array in a PATCH value (Group `members` may hold this many). */
const MAX_VALUE_ITEMS = 10_000;

/**
 * Rejects values holding a `__proto__`, `constructor` or `prototype` key at any depth, also as a
 * part of a key (pathless keys are paths: `constructor.prototype`), and values too large or deep.
 */
export function assertSafeValue(value: unknown): void {
  // Iterative, bounded walk: a value nested 100,000 deep must be refused, not overflow the stack.
  const stack: [unknown, number][] = [[value, 0]];
  let seen = 0;
  while (stack.length) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= MAX_VALUE_DEPTH) {
      throw ScimError.invalidValue(
        `Cannot use "value": nested deeper than ${MAX_VALUE_DEPTH} levels`,
      );
    }
    if (++seen > MAX_VALUE_NODES) {
      throw ScimError.invalidValue(
        `Cannot use "value": more than ${MAX_VALUE_NODES} objects and arrays`,
      );
    }
    if (Array.isArray(item)) {
      if (item.length > MAX_VALUE_ITEMS) {
        throw ScimError.invalidValue(
          `Cannot use "value": an array holds more than ${MAX_VALUE_ITEMS} values`,
        );
      }
      for (const child of item) stack.push([child, depth + 1]);
      continue;
    }
    for (const [key, child] of Object.entries(item)) {
      if (key.split(/[.:[\]\s]+/).some(isReservedName)) {
        throw ScimError.invalidValue(`Cannot use "value": "${key}" is a reserved name`);
      }
      stack.push([child, depth + 1]);
    }
  }
}
