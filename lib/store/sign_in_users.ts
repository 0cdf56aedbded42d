/**
 * Finding the user a SAML assertion names: only among the users the signing IdP provisioned (its
 * own userName and email indexes), by userName, then by email, case-insensitively. Never another
 * IdP's user, never another tenant's.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import type { IdpUser, User } from "./types.ts";

/** The user found, with the entries a new session is checked against. */
export interface SignInUser {
  link: Deno.KvEntryMaybe<IdpUser> & { value: IdpUser };
  user: Deno.KvEntryMaybe<User>;
}

/** The outcome of {@linkcode findSignInUser}. */
export type SignInLookup =
  | { found: SignInUser }
  | { found: null; why: "none" | "ambiguous" };

/** The user of IdP `idpId` whose userName (else email) is `value`. */
export async function findSignInUser(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  value: string,
): Promise<SignInLookup> {
  if (!value.trim() || !fitsKey(value)) return { found: null, why: "none" };
  let userId = (await kv.get<string>(keys.idpUserByUserName(tenantId, idpId, value))).value;
  if (!userId) {
    const byEmail = await Array.fromAsync(
      kv.list({ prefix: keys.idpUsersByEmail(tenantId, idpId, value) }, { limit: 2 }),
    );
    // Two users of the IdP share the address: which one signs in is not for Weft to guess.
    if (byEmail.length > 1) return { found: null, why: "ambiguous" };
    userId = byEmail.length ? String(byEmail[0].key.at(-1)) : null;
  }
  if (!userId) return { found: null, why: "none" };
  const [link, user] = await kv.getMany<[IdpUser, User]>([
    keys.idpUser(tenantId, idpId, userId),
    keys.user(tenantId, userId),
  ]);
  if (!link.value || link.value.idpId !== idpId) return { found: null, why: "none" };
  return { found: { link: link as SignInUser["link"], user } };
}
