/**
 * The filter and path AST of RFC 7644 §3.4.2.2 and §3.5.2, a discriminated union on `kind`.
 * @module
 */

/** An attribute reference: `[uri ":"] attr ["." sub]`. Names keep the case they were written in. */
export interface AttrPath {
  /** Schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`. */
  uri?: string;
  /** Attribute name, e.g. `emails`. */
  attr: string;
  /** Sub-attribute name, e.g. `value` in `emails.value`. */
  sub?: string;
}

/** Comparison operators (`pr` is its own node kind). */
export type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";

/** A comparison value: JSON string, number, `true`/`false` or `null`. */
export type CompareValue = string | number | boolean | null;

/** A filter expression. */
export type Filter =
  | { kind: "compare"; path: AttrPath; op: CompareOp; value: CompareValue }
  | { kind: "present"; path: AttrPath }
  | { kind: "and"; left: Filter; right: Filter }
  | { kind: "or"; left: Filter; right: Filter }
  | { kind: "not"; filter: Filter }
  /** `attr[filter]`: some element of the multi-valued `attr` matches `filter` (paths inside are relative). */
  | { kind: "valuePath"; path: AttrPath; filter: Filter };

/** A PATCH path: `attrPath` or `valuePath ["." subAttr]` (RFC 7644 §3.5.2 `PATH`). */
export interface PatchPath {
  path: AttrPath;
  /** The element filter of `attr[filter]`, paths relative to the element. */
  filter?: Filter;
  /** The sub-attribute after `]`, e.g. `value` in `emails[type eq "work"].value`. */
  subAttr?: string;
}
