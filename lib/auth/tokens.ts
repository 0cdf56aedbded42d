/**
 * SCIM bearer token secrets: generation and hashing. Only the hash is ever stored.
 * @module
 */

/** Prefix of every Weft SCIM token, so leaked tokens are recognisable by secret scanners. */
export const TOKEN_PREFIX = "weft_scim_";

/** A new secret: the prefix and 32 random bytes in base64url (256 bits of entropy). */
export function generateTokenSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return TOKEN_PREFIX + base64url(bytes);
}

/** SHA-256 of the secret, as lower-case hex. */
export async function hashTokenSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Hashes of secrets that recently matched a live token, so a busy client's bearer is not re-hashed
 * on every request. SHA-256 of a secret never changes, so this holds no state correctness depends
 * on: revocation, expiry and scope are still read from the store each time. Only secrets that
 * matched a token are remembered (a flood of guesses cannot churn it); the oldest entry leaves
 * first when it is full.
 */
const knownHashes = new Map<string, string>();
const KNOWN_HASHES_MAX = 1024;

/** The hash of a secret that recently matched a token, if remembered. */
export function knownTokenHash(secret: string): string | undefined {
  return knownHashes.get(secret);
}

/** Remembers the hash of a secret that matched a live token. */
export function rememberTokenHash(secret: string, hash: string): void {
  if (knownHashes.has(secret)) return;
  if (knownHashes.size >= KNOWN_HASHES_MAX) {
    knownHashes.delete(knownHashes.keys().next().value!);
  }
  knownHashes.set(secret, hash);
}

/** A random URL-safe id of `bytes` bytes. */
export function randomId(bytes = 12): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes))).replaceAll(/[-_]/g, "x");
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
