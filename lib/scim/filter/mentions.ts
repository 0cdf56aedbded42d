/**
 * Which attributes a filter names, so a list reads what its evaluation needs (a user's groups, a
 * group's members) only when the filter names it.
 * @module
 */
import type { Filter } from "./ast.ts";

/** Whether the filter names the (top-level, core) attribute `name`, case-insensitively. */
export function mentionsAttribute(filter: Filter, name: string): boolean {
  switch (filter.kind) {
    case "and":
    case "or":
      return mentionsAttribute(filter.left, name) || mentionsAttribute(filter.right, name);
    case "not":
      return mentionsAttribute(filter.filter, name);
    default:
      return filter.path.attr.toLowerCase() === name.toLowerCase();
  }
}
