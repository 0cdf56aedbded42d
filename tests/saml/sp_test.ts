/**
 * The service provider's side of a connection: SP metadata at the entity ID URL, AuthnRequests
 * signed with the SP key pair, encrypted assertions, certificate rotation, JIT creation, the
 * matched attribute, and reading an IdP's metadata.
 * @module
 */
import assert from "node:assert/strict";
import { createVerify } from "node:crypto";
import { promisify } from "node:util";
import xmlenc from "xml-encryption";
import { createSamlTestApp, expectRefused, personCookie } from "./_app.ts";
import { makeKeyPair } from "./_cert.ts";
import { listEvents } from "../../lib/store/events.ts";
import { MetadataError, parseIdpMetadata } from "../../lib/saml/metadata.ts";
import { getUser } from "../../lib/store/users.ts";

Deno.test("SP - metadata is served at the entity ID with its content type", async () => {
  await using t = await createSamlTestApp();
  const res = await t.get(`/saml/${t.idp.id}/metadata`);
  const xml = await res.text();
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/samlmetadata\+xml/);
  assert.ok(xml.includes(`entityID="${t.urls.entityId}"`));
  assert.ok(xml.includes(`Location="${t.urls.acsUrl}"`));
  assert.ok(xml.includes("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"));
  assert.doesNotMatch(xml, /KeyDescriptor/);
  assert.equal((await t.get("/saml/nope/metadata")).status, 404);
});

Deno.test("SP - with an SP key pair, AuthnRequests are signed and encrypted assertions accepted", async () => {
  await using t = await createSamlTestApp();
  const sp = makeKeyPair({ commonName: "Weft SP" });
  await t.configure({ spKey: { privateKey: sp.privateKey, certificate: sp.certificate } });
  const metadata = await (await t.get(`/saml/${t.idp.id}/metadata`)).text();
  assert.match(metadata, /AuthnRequestsSigned="true"/);
  assert.match(metadata, /use="signing"/);
  assert.match(metadata, /use="encryption"/);

  const { requestId, location } = await t.startLogin("/me");
  const raw = location.search.slice(1);
  const signedPart = raw.slice(0, raw.indexOf("&Signature="));
  assert.match(
    signedPart,
    /SigAlg=http%3A%2F%2Fwww\.w3\.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256/,
  );
  const signature = location.searchParams.get("Signature")!;
  const ok = createVerify("RSA-SHA256").update(signedPart).verify(
    sp.certificate,
    signature,
    "base64",
  );
  assert.ok(ok, "the AuthnRequest's redirect signature verifies with the SP certificate");

  // A signed assertion, encrypted to the SP certificate (AES-256-GCM, RSA-OAEP).
  const user = await t.provision();
  const xml = t.response({ nameId: user.userName, inResponseTo: requestId });
  const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
  const encrypt = promisify(xmlenc.encrypt) as (c: string, o: unknown) => Promise<string>;
  const encrypted = await encrypt(assertion, {
    rsa_pub: sp.publicKey,
    pem: sp.certificate,
    encryptionAlgorithm: "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    keyEncryptionAlgorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
  });
  const withEncrypted = xml.replace(
    assertion,
    `<saml:EncryptedAssertion>${encrypted}</saml:EncryptedAssertion>`,
  );
  assert.ok(!withEncrypted.includes(user.userName));
  const res = await t.acs(withEncrypted);
  assert.equal(res.status, 303, await res.text());
  assert.equal((await t.get("/me", personCookie(res))).status, 200);
});

Deno.test("SP - several trusted certificates: rotation without downtime", async () => {
  await using t = await createSamlTestApp();
  const user = await t.provision();
  const next = makeKeyPair({ commonName: "Test IdP 2027" });
  await t.configure({ certificates: [t.key.certificate, next.certificate] });
  assert.equal((await t.signIn(user.userName)).status, 303);
  // The IdP switches to the new key: still accepted.
  const { requestId } = await t.startLogin();
  const { signedResponse } = await import("./_idp.ts");
  const xml = signedResponse({
    issuer: "http://www.okta.com/exk1test",
    audience: t.urls.entityId,
    acsUrl: t.urls.acsUrl,
    nameId: user.userName,
    inResponseTo: requestId,
  }, next);
  assert.equal((await t.acs(xml)).status, 303);
  // The old certificate removed: its signatures are refused.
  await t.configure({ certificates: [next.certificate] });
  await expectRefused(await t.signIn(user.userName), "signature_invalid");
});

Deno.test("SP - JIT creates the person from the assertion, linked to that IdP only", async () => {
  await using t = await createSamlTestApp();
  await expectRefused(await t.signIn("new.person@example.com"), "user_not_provisioned");
  await t.configure({ jit: true });
  const { requestId } = await t.startLogin();
  const res = await t.acs(t.response({
    nameId: "new.person@example.com",
    inResponseTo: requestId,
    attributes: { firstName: "New", lastName: "Person", email: "new.person@example.com" },
  }));
  assert.equal(res.status, 303, await res.text());
  const me = await (await t.get("/me", personCookie(res))).text();
  assert.match(me, /New Person/);
  const { events } = await listEvents(t.kv, t.tenant.id, { type: "scim_user_received" });
  const created = events.find((e) => e.actor === "saml-jit")!;
  assert.match(created.summary, /JIT/);
  const user = await getUser(t.kv, t.tenant.id, created.target!.id);
  assert.equal(user?.sourceIdpId, t.idp.id);
  assert.equal(user?.userName, "new.person@example.com");
  // The SCIM view of that IdP lists the person; a deactivation still ends the session.
  const list = await t.scim(
    "GET",
    `/Users?filter=${encodeURIComponent('userName eq "new.person@example.com"')}`,
  );
  assert.match(await list.text(), /"totalResults":1/);
});

Deno.test("SP - matching by a configured attribute, then by email", async () => {
  await using t = await createSamlTestApp();
  const user = await t.provision({
    userName: "ada",
    emails: [{ value: "Ada.Lovelace@Example.com", type: "work" }],
  });
  // NameID is the email (case differs): found through the email index.
  const res = await t.signIn("ada.lovelace@example.com");
  assert.equal(res.status, 303);
  // A configured attribute decides instead of the NameID.
  await t.configure({ matchAttribute: "uid" });
  const { requestId } = await t.startLogin();
  const byAttr = await t.acs(t.response({
    nameId: "opaque-persistent-id-123",
    inResponseTo: requestId,
    attributes: { uid: "ADA" },
  }));
  assert.equal(byAttr.status, 303, await byAttr.text());
  const { events } = await listEvents(t.kv, t.tenant.id, { type: "saml_sign_in" });
  assert.ok(events.every((e) => e.target?.id === user.id));
  await expectRefused(
    await t.acs(t.response({ nameId: "ada" })), // no uid attribute
    "user_not_provisioned",
  );
});

Deno.test("parseIdpMetadata() reads entity ID, redirect SSO URL and signing certificates", async () => {
  const a = makeKeyPair();
  const b = makeKeyPair();
  const body = (pem: string) => pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const xml = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exk1">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${
    body(a.certificate)
  }</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${
    body(b.certificate)
  }</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/redirect"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
  const md = await parseIdpMetadata(xml);
  assert.equal(md.entityId, "http://www.okta.com/exk1");
  assert.equal(md.ssoUrl, "https://idp/redirect");
  assert.equal(md.certificates.length, 2);
  await assert.rejects(
    () => parseIdpMetadata(`<!DOCTYPE x [<!ENTITY e "e">]>${xml}`),
    MetadataError,
  );
  await assert.rejects(() => parseIdpMetadata("<x/>"), MetadataError);
  await assert.rejects(
    () => parseIdpMetadata(xml.replace(/<md:KeyDescriptor[\s\S]*?<\/md:KeyDescriptor>/g, "")),
    /certificate/,
  );
});
