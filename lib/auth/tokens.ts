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

/** A random URL-safe id of `bytes` bytes. */
export function randomId(bytes = 12): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes))).replaceAll(/[-_]/g, "x");
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
