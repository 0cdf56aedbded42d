/**
 * Whether a SCIM token can be used, and which token the first start minted: one rule for the
 * authentication, the console and the start-up report.
 * @module
 */
import type { ScimToken } from "../store/types.ts";

/** A token's state. */
export type TokenState = "active" | "revoked" | "expired";

/** `revoked` once revoked, `expired` from its expiry on, else `active`. */
export function tokenState(
  t: Pick<ScimToken, "revokedAt" | "expiresAt">,
  now: number = Date.now(),
): TokenState {
  if (t.revokedAt) return "revoked";
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return "expired";
  return "active";
}

/** Who the first start is, as the creator of what it makes. */
export const FIRST_RUN = "first-run";

/** The token the first start minted: its plaintext went to the terminal that started Weft. */
export function isFirstRunToken(t: Pick<ScimToken, "createdBy">): boolean {
  return t.createdBy === FIRST_RUN;
}
