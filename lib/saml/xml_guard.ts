/**
 * What a SAMLResponse must be before any XML parser sees it: base64 of UTF-8 XML with no DTD,
 * no entity declarations and no processing instructions (only the XML declaration). DTDs and
 * entities are the XXE and entity-expansion attacks; processing instructions are where
 * canonicalization and DOM reading of text have disagreed. A refusal here is `malformed`.
 * @module
 */
import { samlLibraries } from "./libraries.ts";

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The decoded XML of a `SAMLResponse` form value, or null when it is not base64 of UTF-8. */
export function decodeSamlResponse(value: string): string | null {
  if (!BASE64.test(value)) return null;
  try {
    const bin = atob(value.replace(/\s+/g, ""));
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Why an XML text may not be parsed, or null when it may. */
export function unsafeXml(xml: string): string | null {
  if (/<!DOCTYPE/i.test(xml)) return "it declares a DTD";
  if (/<!ENTITY/i.test(xml)) return "it declares entities";
  // The XML declaration may open the document; any other `<?` is a processing instruction.
  const body = xml.replace(/^\uFEFF?\s*<\?xml\s[^?]*\?>/, "");
  if (body.includes("<?")) return "it holds a processing instruction";
  return null;
}

/** The root element of a well-formed XML text (screened by {@linkcode unsafeXml} first), or null. */
export async function parseXmlRoot(xml: string): Promise<Element | null> {
  if (unsafeXml(xml)) return null;
  const { DOMParser } = (await samlLibraries()).xmldom;
  let failed = false;
  const doc = new DOMParser({
    errorHandler: {
      warning: () => {},
      error: () => void (failed = true),
      fatalError: () => void (failed = true),
    },
  }).parseFromString(xml, "text/xml");
  return failed ? null : (doc?.documentElement as unknown as Element | null) ?? null;
}
