/**
 * Just-in-time creation (off by default: SCIM is the source of truth): the SCIM resource a new
 * person gets from an assertion's attributes, under the names Okta, Entra and others send.
 * @module
 */
import type { UserState } from "../store/users.ts";

const CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/";

const NAMES = {
  email: [
    "email",
    "mail",
    "emailAddress",
    "Email",
    `${CLAIMS}emailaddress`,
    "urn:oid:0.9.2342.19200300.100.1.3",
  ],
  givenName: [
    "firstName",
    "givenName",
    "given_name",
    "FirstName",
    `${CLAIMS}givenname`,
    "urn:oid:2.5.4.42",
  ],
  familyName: [
    "lastName",
    "surname",
    "sn",
    "familyName",
    "LastName",
    `${CLAIMS}surname`,
    "urn:oid:2.5.4.4",
  ],
  displayName: ["displayName", "name", "http://schemas.microsoft.com/identity/claims/displayname"],
};

/** Longest attribute value taken into a new person's record. */
const MAX_VALUE = 256;

function first(attributes: Record<string, string[]>, names: string[]): string | undefined {
  for (const n of names) {
    const v = attributes[n]?.find((x) => x.trim() !== "");
    if (v) return v.trim().slice(0, MAX_VALUE);
  }
  return undefined;
}

/** The resource a person named `userName` is created with from the assertion's attributes. */
export function jitUserState(userName: string, attributes: Record<string, string[]>): UserState {
  const email = first(attributes, NAMES.email) ?? (userName.includes("@") ? userName : undefined);
  const givenName = first(attributes, NAMES.givenName);
  const familyName = first(attributes, NAMES.familyName);
  const displayName = first(attributes, NAMES.displayName) ??
    ([givenName, familyName].filter(Boolean).join(" ") || undefined);
  const resource: Record<string, unknown> = {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
  };
  if (givenName || familyName) {
    resource.name = {
      ...(givenName ? { givenName } : {}),
      ...(familyName ? { familyName } : {}),
    };
  }
  if (displayName) resource.displayName = displayName;
  if (email) resource.emails = [{ value: email, type: "work", primary: true }];
  return { resource, active: true };
}
