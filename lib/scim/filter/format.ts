/**
 * Canonical text of filters and paths (RFC 7644 §3.4.2.2 and §3.5.2), for tests, logs and
 * round trips: lower-case keywords, single spaces, JSON-quoted strings and the fewest
 * parentheses that keep the tree (precedence `not` > `and` > `or`, both left-associative), so
 * `parseFilter(formatFilter(ast))` gives back `ast`.
 * @module
 */
import type { AttrPath, CompareValue, Filter, PatchPath } from "./ast.ts";

/** Binding strength of a node: 1 `or`, 2 `and`, 3 everything that needs no parentheses. */
function precedence(filter: Filter): number {
  if (filter.kind === "or") return 1;
  if (filter.kind === "and") return 2;
  return 3;
}

/** A comparison value as filter text. */
function formatValue(value: CompareValue): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new RangeError(`Cannot format filter: number ${value} is not finite`);
    }
    return Object.is(value, -0) ? "-0" : String(value);
  }
  return JSON.stringify(value);
}

/** `filter` as text, parenthesised when it binds looser than `min`. */
function formatAt(filter: Filter, min: number): string {
  const text = formatNode(filter);
  return precedence(filter) < min ? `(${text})` : text;
}

/** One node as text. */
function formatNode(filter: Filter): string {
  switch (filter.kind) {
    case "compare":
      return `${formatAttrPath(filter.path)} ${filter.op} ${formatValue(filter.value)}`;
    case "present":
      return `${formatAttrPath(filter.path)} pr`;
    case "not":
      return `not (${formatNode(filter.filter)})`;
    case "valuePath":
      return `${formatAttrPath(filter.path)}[${formatNode(filter.filter)}]`;
    case "and":
      // Left-associative: the right operand needs parentheses when it is itself an `and`.
      return `${formatAt(filter.left, 2)} and ${formatAt(filter.right, 3)}`;
    case "or":
      return `${formatAt(filter.left, 1)} or ${formatAt(filter.right, 2)}`;
  }
}

/** An attribute path as text: `[uri ":"] attr ["." sub]`. */
export function formatAttrPath(path: AttrPath): string {
  const prefix = path.uri !== undefined ? `${path.uri}:` : "";
  const suffix = path.sub !== undefined ? `.${path.sub}` : "";
  return `${prefix}${path.attr}${suffix}`;
}

/** A filter as canonical text with minimal parentheses. */
export function formatFilter(filter: Filter): string {
  return formatNode(filter);
}

/** A PATCH path as text: `attrPath` or `attrPath "[" filter "]" ["." subAttr]`. */
export function formatPath(path: PatchPath): string {
  let text = formatAttrPath(path.path);
  if (path.filter !== undefined) text += `[${formatNode(path.filter)}]`;
  if (path.subAttr !== undefined) text += `.${path.subAttr}`;
  return text;
}
