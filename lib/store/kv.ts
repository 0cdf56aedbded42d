/**
 * Small helpers over `Deno.Kv`: bounded retries for contended commits and SQLite lock errors,
 * batched reads within KV's limits, and KvU64 counter arithmetic.
 * @module
 */

/** Most keys `Deno.Kv.getMany` accepts in one call. */
export const GET_MANY_LIMIT = 10;
/** Most checks one atomic operation accepts. */
export const ATOMIC_CHECK_LIMIT = 100;
/** Most mutations one atomic operation accepts. */
export const ATOMIC_MUTATION_LIMIT = 1000;

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

/** Thrown when a read-modify-write keeps losing to concurrent writers. */
export class ContentionError extends Error {
  constructor(what: string) {
    super(`Cannot commit ${what}: too many concurrent changes`);
    this.name = "ContentionError";
  }
}

/** How many times a read-modify-write retries after a failed check before giving up. */
export const MAX_ATTEMPTS = 12;

/** A short randomised pause between read-modify-write attempts. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((r) => setTimeout(r, ms));
}

/** A copy without `undefined` properties (KV serialises them; records stay tidy without). */
export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
