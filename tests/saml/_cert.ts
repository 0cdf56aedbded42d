/**
 * Test key pairs: the SP's own key pair maker, with the validity and name a test asks for, so a
 * test can play an IdP with a certificate of its own.
 * @module
 */
export { type KeyPair as TestKeyPair, makeKeyPair } from "../../lib/saml/x509.ts";
