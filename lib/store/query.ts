/**
 * Filtered, sorted and paged listing for the SCIM list endpoints (RFC 7644 §3.4.2, RFC 9865).
 * Equality on indexed attributes (`id`, `userName`, `externalId`, work emails, `displayName`) is
 * an index lookup; any other filter or sort examines at most `scanLimit` records, then answers
 * `tooMany` rather than a partial result.
 * @module
 */
import { keys } from "./keys.ts";
import { counterValue } from "./kv.ts";
import type { Filter } from "../scim/filter/ast.ts";
import { checkFilter, matches } from "../scim/filter/evaluate.ts";
import { resolveValues } from "../scim/filter/resolve.ts";
import { attributeLookup, coreSchemaUrn } from "../scim/schema_defs.ts";
import { ScimError } from "../scim/errors.ts";
import type { ResourceTypeName } from "../scim/schema_types.ts";
import { parseAttrPath } from "../scim/filter/parser.ts";
import type { ListParams } from "../scim/list_params.ts";

/** What {@linkcode query} runs: the list parameters, and how many records a filter or sort may examine. */
export type ListOptions = ListParams & { scanLimit: number };

/** One page. */
export interface Page<T> {
  totalResults: number;
  items: T[];
  /** RFC 9865 `nextCursor`, when cursor paging and more remain. */
  nextCursor?: string;
}

/** How the query engine reaches one resource type. */
export interface Source<T> {
  resourceType: ResourceTypeName;
  /** Prefix whose last key part is the resource id. */
  prefix: Deno.KvKey;
  counter: Deno.KvKey;
  /** Where the index-paging anchor for a start index is kept. */
  anchorKey(startIndex: number): Deno.KvKey;
  /** Loads records by id (missing ones skipped), in the given order. */
  load(ids: string[]): Promise<T[]>;
  /** Builds a record from a listed entry of `prefix`, when the entry holds all of it. */
  fromEntry?(entry: Deno.KvEntry<unknown>): T;
  id(item: T): string;
  /** The SCIM view a filter and sort are evaluated on. */
  view(item: T): Record<string, unknown>;
  /** Candidate ids for an equality, or null when the attribute is not indexed. */
  lookup(attr: string, value: string): Promise<string[] | null>;
  /** Candidate ids for a presence test, or null when the attribute is not indexed. */
  present?(attr: string): Promise<string[] | null>;
}

function isCoreOrNone(uri: string | undefined, type: ResourceTypeName): boolean {
  return !uri || uri.toLowerCase() === coreSchemaUrn(type).toLowerCase();
}

/** Candidate ids from the filter's indexed equalities, or null when a scan is needed. */
async function candidates<T>(source: Source<T>, filter: Filter): Promise<Set<string> | null> {
  switch (filter.kind) {
    case "and": {
      const l = await candidates(source, filter.left);
      if (l) return l;
      return await candidates(source, filter.right);
    }
    case "or": {
      const l = await candidates(source, filter.left);
      if (!l) return null;
      const r = await candidates(source, filter.right);
      if (!r) return null;
      return new Set([...l, ...r]);
    }
    case "compare": {
      if (filter.op !== "eq" || typeof filter.value !== "string") return null;
      if (!isCoreOrNone(filter.path.uri, source.resourceType)) return null;
      const attr = filter.path.sub
        ? `${filter.path.attr}.${filter.path.sub}`.toLowerCase()
        : filter.path.attr.toLowerCase();
      const ids = await source.lookup(attr, filter.value);
      return ids ? new Set(ids) : null;
    }
    case "present": {
      if (!source.present || !isCoreOrNone(filter.path.uri, source.resourceType)) return null;
      const attr = filter.path.sub
        ? `${filter.path.attr}.${filter.path.sub}`.toLowerCase()
        : filter.path.attr.toLowerCase();
      const ids = await source.present(attr);
      return ids ? new Set(ids) : null;
    }
    case "valuePath": {
      if (!isCoreOrNone(filter.path.uri, source.resourceType)) return null;
      const inner = valueEq(filter.filter);
      if (inner === null) return null;
      const ids = await source.lookup(`${filter.path.attr.toLowerCase()}.value`, inner);
      return ids ? new Set(ids) : null;
    }
    default:
      return null;
  }
}

/** The `value eq "x"` term of a valuePath filter (possibly inside `and`), if any. */
function valueEq(filter: Filter): string | null {
  if (filter.kind === "and") return valueEq(filter.left) ?? valueEq(filter.right);
  if (
    filter.kind === "compare" && filter.op === "eq" && typeof filter.value === "string" &&
    filter.path.attr.toLowerCase() === "value" && !filter.path.sub
  ) return filter.value;
  return null;
}

function encodeCursor(id: string): string {
  return btoa(JSON.stringify({ a: id })).replaceAll("=", "");
}

function decodeCursor(cursor: string): string | undefined {
  if (cursor === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(atob(cursor));
    if (parsed && typeof parsed === "object" && typeof (parsed as { a?: unknown }).a === "string") {
      return (parsed as { a: string }).a;
    }
  } catch {
    // fall through to the error below
  }
  throw new ScimError(
    400,
    `Cursor "${cursor.slice(0, 40)}" is not valid: start again without one`,
    {
      scimType: "invalidCursor",
    },
  );
}

function sortKey(
  view: Record<string, unknown>,
  path: ReturnType<typeof parseAttrPath>,
  type: ResourceTypeName,
): string | number | undefined {
  const values = resolveValues(view, path, coreSchemaUrn(type));
  const def = attributeLookup(type)(path);
  // A multi-valued attribute sorts by its primary value, else its first (RFC 7644 §3.4.2.3).
  const v = values[0];
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") return def?.caseExact ? v : v.toLowerCase();
  return undefined;
}

/** Lists one page of a resource type per the options. */
export async function query<T>(
  kv: Deno.Kv,
  source: Source<T>,
  options: ListOptions,
): Promise<Page<T>> {
  // Checked before anything is read, so a meaningless filter is refused whatever the data.
  if (options.filter) checkFilter(options.filter, attributeLookup(source.resourceType));
  const page = await queryOnce(kv, source, options);
  if (page.totalResults > 0 || !options.filterAlternative) return page;
  return await queryOnce(kv, source, { ...options, filter: options.filterAlternative });
}

async function queryOnce<T>(
  kv: Deno.Kv,
  source: Source<T>,
  options: ListOptions,
): Promise<Page<T>> {
  const afterId = options.cursor !== undefined ? decodeCursor(options.cursor) : undefined;
  const lookup = attributeLookup(source.resourceType);
  const core = coreSchemaUrn(source.resourceType);
  const test = options.filter
    ? (item: T) => matches(options.filter!, source.view(item), lookup, core)
    : () => true;

  // Indexed path: a small candidate set, evaluated in full.
  if (options.filter) {
    const ids = await candidates(source, options.filter);
    if (ids) {
      const items = (await source.load([...ids].sort())).filter(test);
      return paginate(source, items, options, afterId);
    }
  }
  // Unfiltered and unsorted: stream in key order, using the maintained counter for the total.
  if (!options.filter && !options.sortBy) return await streamPage(kv, source, options, afterId);
  // Bounded scan.
  const all: T[] = [];
  let examined = 0;
  let batch: string[] = [];
  const flush = async () => {
    const items = await source.load(batch);
    for (const item of items) if (test(item)) all.push(item);
    batch = [];
  };
  for await (const e of kv.list({ prefix: source.prefix }, { batchSize: 500 })) {
    if (++examined > options.scanLimit) {
      throw ScimError.tooMany(
        `The filter or sort would examine more than ${options.scanLimit} resources; filter on an indexed attribute (id, userName, externalId, emails, displayName)`,
      );
    }
    batch.push(String(e.key.at(-1)));
    if (batch.length >= 100) await flush();
  }
  await flush();
  return paginate(source, all, options, afterId);
}

/** Where index paging resumes: the id at a position, valid while the collection size holds. */
interface PageAnchor {
  id: string;
  total: number;
}

/** How long a page anchor is kept: an import pages through in minutes. */
const ANCHOR_TTL_MS = 15 * 60_000;

/**
 * One page in key order. Index paging (`startIndex`) would have to skip every earlier key, making
 * a full import O(n²); instead each page leaves an anchor (the id at the next start index) that
 * the next page starts from, so paging the whole directory is O(n). An anchor is used only while
 * the collection's size is unchanged; otherwise the page is found by skipping, exactly.
 */
async function streamPage<T>(
  kv: Deno.Kv,
  source: Source<T>,
  options: ListOptions,
  afterId: string | undefined,
): Promise<Page<T>> {
  const cursorMode = options.cursor !== undefined;
  const anchorKey = !cursorMode && options.startIndex > 1
    ? source.anchorKey(options.startIndex)
    : null;
  const [counter, anchor] = await kv.getMany<[unknown, PageAnchor]>([
    source.counter,
    anchorKey ?? source.counter,
  ]);
  const total = counterValue(counter);
  let start: Deno.KvKey | undefined;
  let skip = 0;
  if (afterId !== undefined) start = [...source.prefix, afterId, ""];
  else if (anchorKey && anchor.value && anchor.value.total === total) {
    start = [...source.prefix, anchor.value.id];
  } else if (!cursorMode) skip = options.startIndex - 1;
  const ids: string[] = [];
  const listed: Deno.KvEntry<unknown>[] = [];
  let next: string | undefined;
  if (options.count > 0 && skip < total + 1) {
    const limit = skip + options.count + 1;
    const selector: Deno.KvListSelector = start
      ? { prefix: source.prefix, start }
      : { prefix: source.prefix };
    let i = 0;
    for await (const e of kv.list(selector, { limit, batchSize: Math.min(limit, 500) })) {
      if (i++ < skip) continue;
      const id = String(e.key.at(-1));
      if (ids.length < options.count) {
        ids.push(id);
        listed.push(e);
      } else next = id;
    }
  }
  // The listed entries are the records: no second read where the source can use them.
  const items = source.fromEntry ? listed.map(source.fromEntry) : await source.load(ids);
  const page: Page<T> = { totalResults: total, items };
  if (cursorMode && next !== undefined && ids.length) {
    page.nextCursor = encodeCursor(ids[ids.length - 1]);
  }
  if (!cursorMode && next !== undefined) {
    const anchorNext: PageAnchor = { id: next, total };
    await kv.set(source.anchorKey(options.startIndex + options.count), anchorNext, {
      expireIn: ANCHOR_TTL_MS,
    }).catch(() => {/* an anchor is an optimisation; paging stays exact without it */});
  }
  return page;
}

function paginate<T>(
  source: Source<T>,
  items: T[],
  options: ListOptions,
  afterId: string | undefined,
): Page<T> {
  let list = items;
  if (options.sortBy) {
    const path = parseAttrPath(options.sortBy);
    const keyed = list.map((item) => ({
      item,
      key: sortKey(source.view(item), path, source.resourceType),
    }));
    const dir = options.sortOrder === "descending" ? -1 : 1;
    keyed.sort((a, b) => {
      // Missing values sort last in either order (RFC 7644 §3.4.2.3).
      if (a.key === undefined) return b.key === undefined ? 0 : 1;
      if (b.key === undefined) return -1;
      return (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) * dir;
    });
    list = keyed.map((k) => k.item);
  }
  const total = list.length;
  if (options.cursor !== undefined) {
    let start = 0;
    if (afterId !== undefined) {
      const i = list.findIndex((item) => source.id(item) === afterId);
      start = i < 0 ? list.findIndex((item) => source.id(item) > afterId) : i + 1;
      if (start < 0) start = list.length;
    }
    const page = list.slice(start, start + options.count);
    const result: Page<T> = { totalResults: total, items: page };
    if (start + options.count < list.length && page.length) {
      result.nextCursor = encodeCursor(source.id(page[page.length - 1]));
    }
    return result;
  }
  return {
    totalResults: total,
    items: list.slice(options.startIndex - 1, options.startIndex - 1 + options.count),
  };
}

/** Re-exported so routes can name the key helpers of a source. */
export { keys };
