/**
 * A lease in the store: one holder at a time among every instance on the store, for as long as it
 * keeps renewing it (a holder that dies loses it when it expires).
 * @module
 */
import { withLockRetry } from "./kv.ts";

/** A lease record. */
export interface Lease {
  holder: string;
  until: number;
}

/** A held lease: renewed in the background until released. */
export interface HeldLease {
  release(): Promise<void>;
}

/**
 * Takes the lease at `key` for `holder` if it is free or expired; null when another holds it.
 * While held it is renewed every third of `ttlMs`.
 */
export async function tryLease(
  kv: Deno.Kv,
  key: Deno.KvKey,
  holder: string,
  ttlMs: number,
): Promise<HeldLease | null> {
  const take = async (): Promise<boolean> => {
    const current = await kv.get<Lease>(key);
    if (current.value && current.value.holder !== holder && current.value.until > Date.now()) {
      return false;
    }
    const res = await withLockRetry(() =>
      kv.atomic().check(current).set(key, { holder, until: Date.now() + ttlMs }, {
        expireIn: ttlMs,
      })
        .commit()
    );
    return res.ok;
  };
  if (!(await take())) return null;
  const timer = setInterval(() => take().catch(() => {}), ttlMs / 3);
  return {
    async release() {
      clearInterval(timer);
      const current = await kv.get<Lease>(key);
      if (current.value?.holder === holder) {
        await withLockRetry(() => kv.atomic().check(current).delete(key).commit());
      }
    },
  };
}
