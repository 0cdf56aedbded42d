/**
 * Why a SAML sign-in was refused: the reason codes recorded on `saml_sign_in_refused` events and
 * tallied on the console's SAML tab, each with what the person is told and what the admin can do.
 * @module
 */

/** Every reason a sign-in can be refused for. */
export const REFUSAL_REASONS = [
  "user_inactive",
  "user_not_provisioned",
  "signature_invalid",
  "unsigned",
  "issuer_mismatch",
  "audience_mismatch",
  "destination_mismatch",
  "expired",
  "not_yet_valid",
  "replayed",
  "unknown_request",
  "idp_initiated_disabled",
  "saml_not_configured",
  "malformed",
] as const;

/** A refusal reason code. */
export type RefusalReason = typeof REFUSAL_REASONS[number];

/** What a refusal means: for the person who tried, and for the admin. */
export interface RefusalHelp {
  /** A heading for the person. */
  title: string;
  /** Why, in plain words. */
  why: string;
  /** What the tenant's admin can do about it. */
  admin: string;
}

/** The help for each reason. */
export const REFUSAL_HELP: Record<RefusalReason, RefusalHelp> = {
  user_inactive: {
    title: "Your account is deactivated",
    why:
      "Your identity provider deactivated your account in this directory, so you cannot sign in here.",
    admin:
      "If this person should have access, reactivate or re-assign them in the identity provider; provisioning then reactivates them here.",
  },
  user_not_provisioned: {
    title: "Your account is not in this directory",
    why:
      "You signed in at your identity provider, but it has not provisioned an account for you here.",
    admin:
      "Assign the person to the app in the identity provider so SCIM provisions them, or turn on just-in-time creation on the SAML tab. Check that the NameID (or the matched attribute) is their userName or email.",
  },
  signature_invalid: {
    title: "The sign-in could not be verified",
    why: "The identity provider's answer was not signed with a certificate this directory trusts.",
    admin:
      "Add the identity provider's current signing certificate on the SAML tab (keep the old one during a rotation).",
  },
  unsigned: {
    title: "The sign-in could not be verified",
    why: "The identity provider's answer was not signed.",
    admin: "Make the identity provider sign the assertion or the whole response (SHA-256).",
  },
  issuer_mismatch: {
    title: "The sign-in came from an unexpected identity provider",
    why: "The answer was issued by a different identity provider than the one configured here.",
    admin:
      "Set the IdP entity ID on the SAML tab to the identity provider's issuer exactly, or import its metadata again.",
  },
  audience_mismatch: {
    title: "The sign-in was meant for another application",
    why: "The identity provider addressed this sign-in to a different application.",
    admin:
      "In the identity provider, set the Audience URI (SP entity ID) to the value shown on the SAML tab.",
  },
  destination_mismatch: {
    title: "The sign-in was sent to the wrong address",
    why: "The identity provider addressed this sign-in to a different sign-in address.",
    admin:
      "In the identity provider, set the Single sign-on URL (ACS URL, Recipient and Destination) to the value shown on the SAML tab.",
  },
  expired: {
    title: "The sign-in expired",
    why: "The identity provider's answer is too old to be used. Sign in again.",
    admin:
      "If this keeps happening, check that the identity provider's clock is right (2 minutes of difference are allowed).",
  },
  not_yet_valid: {
    title: "The sign-in is not valid yet",
    why: "The identity provider's answer is dated in the future. Sign in again in a moment.",
    admin:
      "Check that the identity provider's clock is right (2 minutes of difference are allowed).",
  },
  replayed: {
    title: "This sign-in was already used",
    why: "Each answer from the identity provider can be used once. Sign in again.",
    admin:
      "A repeated assertion usually means a reloaded page or a browser going back; repeated bursts can be an attack.",
  },
  unknown_request: {
    title: "This sign-in was not started here, or took too long",
    why:
      "The answer does not belong to a sign-in this directory started in the last 10 minutes, or it was already used. Sign in again.",
    admin:
      "Sign-ins started here must finish within 10 minutes. If the identity provider sends answers nobody asked for, check its configuration.",
  },
  idp_initiated_disabled: {
    title: "Start your sign-in from this site",
    why:
      "Signing in from the identity provider's dashboard is turned off for this directory. Use the sign-in page here instead.",
    admin: "Turn on IdP-initiated sign-in on the SAML tab if people should start from the IdP.",
  },
  saml_not_configured: {
    title: "Single sign-on is not set up",
    why: "Single sign-on with this identity provider is not set up yet.",
    admin:
      "Enter the identity provider's entity ID, SSO URL and signing certificate (or import its metadata) on the SAML tab.",
  },
  malformed: {
    title: "The sign-in could not be read",
    why: "The identity provider's answer could not be read, or it reported an error.",
    admin:
      "Check the identity provider's SAML settings; a test sign-in on the SAML tab shows what was received.",
  },
};
