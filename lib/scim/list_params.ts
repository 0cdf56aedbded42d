/**
 * The parameters of a SCIM list or search request (RFC 7644 §3.4.2 and §3.4.3, RFC 9865 cursors),
 * validated: what the HTTP layer reads from a query string or a SearchRequest, and what the
 * store's query engine and the projection run on.
 * @module
 */
import type { Filter } from "./filter/ast.ts";

/** Validated list parameters. */
export interface ListParams {
  filter?: Filter;
  /** Another reading of an ambiguous `+` in the filter, tried when `filter` matches nothing. */
  filterAlternative?: Filter;
  /** 1-based index paging. */
  startIndex: number;
  count: number;
  sortBy?: string;
  sortOrder: "ascending" | "descending";
  /** RFC 9865: `""` asks for the first page; undefined means index paging. */
  cursor?: string;
  attributes?: string[];
  excludedAttributes?: string[];
}
