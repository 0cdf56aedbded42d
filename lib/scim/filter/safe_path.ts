/**
 * Paths that could reach `Object.prototype`: a PATCH path, a pathless PATCH key or a mirroring
 * source naming `__proto__`, `constructor` or `prototype` is refused before anything reads or
 * writes through it.
 * @module
 */
import type { AttrPath, Filter, PatchPath } from "./ast.ts";
import { PROTOTYPE_KEYS } from "../../json.ts";
import { ScimError } from "../errors.ts";

/** Tells whether a name (any case, surrounding space ignored) is `__proto__`, `constructor` or `prototype`. */
export function isReservedName(name: string): boolean {
  return PROTOTYPE_KEYS.has(name.trim().toLowerCase());
}

/** Throws `invalidPath` when a parsed path names a reserved name anywhere, filters included. */
export function assertSafePath(parsed: PatchPath, label: string): void {
  const names: string[] = [];
  const add = (path: AttrPath) => {
    names.push(path.attr);
    if (path.uri !== undefined) names.push(...path.uri.split(":"));
    if (path.sub !== undefined) names.push(path.sub);
  };
  const walk = (filter: Filter): void => {
    switch (filter.kind) {
      case "compare":
      case "present":
        add(filter.path);
        return;
      case "and":
      case "or":
        walk(filter.left);
        walk(filter.right);
        return;
      case "not":
        walk(filter.filter);
        return;
      case "valuePath":
        add(filter.path);
        walk(filter.filter);
    }
  };
  add(parsed.path);
  if (parsed.subAttr !== undefined) names.push(parsed.subAttr);
  if (parsed.filter !== undefined) walk(parsed.filter);
  const reserved = names.find(isReservedName);
  if (reserved !== undefined) {
    throw ScimError.invalidPath(`Cannot use path "${label}": "${reserved}" is a reserved name`);
  }
}
