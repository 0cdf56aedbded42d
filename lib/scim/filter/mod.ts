/**
 * The SCIM filter engine of RFC 7644 §3.4.2.2: parse filters and PATCH paths (§3.5.2) into the
 * AST, evaluate them against resources, and format them back to canonical text.
 * @module
 */
export type { AttrPath, CompareOp, CompareValue, Filter, PatchPath } from "./ast.ts";
export {
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  MAX_FILTER_NODES,
  parseAttrPath,
  parseFilter,
  parsePath,
} from "./parser.ts";
export { formatAttrPath, formatFilter, formatPath } from "./format.ts";
export { type AttributeLookup, checkFilter, matches, parseDateTime } from "./evaluate.ts";
export { findKey, resolveValues } from "./resolve.ts";
