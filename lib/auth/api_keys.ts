/**
 * Directory API key secrets and scopes (architecture §2 "API key"): `weft_api_` and 256 random
 * bits in base64url. Only the SHA-256 of a secret is stored (the same hash as SCIM tokens, whose
 * prefix `weft_scim_` no API key shares, so neither is ever taken for the other).
 * @module
 */
import { hashTokenSecret } from "./tokens.ts";

/** Prefix of every API key, so leaked keys are recognisable by secret scanners. */
export const API_KEY_PREFIX = "weft_api_";

/** What an API key may read. */
export const API_SCOPES = ["directory:read", "events:read"] as const;

/** One of {@linkcode API_SCOPES}. */
export type ApiScope = (typeof API_SCOPES)[number];

/** Whether a string names a scope. */
export function isApiScope(s: string): s is ApiScope {
  return (API_SCOPES as readonly string[]).includes(s);
}

/** A well-formed secret: the prefix and exactly 43 base64url characters (32 bytes). */
const SECRET = /^weft_api_[A-Za-z0-9_-]{43}$/;

/** Whether a presented bearer has the shape of an API key (anything else is never looked up). */
export function isApiKeyShaped(secret: string): boolean {
  return SECRET.test(secret);
}

/** A new secret: the prefix and 32 random bytes in base64url. */
export function generateApiKeySecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return API_KEY_PREFIX + btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** SHA-256 of an API key secret, as lower-case hex (WebCrypto). */
export function hashApiKeySecret(secret: string): Promise<string> {
  return hashTokenSecret(secret);
}
