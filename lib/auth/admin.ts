/**
 * Admin console credentials (architecture §8): PBKDF2-SHA256 password hashes through WebCrypto,
 * sign-in throttling on KV counters that expire with their window, and one-time setup links.
 * @module
 */
import { keys } from "../store/keys.ts";
import { backoff, counterValue, MAX_ATTEMPTS, withLockRetry } from "../store/kv.ts";
import { type AdminRole, type SetupLink, storeSetupLink } from "../store/admins.ts";
import { hashTokenSecret } from "./tokens.ts";

/** PBKDF2 iterations for new hashes (OWASP 2023 guidance for PBKDF2-HMAC-SHA256). */
export const PBKDF2_ITERATIONS = 600_000;

/** Shortest password the console accepts. */
export const MIN_PASSWORD_LENGTH = 12;

const enc = new TextEncoder();

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function pbkdf2(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/** Hashes a password as `pbkdf2-sha256$<iterations>$<salt>$<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await pbkdf2(password, salt, PBKDF2_ITERATIONS);
  return `pbkdf2-sha256$${PBKDF2_ITERATIONS}$${b64(salt)}$${b64(hash)}`;
}

/** A hash of a random password: verified against when the email is unknown, to equalise timing. */
let dummyHash: Promise<string> | null = null;

/** Checks a password against a stored hash in constant time; a null hash still costs the same. */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  const parts = (stored ?? await dummyHash).split("$");
  if (parts.length !== 4 || parts[0] !== "pbkdf2-sha256") return false;
  const iterations = Number(parts[1]);
  if (!Number.isInteger(iterations) || iterations < 1) return false;
  const expected = unb64(parts[3]);
  const actual = await pbkdf2(password, unb64(parts[2]), iterations);
  let diff = expected.length ^ actual.length;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ (actual[i] ?? 0);
  return stored !== null && diff === 0;
}

/** Sign-in throttling limits. */
export const SIGN_IN_LIMITS = {
  /** Window length. */
  windowSeconds: 15 * 60,
  /** Attempts per account (email) per window, from any address; success resets it. */
  perAccount: 5,
  /** Attempts per client address per window, over all accounts. */
  perAddress: 30,
};

function windowOf(now: number): number {
  return Math.floor(now / 1000 / SIGN_IN_LIMITS.windowSeconds);
}

function throttleKeys(tenantId: string, email: string, ip: string, now: number) {
  const w = windowOf(now);
  return {
    account: keys.adminSignInFailures(tenantId, "account", email.trim().toLowerCase(), w),
    address: keys.adminSignInFailures(tenantId, "ip", ip, w),
  };
}

/**
 * Reserves one sign-in attempt against the account and the address before the password is
 * checked, so concurrent guesses cannot all pass the check first. Each counter is bumped with a
 * versionstamp check (counters expire with their window; `sum` could not carry `expireIn`).
 * Returns 0 when the attempt may proceed, else the seconds until the window ends.
 */
export async function reserveSignInAttempt(
  kv: Deno.Kv,
  tenantId: string,
  email: string,
  ip: string,
  now = Date.now(),
): Promise<number> {
  const k = throttleKeys(tenantId, email, ip, now);
  const expireIn = 2 * SIGN_IN_LIMITS.windowSeconds * 1000;
  const windowEnd = (windowOf(now) + 1) * SIGN_IN_LIMITS.windowSeconds;
  const wait = Math.max(1, windowEnd - Math.floor(now / 1000));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const [account, address] = await kv.getMany([k.account, k.address]);
    if (
      counterValue(account) >= SIGN_IN_LIMITS.perAccount ||
      counterValue(address) >= SIGN_IN_LIMITS.perAddress
    ) return wait;
    const res = await withLockRetry(() =>
      kv.atomic()
        .check(account)
        .check(address)
        .set(k.account, new Deno.KvU64(BigInt(counterValue(account) + 1)), { expireIn })
        .set(k.address, new Deno.KvU64(BigInt(counterValue(address) + 1)), { expireIn })
        .commit()
    );
    if (res.ok) return 0;
  }
  // Under this much contention on one account or address, refusing is the safe answer.
  return wait;
}

/** Clears the account's attempt counter after a successful sign-in. */
export async function clearSignInFailures(
  kv: Deno.Kv,
  tenantId: string,
  email: string,
  ip: string,
  now = Date.now(),
): Promise<void> {
  await withLockRetry(() => kv.delete(throttleKeys(tenantId, email, ip, now).account));
}

/** Prefix of setup-link secrets. */
const SETUP_PREFIX = "weft_setup_";

/** Hash of a setup-link secret, as stored. */
export function hashSetupSecret(secret: string): Promise<string> {
  return hashTokenSecret(secret);
}

/** Whether a string can be a setup-link secret (checked before any KV read). */
export function isSetupSecret(secret: string): boolean {
  return /^weft_setup_[A-Za-z0-9_-]{43}$/.test(secret);
}

/**
 * Mints a one-time setup link for a new admin; only the secret's SHA-256 is stored and the link
 * expires in 24 hours.
 */
export async function createSetupLink(
  kv: Deno.Kv,
  tenantId: string,
  origin: string,
  input: { role: AdminRole; email?: string; createdBy: string },
): Promise<{ url: string; link: SetupLink }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  const secret = SETUP_PREFIX +
    btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const link = await storeSetupLink(kv, tenantId, await hashSetupSecret(secret), input);
  return { url: `${origin}/admin/setup/${secret}`, link };
}
