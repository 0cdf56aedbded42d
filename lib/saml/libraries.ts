/**
 * node-saml and xmldom, imported on the first SAML use rather than at start: together they are
 * about a quarter of a served instance's resident memory, which an instance that never signs
 * anyone in (or only answers SCIM) does not need to hold.
 * @module
 */

/** The SAML libraries, loaded. */
export interface SamlLibraries {
  nodeSaml: typeof import("@node-saml/node-saml");
  xmldom: typeof import("@xmldom/xmldom");
}

let loading: Promise<SamlLibraries> | null = null;

/** The SAML libraries, imported the first time they are asked for. */
export function samlLibraries(): Promise<SamlLibraries> {
  loading ??= Promise.all([import("@node-saml/node-saml"), import("@xmldom/xmldom")])
    .then(([nodeSaml, xmldom]) => ({ nodeSaml, xmldom }))
    .catch((error) => {
      // A failed import is tried again by the next use, not remembered.
      loading = null;
      throw error;
    });
  return loading;
}
