/**
 * A test identity provider: builds SAML 2.0 Responses (saml-core §3.3.3, §2.3.3) for a user and
 * signs them with xml-crypto and a key pair of the test's own, the way Okta and Entra do
 * (exclusive c14n, RSA-SHA256, an enveloped signature after the Issuer). Options leave out or
 * change any part a refusal test needs; the raw XML is returned for tests that tamper with it.
 * @module
 */
import { SignedXml } from "xml-crypto";
import type { TestKeyPair } from "./_cert.ts";

const SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML = "urn:oasis:names:tc:SAML:2.0:assertion";
const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/** What goes into a Response. */
export interface ResponseOptions {
  issuer: string;
  /** The SP entity ID (Audience). */
  audience: string;
  /** The ACS URL (Destination and Recipient). */
  acsUrl: string;
  nameId: string;
  nameIdFormat?: string;
  /** The AuthnRequest's id; absent for an IdP-initiated sign-in. */
  inResponseTo?: string;
  attributes?: Record<string, string | string[]>;
  /** Defaults: now − 1 min, now + 5 min. */
  notBefore?: Date;
  notOnOrAfter?: Date;
  issueInstant?: Date;
  assertionId?: string;
  responseId?: string;
  /** Overrides of the Response's Destination and the SubjectConfirmationData's Recipient. */
  destination?: string | null;
  recipient?: string;
  /** Raw XML placed inside the NameID instead of the escaped `nameId`. */
  nameIdXml?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** A fresh SAML id (starts with a letter, as xs:ID requires). */
export function samlId(): string {
  return "_" + crypto.randomUUID().replaceAll("-", "");
}

/** The unsigned Response XML. */
export function buildResponse(o: ResponseOptions): string {
  const now = Date.now();
  const instant = (o.issueInstant ?? new Date(now)).toISOString();
  const notBefore = (o.notBefore ?? new Date(now - 60_000)).toISOString();
  const notOnOrAfter = (o.notOnOrAfter ?? new Date(now + 5 * 60_000)).toISOString();
  const irt = o.inResponseTo ? ` InResponseTo="${esc(o.inResponseTo)}"` : "";
  const destination = o.destination === null
    ? ""
    : ` Destination="${esc(o.destination ?? o.acsUrl)}"`;
  const attributes = Object.entries(o.attributes ?? {}).map(([name, v]) =>
    `<saml:Attribute Name="${
      esc(name)
    }" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified">${
      (Array.isArray(v) ? v : [v]).map((x) =>
        `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${
          esc(x)
        }</saml:AttributeValue>`
      ).join("")
    }</saml:Attribute>`
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>` +
    `<samlp:Response xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${
      o.responseId ?? samlId()
    }" Version="2.0" IssueInstant="${instant}"${destination}${irt}>` +
    `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion xmlns:saml="${SAML}" ID="${
      o.assertionId ?? samlId()
    }" Version="2.0" IssueInstant="${instant}">` +
    `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${
      o.nameIdFormat ?? "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    }">${o.nameIdXml ?? esc(o.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${
      esc(o.recipient ?? o.acsUrl)
    }"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${
      esc(o.audience)
    }</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant}" SessionIndex="${samlId()}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : "") +
    `</saml:Assertion></samlp:Response>`;
}

/** Signs the element `localName` (`Assertion` or `Response`) of `xml`, the signature after its Issuer. */
export function signElement(
  xml: string,
  localName: "Assertion" | "Response",
  key: TestKeyPair,
): string {
  const sig = new SignedXml({
    privateKey: key.privateKey,
    publicCert: key.certificate,
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: EXC_C14N,
  });
  const element = `//*[local-name(.)='${localName}']`;
  sig.addReference({
    xpath: element,
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
  });
  sig.computeSignature(xml, {
    prefix: "ds",
    location: { reference: `${element}/*[local-name(.)='Issuer']`, action: "after" },
  });
  return sig.getSignedXml();
}

/** How a Response is signed. */
export type Signing = "assertion" | "response" | "both" | "none";

/** A Response signed as asked. */
export function signedResponse(
  o: ResponseOptions,
  key: TestKeyPair,
  signing: Signing = "assertion",
): string {
  let xml = buildResponse(o);
  if (signing === "assertion" || signing === "both") xml = signElement(xml, "Assertion", key);
  if (signing === "response" || signing === "both") xml = signElement(xml, "Response", key);
  return xml;
}

/** The form value of `SAMLResponse`: the XML, base64. */
export function encodeResponse(xml: string): string {
  const bytes = new TextEncoder().encode(xml);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
