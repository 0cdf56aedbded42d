/**
 * What a PATCH changed, by attribute: the route records the names in the change's event, and an
 * unchanged result lets it skip the write.
 * @module
 */
import { deepEqual, isPlainObject, ownValue } from "../../json.ts";

/** Top-level attribute names whose value differs, `urn:…:attr` inside extension objects. */
export function diffAttributes(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string[] {
  const changed: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = ownValue(before, key);
    const b = ownValue(after, key);
    if (deepEqual(a, b)) continue;
    if (key.toLowerCase().startsWith("urn:") && (isPlainObject(a) || isPlainObject(b))) {
      const aObject = isPlainObject(a) ? a : {};
      const bObject = isPlainObject(b) ? b : {};
      const count = changed.length;
      for (const name of new Set([...Object.keys(aObject), ...Object.keys(bObject)])) {
        if (!deepEqual(ownValue(aObject, name), ownValue(bObject, name))) {
          changed.push(`${key}:${name}`);
        }
      }
      if (changed.length === count) changed.push(key);
    } else {
      changed.push(key);
    }
  }
  return changed;
}
