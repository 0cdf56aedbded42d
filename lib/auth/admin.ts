/**
 * Admin console credentials (architecture §8): PBKDF2-SHA256 password hashes through WebCrypto
 * and one-time setup links. Sign-in throttling is `sign_in_throttle.ts`.
 * @module
 */
import { type AdminRole, type SetupLink, storeSetupLink } from "../store/admins.ts";
import { hashTokenSecret } from "./tokens.ts";

/** PBKDF2 iterations for new hashes (OWASP 2023 guidance for PBKDF2-HMAC-SHA256). */
export const PBKDF2_ITERATIONS = 600_000;

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
