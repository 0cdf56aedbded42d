/**
 * Weft as a SAML service provider for one IdP connection: its URLs, and node-saml configured
 * from the connection's settings to build AuthnRequests (HTTP-Redirect binding, signed when the
 * connection has an SP key pair), SP metadata, and to verify responses (HTTP-POST binding).
 * InResponseTo and replays are checked by Weft against KV (`store/saml.ts`), so node-saml keeps
 * no state: several instances may serve one store.
 * @module
 */
import type { SAML, SamlConfig } from "@node-saml/node-saml";
import { samlLibraries } from "./libraries.ts";
import type { SamlSettings } from "../store/types.ts";
import { describeCertificate } from "./x509.ts";

/** Clock difference allowed between the IdP and Weft. */
export const CLOCK_SKEW_MS = 2 * 60_000;

/** The NameID format Weft asks IdPs to send (the userName, usually an email address). */
export const NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/** The service provider's URLs for an IdP connection, on the origin the request came to. */
export interface SpUrls {
  /** SP entity ID (the Audience), served as the metadata document. */
  entityId: string;
  /** Assertion Consumer Service URL (Recipient and Destination). */
  acsUrl: string;
  metadataUrl: string;
  /** Where a person starts an SP-initiated sign-in. */
  loginUrl: string;
}

/** The SP URLs of an IdP connection on `origin` (`https://acme.example.com`). */
export function spUrls(origin: string, idpId: string): SpUrls {
  const base = `${origin}/saml/${encodeURIComponent(idpId)}`;
  return {
    entityId: `${base}/metadata`,
    acsUrl: `${base}/acs`,
    metadataUrl: `${base}/metadata`,
    loginUrl: `${base}/login`,
  };
}

/** The readable certificates of the settings (unreadable text is kept for display only). */
export function trustedCertificates(settings: SamlSettings): string[] {
  return settings.certificates.filter((c) => describeCertificate(c) !== null);
}

function baseConfig(settings: SamlSettings, urls: SpUrls): SamlConfig {
  const config: SamlConfig = {
    issuer: urls.entityId,
    callbackUrl: urls.acsUrl,
    audience: urls.entityId,
    entryPoint: settings.ssoUrl,
    idpCert: trustedCertificates(settings),
    // Either the response or the assertion must carry a valid signature; node-saml then reads
    // only what the signature covers.
    wantAssertionsSigned: false,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: CLOCK_SKEW_MS,
    // node-saml's ValidateInResponseTo.never: Weft checks InResponseTo against its own records.
    validateInResponseTo: "never" as SamlConfig["validateInResponseTo"],
    // Asking for a password-class context makes IdPs refuse people who used MFA or passkeys.
    disableRequestedAuthnContext: true,
    identifierFormat: null,
    signatureAlgorithm: "sha256",
    digestAlgorithm: "sha256",
  };
  if (settings.spKey) {
    config.privateKey = settings.spKey.privateKey;
    config.publicCert = settings.spKey.certificate;
    config.decryptionPvk = settings.spKey.privateKey;
  }
  return config;
}

/** node-saml for verifying responses of this connection. */
export async function samlVerifier(settings: SamlSettings, urls: SpUrls): Promise<SAML> {
  const { SAML } = (await samlLibraries()).nodeSaml;
  return new SAML(baseConfig(settings, urls));
}

/** The IdP URL a browser is sent to with a new AuthnRequest `requestId`. */
export async function authnRequestUrl(
  settings: SamlSettings,
  urls: SpUrls,
  requestId: string,
  relayState: string,
): Promise<string> {
  const { SAML } = (await samlLibraries()).nodeSaml;
  const saml = new SAML({ ...baseConfig(settings, urls), generateUniqueId: () => requestId });
  return await saml.getAuthorizeUrlAsync(relayState, undefined, {});
}

/** The SP metadata document (`application/samlmetadata+xml`). */
export async function spMetadata(settings: SamlSettings | null, urls: SpUrls): Promise<string> {
  const { SAML } = (await samlLibraries()).nodeSaml;
  const config: SamlConfig = {
    issuer: urls.entityId,
    callbackUrl: urls.acsUrl,
    idpCert: "unused",
    identifierFormat: NAMEID_EMAIL,
    wantAssertionsSigned: true,
  };
  const key = settings?.spKey;
  if (key) {
    config.privateKey = key.privateKey;
    config.publicCert = key.certificate;
    config.decryptionPvk = key.privateKey;
  }
  const saml = new SAML(config);
  return saml.generateServiceProviderMetadata(key?.certificate ?? null, key?.certificate ?? null);
}

/** A fresh AuthnRequest id (xs:ID: starts with a letter or underscore). */
export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return "_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
