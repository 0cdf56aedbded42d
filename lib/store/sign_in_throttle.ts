/**
 * Console sign-in throttling (architecture §8), on KV records that expire, so every instance
 * counts the same attempts. Three scopes, each reserved before the password is checked, so
 * concurrent guesses cannot all pass the check first:
 *
 * - **account and address** (an IPv6 client counts by its /64): 5 wrong passwords, then
 *   progressive delays (30 s, 1 min, 2 min… at most 15 min between attempts); a success clears it.
 * - **account, from addresses it has not signed in from** in the last 30 days: 10 wrong
 *   passwords, then the same delays. Its owner at an address they
 *   signed in from before is not held by it, so failures from elsewhere cannot lock them out.
 * - **address**, over all accounts: 30 attempts per 15-minute window (password spraying).
 *
 * Delays decay: a scope with no failure for an hour starts again from zero.
 * @module
 */
import { keys } from "./keys.ts";
import { backoff, counterValue, MAX_ATTEMPTS, withLockRetry } from "./kv.ts";

/** A delay policy: free failures, then `baseSeconds × 2^(n − free)`, capped. */
export interface DelayPolicy {
  free: number;
  baseSeconds: number;
  maxSeconds: number;
}

/** The limits, exported for the console's help text and the tests. */
export const SIGN_IN_LIMITS = {
  pair: { free: 5, baseSeconds: 30, maxSeconds: 15 * 60 } satisfies DelayPolicy,
  account: { free: 10, baseSeconds: 30, maxSeconds: 15 * 60 } satisfies DelayPolicy,
  /** Attempts per address per window, over all accounts. */
  perAddress: 30,
  windowSeconds: 15 * 60,
  /** A scope without failures for this long starts from zero. */
  decaySeconds: 60 * 60,
  /** How long a successful sign-in makes its address known for the account. */
  knownAddressDays: 30,
};

/** Failures of one scope and when the last one was reserved. */
interface FailureRecord {
  failures: number;
  lastAt: number;
}

/** The address a client is counted by: IPv4 as it is, IPv6 by its /64 network. */
export function addressKey(ip: string): string {
  const address = ip.trim().toLowerCase().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(":")) return address;
  const [head, tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/** Seconds to wait before the next attempt in a scope (0: go ahead). */
function waitFor(record: FailureRecord | null, policy: DelayPolicy, now: number): number {
  if (!record || now - record.lastAt > SIGN_IN_LIMITS.decaySeconds * 1000) return 0;
  if (record.failures < policy.free) return 0;
  const delay = Math.min(
    policy.maxSeconds,
    policy.baseSeconds * 2 ** Math.min(30, record.failures - policy.free),
  );
  return Math.max(0, Math.ceil((record.lastAt + delay * 1000 - now) / 1000));
}

function bump(record: FailureRecord | null, now: number): FailureRecord {
  const fresh = !record || now - record.lastAt > SIGN_IN_LIMITS.decaySeconds * 1000;
  return { failures: (fresh ? 0 : record.failures) + 1, lastAt: now };
}

function scopeKeys(tenantId: string, email: string, ip: string, now: number) {
  const account = email.trim().toLowerCase();
  const address = addressKey(ip);
  const window = Math.floor(now / 1000 / SIGN_IN_LIMITS.windowSeconds);
  return {
    pair: keys.adminSignInDelay(tenantId, "pair", `${account} ${address}`),
    account: keys.adminSignInDelay(tenantId, "account", account),
    address: keys.adminSignInFailures(tenantId, "ip", address, window),
    known: keys.adminKnownAddress(tenantId, account, address),
    windowEnd: (window + 1) * SIGN_IN_LIMITS.windowSeconds,
  };
}

const RECORD_TTL_MS = SIGN_IN_LIMITS.decaySeconds * 1000 + SIGN_IN_LIMITS.pair.maxSeconds * 1000;

/**
 * Reserves one sign-in attempt in every scope that applies, before the password is checked.
 * Returns 0 when the attempt may proceed, else the seconds until it may.
 */
export async function reserveSignInAttempt(
  kv: Deno.Kv,
  tenantId: string,
  email: string,
  ip: string,
  now = Date.now(),
): Promise<number> {
  const k = scopeKeys(tenantId, email, ip, now);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const [pair, account, address, known] = await kv.getMany<
      [FailureRecord, FailureRecord, Deno.KvU64, null]
    >([k.pair, k.account, k.address, k.known]);
    const isKnown = known.versionstamp !== null;
    const wait = Math.max(
      waitFor(pair.value, SIGN_IN_LIMITS.pair, now),
      isKnown ? 0 : waitFor(account.value, SIGN_IN_LIMITS.account, now),
      counterValue(address) >= SIGN_IN_LIMITS.perAddress
        ? Math.max(1, k.windowEnd - Math.floor(now / 1000))
        : 0,
    );
    if (wait > 0) return wait;
    const op = kv.atomic()
      .check(pair)
      .check(address)
      .set(k.pair, bump(pair.value, now), { expireIn: RECORD_TTL_MS })
      .set(k.address, new Deno.KvU64(BigInt(counterValue(address) + 1)), {
        expireIn: 2 * SIGN_IN_LIMITS.windowSeconds * 1000,
      });
    if (!isKnown) {
      op.check(account).set(k.account, bump(account.value, now), { expireIn: RECORD_TTL_MS });
    }
    const res = await withLockRetry(() => op.commit());
    if (res.ok) return 0;
  }
  // Under this much contention on one account or address, refusing is the safe answer.
  return 1;
}

/**
 * After a successful sign-in: the account's failures from this address are cleared, the
 * address becomes known for the account (see the module doc), and the attempt reserved against
 * the account's budget, from an address it did not know yet, is given back.
 */
export async function recordSignInSuccess(
  kv: Deno.Kv,
  tenantId: string,
  email: string,
  ip: string,
  now = Date.now(),
): Promise<void> {
  const k = scopeKeys(tenantId, email, ip, now);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const [account, known] = await kv.getMany<[FailureRecord, null]>([k.account, k.known]);
    const op = kv.atomic()
      .delete(k.pair)
      .set(k.known, null, { expireIn: SIGN_IN_LIMITS.knownAddressDays * 86_400_000 });
    if (known.versionstamp === null && account.value && account.value.failures > 0) {
      op.check(account).set(k.account, { ...account.value, failures: account.value.failures - 1 }, {
        expireIn: RECORD_TTL_MS,
      });
    }
    if ((await withLockRetry(() => op.commit())).ok) return;
  }
}
