/**
 * Reading an IdP's SAML metadata (saml-metadata §2.4.3): its entity ID, the SSO URL of the
 * HTTP-Redirect binding, and its signing certificates. The document is refused when it holds a
 * DTD, entities or processing instructions, and it is only read: a metadata signature, when
 * present, is not what makes Weft trust it (the admin who pastes it does).
 * @module
 */
import { parseXmlRoot, unsafeXml } from "./xml_guard.ts";
import { readCertificates } from "./x509.ts";

const MD = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS = "http://www.w3.org/2000/09/xmldsig#";
const REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/** What Weft takes from IdP metadata. */
export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  certificates: string[];
}

/** Thrown when metadata cannot be used; the message says why, for the admin. */
export class MetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetadataError";
  }
}

/** Largest metadata document read. */
export const MAX_METADATA_BYTES = 512 * 1024;

/** Reads IdP metadata XML; throws {@linkcode MetadataError}. */
export async function parseIdpMetadata(xml: string): Promise<IdpMetadata> {
  if (xml.length > MAX_METADATA_BYTES) throw new MetadataError("The metadata is too large");
  const unsafe = unsafeXml(xml);
  if (unsafe) throw new MetadataError(`The metadata cannot be read: ${unsafe}`);
  const root = await parseXmlRoot(xml);
  if (!root) throw new MetadataError("The metadata is not well-formed XML");
  const entity = root.localName === "EntityDescriptor" && root.namespaceURI === MD
    ? root
    : Array.from(root.getElementsByTagNameNS(MD, "EntityDescriptor"))[0];
  if (!entity) throw new MetadataError("The metadata has no EntityDescriptor");
  const entityId = entity.getAttribute("entityID")?.trim();
  if (!entityId) throw new MetadataError("The EntityDescriptor has no entityID");
  const idp = Array.from(entity.getElementsByTagNameNS(MD, "IDPSSODescriptor"))[0];
  if (!idp) {
    throw new MetadataError("The metadata describes no identity provider (IDPSSODescriptor)");
  }
  const sso = Array.from(idp.getElementsByTagNameNS(MD, "SingleSignOnService"))
    .find((e) => e.getAttribute("Binding") === REDIRECT);
  const ssoUrl = sso?.getAttribute("Location")?.trim();
  if (!ssoUrl) {
    throw new MetadataError("The IdP offers no SingleSignOnService with the HTTP-Redirect binding");
  }
  const certificates: string[] = [];
  for (const kd of Array.from(idp.getElementsByTagNameNS(MD, "KeyDescriptor"))) {
    const use = kd.getAttribute("use");
    if (use && use !== "signing") continue;
    for (const c of Array.from(kd.getElementsByTagNameNS(DS, "X509Certificate"))) {
      certificates.push(...readCertificates(c.textContent ?? ""));
    }
  }
  if (certificates.length === 0) {
    throw new MetadataError("The metadata holds no readable signing certificate");
  }
  return { entityId, ssoUrl, certificates: [...new Set(certificates)] };
}
