/**
 * Small helpers over `Deno.Kv`: bounded retries for contended commits and SQLite lock errors,
 * batched reads within KV's limits, and KvU64 counter arithmetic.
 * @module
 */
import { keys } from "./keys.ts";
import { kvRetries } from "../metrics/counters.ts";

/** Most keys `Deno.Kv.getMany` accepts in one call. */
export const GET_MANY_LIMIT = 10;

/** Most checks one atomic operation may hold on Deno's own store (a file or `:memory:`). */
export const MAX_CHECKS_LOCAL = 100;
/**
 * Most checks one atomic operation may hold on a KV Connect store served by denokv (the
 * self-hosted server, whose limits are those of its `denokv_proto`): more answer `TooManyChecks`.
 */
export const MAX_CHECKS_KV_CONNECT = 10;

const maxChecksByStore = new WeakMap<Deno.Kv, number>();

/** Records how many checks one atomic operation may hold on `kv` (see {@linkcode maxChecks}). */
export function setMaxChecks(kv: Deno.Kv, checks: number): void {
  maxChecksByStore.set(kv, checks);
}

/**
 * How many checks one atomic operation may hold on `kv`: what the store's opener recorded, else
 * Deno's own store's limit. Writes whose checks grow with their size (membership rows) size their
 * operations by it.
 */
export function maxChecks(kv: Deno.Kv): number {
  return maxChecksByStore.get(kv) ?? MAX_CHECKS_LOCAL;
}

const U64_MOD = 1n << 64n;

/** The operand that, summed, adds `delta` (negative deltas wrap, as KV sums are modulo 2^64). */
export function u64Delta(delta: number): bigint {
  const d = BigInt(delta);
  return ((d % U64_MOD) + U64_MOD) % U64_MOD;
}

/** Reads a counter stored as KvU64 (absent → 0). */
export function counterValue(entry: Deno.KvEntryMaybe<unknown>): number {
  const v = entry.value;
  if (v instanceof Deno.KvU64) {
    const n = v.value;
    // A counter never legitimately exceeds 2^63; a larger value is a wrapped negative.
    return Number(n >= (1n << 63n) ? n - U64_MOD : n);
  }
  return 0;
}

/**
 * Whether an error came from the store rather than from Weft's own logic: raised inside Deno's
 * KV module, or naming a storage failure (read-only file, full disk, I/O error, lost connection).
 */
export function isStoreError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.stack?.includes("ext:deno_kv")) return true;
  return /database|sqlite|disk|i\/o error|read-?only|no space|unable to open|kv connect|denokv/i
    .test(error.message);
}

function isLockError(error: unknown): boolean {
  return error instanceof Error && /database is locked|SQLITE_BUSY/i.test(error.message);
}

/**
 * Runs a KV operation, retrying "database is locked" from a shared SQLite file with backoff.
 * Several processes on one local KV file contend for its write lock; the write is never dropped.
 */
export async function withLockRetry<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (!isLockError(error) || attempt >= 50) throw error;
      kvRetries.inc({ cause: "lock" });
      await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** Math.min(attempt, 6))));
    }
  }
}

/** `getMany` over any number of keys, in parallel batches of KV's limit. */
export async function getManyBatched<T>(
  kv: Deno.Kv,
  keys: Deno.KvKey[],
): Promise<Deno.KvEntryMaybe<T>[]> {
  const batches: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += GET_MANY_LIMIT) {
    batches.push(withLockRetry(() => kv.getMany<T[]>(keys.slice(i, i + GET_MANY_LIMIT))));
  }
  return (await Promise.all(batches)).flat();
}

/** Thrown when a client-supplied page cursor cannot be read: answered as a `400`, never a 500. */
export class InvalidCursorError extends Error {
  constructor() {
    super("The page cursor is not valid: start again from the first page");
    this.name = "InvalidCursorError";
  }
}

/**
 * Runs a listing that continues from a client-supplied cursor. Deno KV rejects a cursor it cannot
 * read only while the listing runs (`TypeError: invalid cursor`); that becomes
 * {@linkcode InvalidCursorError}. A readable cursor is relative to the listing's own selector, so
 * a forged one can move within the listing but never outside it.
 */
export async function fromCursor<T>(listing: () => Promise<T>): Promise<T> {
  try {
    return await listing();
  } catch (error) {
    if (error instanceof TypeError && error.message === "invalid cursor") {
      throw new InvalidCursorError();
    }
    throw error;
  }
}

/** Thrown when a read-modify-write keeps losing to concurrent writers. */
export class ContentionError extends Error {
  constructor(what: string) {
    super(`Cannot commit ${what}: too many concurrent changes`);
    this.name = "ContentionError";
  }
}

/** A read-modify-write retries at least this many times after a failed check… */
export const MAX_ATTEMPTS = 12;
/** …and keeps retrying while it is within this time (IdPs wait 60 s for an answer). */
export const RETRY_BUDGET_MS = 20_000;

/**
 * Whether attempt number `attempt` of a read-modify-write begun at `started` may run. Under heavy
 * contention (many IdP workers on one group) each round lets one writer through, so the bound is
 * time, not a small count.
 */
export function mayRetry(attempt: number, started: number): boolean {
  return attempt < MAX_ATTEMPTS || Date.now() - started < RETRY_BUDGET_MS;
}

/** A randomised pause between read-modify-write attempts, growing to at most 250 ms. */
export function backoff(attempt: number): Promise<void> {
  kvRetries.inc({ cause: "contention" });
  const ms = Math.random() * Math.min(250, 2 ** Math.min(attempt, 8));
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether the store accepts a write now (the readiness probe): a read-only or full store does not. */
export async function storeIsWritable(kv: Deno.Kv): Promise<boolean> {
  try {
    await kv.set(keys.readyProbe(), new Date().toISOString());
    return true;
  } catch {
    return false;
  }
}

/**
 * A 32-byte random secret kept at `key` (a tenant's cookie signing key), created on first use:
 * the first writer wins a race and everyone reads the winner's. Written once, never changed.
 */
export async function secretAt(kv: Deno.Kv, key: Deno.KvKey): Promise<Uint8Array> {
  const value = (await kv.get<Uint8Array>(key)).value;
  if (value) return value;
  const fresh = crypto.getRandomValues(new Uint8Array(32));
  await withLockRetry(() =>
    kv.atomic().check({ key, versionstamp: null }).set(key, fresh).commit()
  );
  return (await kv.get<Uint8Array>(key)).value!;
}

/** A copy without `undefined` properties (KV serialises them; records stay tidy without). */
export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A process-local cache of found records, per store (see {@linkcode foundCache}). */
export interface FoundCache<T> {
  /** The record kept for `key`, if one was found less than the cache's time ago. */
  get(kv: Deno.Kv, key: string, nowMs?: number): T | undefined;
  /** Keeps a found record (never a miss, so a new record is seen at once). */
  set(kv: Deno.Kv, key: string, value: T, nowMs?: number): void;
}

/**
 * Found records kept for `ttlMs` per store, at most `max` a store (emptied when full). Only for
 * records that are written once and never rewritten, so a kept one is never stale: it saves reads
 * on hot paths and holds nothing correctness depends on.
 */
export function foundCache<T>(ttlMs: number, max = 10_000): FoundCache<T> {
  const stores = new WeakMap<Deno.Kv, Map<string, { value: T; until: number }>>();
  return {
    get(kv, key, nowMs = Date.now()) {
      const hit = stores.get(kv)?.get(key);
      return hit && hit.until > nowMs ? hit.value : undefined;
    },
    set(kv, key, value, nowMs = Date.now()) {
      let cache = stores.get(kv);
      if (!cache) stores.set(kv, cache = new Map());
      if (cache.size >= max) cache.clear();
      cache.set(key, { value, until: nowMs + ttlMs });
    },
  };
}
