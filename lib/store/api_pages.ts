/**
 * Cursor pages for the directory API: walk the rows under a key prefix in key order, starting
 * after a position, load the records they name in batches, keep those a filter accepts, and stop
 * when the page is full or a bounded number of rows was examined. The position to continue from
 * is the last row examined (or the last item kept when the page filled mid-batch), so paging to
 * the end returns every matching item exactly once while rows are added or removed meanwhile.
 * @module
 */
import { fromCursor } from "./kv.ts";
import { decodeCursor, encodeCursor } from "../directory/cursor.ts";

/** A page of API objects and the opaque cursor of the next page. */
export interface ApiPage<T> {
  data: T[];
  next_cursor: string | null;
}

/** A row of a walk: its position (key parts after the prefix) and its value. */
export interface WalkRow {
  pos: string[];
  value: unknown;
  versionstamp: string;
}

/** What a page is built from. */
export interface PageSpec<T> {
  kv: Deno.Kv;
  /** The listing's prefix; rows are the keys under it with `depth` more string parts. */
  prefix: Deno.KvKey;
  /** Continue after this position (its parts), or from the start. */
  after?: string[];
  limit: number;
  /** Most rows one page examines before it answers with what it has and a position. */
  scanBound: number;
  /** A cheap test on the row's value, before anything is loaded (e.g. a user's status). */
  prefilter?: (value: unknown) => boolean;
  /** The records of a batch of rows, aligned with them (null: gone). */
  load: (rows: WalkRow[]) => Promise<(T | null)[]>;
  /** Whether a loaded record belongs on the page. */
  keep?: (item: T) => boolean;
}

/** A page and where the next one starts (null: this was the last). */
export interface BuiltPage<T> {
  items: T[];
  next: string[] | null;
}

/** Fewest rows loaded at once when the page still needs fewer (a selective filter). */
const MIN_BATCH = 25;

function samePos(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/** Builds one page (see the module documentation). */
export async function buildPage<T>(spec: PageSpec<T>): Promise<BuiltPage<T>> {
  const { kv, prefix, limit, scanBound } = spec;
  const after = spec.after;
  const selector: Deno.KvListSelector = after
    ? { prefix, start: [...prefix, ...after] }
    : { prefix };
  const iter = kv.list(selector, { batchSize: Math.min(500, Math.max(limit, MIN_BATCH) + 2) });
  const rows = iter[Symbol.asyncIterator]();
  const items: T[] = [];
  let batch: WalkRow[] = [];
  let position: string[] | null = after ?? null;
  let lastRaw: string[] | null = null;
  let scanned = 0;

  /** Loads the batch; true when the page filled before its end (position = last kept item). */
  const flush = async (): Promise<boolean> => {
    const loaded = await spec.load(batch);
    const rowsOf = batch;
    batch = [];
    for (let i = 0; i < rowsOf.length; i++) {
      const item = loaded[i];
      if (item === null || (spec.keep && !spec.keep(item))) continue;
      items.push(item);
      if (items.length === limit && i < rowsOf.length - 1) {
        position = rowsOf[i].pos;
        return true;
      }
    }
    position = lastRaw;
    return false;
  };

  return await fromCursor(async () => {
    for (;;) {
      if (items.length >= limit || scanned >= scanBound) {
        // Whether anything follows decides between a cursor and the end.
        const peek = await rows.next();
        return { items, next: peek.done ? null : position };
      }
      const r = await rows.next();
      if (r.done) {
        if (batch.length && await flush()) return { items, next: position };
        return { items, next: null };
      }
      const pos = r.value.key.slice(prefix.length).map(String);
      if (after && samePos(pos, after)) continue;
      scanned++;
      lastRaw = pos;
      if (!spec.prefilter || spec.prefilter(r.value.value)) {
        batch.push({ pos, value: r.value.value, versionstamp: r.value.versionstamp });
      } else if (!batch.length) position = pos;
      // Without a filter every loaded row is kept: load exactly what the page still needs.
      const filtered = spec.keep !== undefined || spec.prefilter !== undefined;
      const need = filtered ? Math.max(limit - items.length, MIN_BATCH) : limit - items.length;
      if (batch.length >= need || scanned >= scanBound) {
        if (await flush()) return { items, next: position };
      }
    }
  });
}

/**
 * A page of a walk under `prefix` as the API answers it, continuing from the opaque cursor of
 * `listing` (rows `depth` parts below the prefix); filtered walks examine at most `scanBound` rows.
 */
export async function walkPage<T>(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  q: { cursor?: string; limit: number },
  listing: string,
  how: {
    load: (rows: WalkRow[]) => Promise<(T | null)[]>;
    prefilter?: (v: unknown) => boolean;
    keep?: (item: T) => boolean;
    depth?: number;
    scanBound?: number;
  },
): Promise<ApiPage<T>> {
  const depth = how.depth ?? 1;
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, listing, depth);
  const page = await buildPage<T>({
    kv,
    prefix,
    after,
    limit: q.limit,
    scanBound: how.prefilter || how.keep ? how.scanBound ?? 2000 : q.limit,
    prefilter: how.prefilter,
    load: how.load,
    keep: how.keep,
  });
  return { data: page.items, next_cursor: page.next ? encodeCursor(listing, page.next) : null };
}
