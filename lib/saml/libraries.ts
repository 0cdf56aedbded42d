/**
 * node-saml and xmldom, imported on the first SAML use rather than at start: together they are
 * about a quarter of a served instance's resident memory, which an instance that never signs
 * anyone in (or only answers SCIM) does not need to hold.
 * @module
 */
import { loadOnce } from "../load_once.ts";

/** The SAML libraries, loaded. */
export interface SamlLibraries {
  nodeSaml: typeof import("@node-saml/node-saml");
  xmldom: typeof import("@xmldom/xmldom");
}

/** The SAML libraries, imported the first time they are asked for. */
export const samlLibraries: () => Promise<SamlLibraries> = loadOnce(async () => {
  const [nodeSaml, xmldom] = await Promise.all([
    import("@node-saml/node-saml"),
    import("@xmldom/xmldom"),
  ]);
  return { nodeSaml, xmldom };
});
