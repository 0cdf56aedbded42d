/**
 * The console's SAML tab over HTTP: the values to paste, settings by hand and by metadata, the
 * trusted certificates with expiry warnings, the SP key pair, the Test sign-in (a real flow that
 * reports each check and signs nobody in), recent refusals, and ending a person's sessions from
 * their user page. Roles and CSRF as everywhere in the console.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "../admin_helpers.ts";
import { makeKeyPair } from "./_cert.ts";
import { encodeResponse, signedResponse } from "./_idp.ts";
import { ISSUER, requestIdOf, SSO_URL } from "./_app.ts";
import { spUrls } from "../../lib/saml/sp.ts";
import { getSamlSettings, updateSamlSettings } from "../../lib/store/saml.ts";
import { listPersonSessions } from "../../lib/store/person_sessions.ts";
import { listEvents } from "../../lib/store/events.ts";
import { randomUser } from "../_helpers.ts";
import { migrate } from "../../lib/store/migrations.ts";
import { keys } from "../../lib/store/keys.ts";

async function setup() {
  const t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const key = makeKeyPair({ commonName: "Okta signing" });
  const urls = spUrls(t.origin, t.idp.id);
  const acs = (xml: string) =>
    t.app.request(urls.acsUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ SAMLResponse: encodeResponse(xml) }).toString(),
      redirect: "manual",
    });
  return { t, s, key, urls, acs };
}

Deno.test("SAML tab - values to paste, settings by hand, certificates with expiry", async () => {
  const { t, s, key, urls } = await setup();
  try {
    const tab = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/saml`, { as: s }));
    assert.ok(tab.includes(`<code class="url" id="acs-url">${urls.acsUrl}</code>`));
    assert.ok(tab.includes(`<code class="url" id="sp-entity-id">${urls.entityId}</code>`));
    assert.ok(tab.includes(urls.metadataUrl));
    assert.match(tab, /not set up yet/);
    // Bad input is refused.
    const badCert = await t.admin(`/admin/idps/${t.idp.id}/saml`, {
      as: s,
      form: { entityId: ISSUER, ssoUrl: SSO_URL, certificate: "not a cert" },
    });
    await expectHtml(badCert, 400);
    const badUrl = await t.admin(`/admin/idps/${t.idp.id}/saml`, {
      as: s,
      form: { entityId: ISSUER, ssoUrl: "javascript:alert(1)" },
    });
    await expectHtml(badUrl, 400);
    // Saved by hand, with one certificate that expires in 10 days.
    const soon = makeKeyPair({ notAfter: new Date(Date.now() + 10 * 86_400_000) });
    const saved = await t.admin(`/admin/idps/${t.idp.id}/saml`, {
      as: s,
      form: {
        entityId: ISSUER,
        ssoUrl: SSO_URL,
        certificate: key.certificate + soon.certificate,
        idpInitiated: "on",
      },
    });
    assert.equal(expectRedirect(saved), `/admin/idps/${t.idp.id}/saml?done=saml-saved`);
    const after = await expectHtml(
      await t.admin(`/admin/idps/${t.idp.id}/saml?done=saml-saved`, { as: s }),
    );
    assert.match(after, /single sign-on set up/);
    assert.match(after, /expires in 10 days/);
    assert.equal((after.match(/class="fingerprint"/g) ?? []).length, 2);
    const settings = (await getSamlSettings(t.kv, t.tenant.id, t.idp.id))!;
    assert.equal(settings.certificates.length, 2);
    assert.equal(settings.jit, false);
    // The read-only admin sees it all but cannot change it.
    const ro = await t.signIn(t.readOnly);
    const roTab = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/saml`, { as: ro }));
    assert.ok(!roTab.includes('id="saml-settings"'));
    await expectHtml(
      await t.admin(`/admin/idps/${t.idp.id}/saml`, { as: ro, form: { entityId: "x" } }),
      403,
    );
    // CSRF: no token, or another origin.
    await expectHtml(
      await t.admin(`/admin/idps/${t.idp.id}/saml`, {
        as: s,
        form: { entityId: "x" },
        noCsrf: true,
      }),
      403,
    );
    // Remove the expiring certificate, after confirming.
    const id = /\/saml\/certificates\/([0-9a-f]+)\/remove/.exec(after)![1];
    const path = `/admin/idps/${t.idp.id}/saml/certificates/${id}/remove`;
    await expectHtml(await t.admin(path, { as: s, form: {} })); // the confirmation page
    expectRedirect(await t.admin(path, { as: s, form: { confirmed: "yes" } }));
    assert.equal((await getSamlSettings(t.kv, t.tenant.id, t.idp.id))!.certificates.length, 1);
    const { events } = await listEvents(t.kv, t.tenant.id, { type: "idp_saml_updated" });
    assert.equal(events.length, 2);
  } finally {
    t.close();
  }
});

Deno.test("SAML tab - metadata import by paste and by upload; SP key pair", async () => {
  const { t, s, key } = await setup();
  try {
    const body = key.certificate.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const xml =
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${ISSUER}">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${SSO_URL}"/>
</md:IDPSSODescriptor></md:EntityDescriptor>`;
    const pasted = await t.admin(`/admin/idps/${t.idp.id}/saml/metadata`, {
      as: s,
      form: { metadata: xml },
    });
    assert.equal(expectRedirect(pasted), `/admin/idps/${t.idp.id}/saml?done=saml-imported`);
    let settings = (await getSamlSettings(t.kv, t.tenant.id, t.idp.id))!;
    assert.equal(settings.entityId, ISSUER);
    assert.equal(settings.ssoUrl, SSO_URL);
    assert.equal(settings.certificates.length, 1);
    // Upload (multipart) of a file with a DTD: refused, nothing changed.
    const form = new FormData();
    form.set("_csrf", s.csrf);
    form.set("file", new File([`<!DOCTYPE x>${xml}`], "metadata.xml", { type: "text/xml" }));
    const refused = await t.app.request(`${t.origin}/admin/idps/${t.idp.id}/saml/metadata`, {
      method: "POST",
      headers: { cookie: s.cookie, origin: t.origin },
      body: form,
    });
    assert.match(await expectHtml(refused, 400), /DTD/);
    const good = new FormData();
    good.set("_csrf", s.csrf);
    good.set("file", new File([xml.replace(SSO_URL, `${SSO_URL}/v2`)], "m.xml"));
    const uploaded = await t.app.request(`${t.origin}/admin/idps/${t.idp.id}/saml/metadata`, {
      method: "POST",
      headers: { cookie: s.cookie, origin: t.origin },
      body: good,
      redirect: "manual",
    });
    expectRedirect(uploaded);
    settings = (await getSamlSettings(t.kv, t.tenant.id, t.idp.id))!;
    assert.equal(settings.ssoUrl, `${SSO_URL}/v2`);
    // SP key pair: created, in the metadata, removed after confirming.
    expectRedirect(await t.admin(`/admin/idps/${t.idp.id}/saml/sp-key`, { as: s, form: {} }));
    const md = await (await t.app.request(`${t.origin}/saml/${t.idp.id}/metadata`)).text();
    assert.match(md, /AuthnRequestsSigned="true"/);
    assert.ok(!md.includes("PRIVATE KEY"));
    const tab = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/saml`, { as: s }));
    assert.ok(!tab.includes("PRIVATE KEY"));
    assert.match(tab, /AuthnRequests are signed/);
    expectRedirect(
      await t.admin(`/admin/idps/${t.idp.id}/saml/sp-key/remove`, {
        as: s,
        form: { confirmed: "yes" },
      }),
    );
    assert.equal((await getSamlSettings(t.kv, t.tenant.id, t.idp.id))!.spKey, undefined);
  } finally {
    t.close();
  }
});

Deno.test("SAML tab - Test sign-in runs a real flow, reports each check, signs nobody in", async () => {
  const { t, s, key, urls, acs } = await setup();
  try {
    const start = await t.admin(`/admin/idps/${t.idp.id}/saml/test`, { as: s });
    assert.equal(expectRedirect(start), `/admin/idps/${t.idp.id}/saml?error=not-configured`);
    await updateSamlSettings(
      t.kv,
      { tenantId: t.tenant.id, idpId: t.idp.id, actor: "test" },
      (x) => ({
        ...x,
        entityId: ISSUER,
        ssoUrl: SSO_URL,
        certificates: [key.certificate],
      }),
      "test",
    );
    const user = randomUser();
    assert.equal((await t.scim("POST", "/Users", user)).status, 201);

    const run = async (nameId: string, signWith = key) => {
      const res = await t.admin(`/admin/idps/${t.idp.id}/saml/test`, { as: s });
      const location = new URL(expectRedirect(res));
      assert.equal(location.origin + location.pathname, SSO_URL);
      const requestId = requestIdOf(location);
      const done = await acs(signedResponse({
        issuer: ISSUER,
        audience: urls.entityId,
        acsUrl: urls.acsUrl,
        nameId,
        inResponseTo: requestId,
        attributes: { department: "<b>Navy</b>" },
      }, signWith));
      assert.equal(done.headers.get("set-cookie"), null);
      const report = expectRedirect(done);
      assert.equal(report, `/admin/idps/${t.idp.id}/saml/test/${requestId}`);
      return report;
    };
    // Accepted: every check passes, the matched user is shown, no session exists.
    const ok = await run(String(user.userName));
    const page = await expectHtml(await t.admin(ok, { as: s }));
    assert.match(page, /data-outcome="accepted"/);
    assert.match(page, /A real sign-in would succeed/);
    assert.ok(!page.includes("failed</span>"));
    assert.ok(page.includes(String(user.userName)));
    assert.ok(page.includes("&lt;b>Navy&lt;/b>")); // IdP-sent text is escaped
    assert.equal((await listEvents(t.kv, t.tenant.id, { type: "saml_sign_in" })).events.length, 0);
    // Only the admin session that started it can read it.
    const other = await t.signIn(t.superAdmin);
    await expectHtml(await t.admin(ok, { as: other }), 404);
    // Refusals are reported with the failing check.
    const nobody = await expectHtml(await t.admin(await run("nobody@example.com"), { as: s }));
    assert.match(nobody, /data-outcome="user_not_provisioned"/);
    const badKey = await expectHtml(
      await t.admin(await run(String(user.userName), makeKeyPair()), { as: s }),
    );
    assert.match(badKey, /data-outcome="signature_invalid"/);
    assert.match(badKey, /data-check="Signature"[\s\S]*?failed/);
    // The tab lists the refusals with what to do.
    const tab = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/saml`, { as: s }));
    assert.match(tab, /data-reason="user_not_provisioned"/);
    assert.match(tab, /data-reason="signature_invalid"/);
  } finally {
    t.close();
  }
});

Deno.test("User page - a super admin ends a person's sign-in sessions", async () => {
  const { t, s, key, urls, acs } = await setup();
  try {
    await updateSamlSettings(
      t.kv,
      { tenantId: t.tenant.id, idpId: t.idp.id, actor: "test" },
      (x) => ({
        ...x,
        entityId: ISSUER,
        ssoUrl: SSO_URL,
        certificates: [key.certificate],
      }),
      "test",
    );
    const user = randomUser();
    const created = await (await t.scim("POST", "/Users", user)).json() as { id: string };
    for (let i = 0; i < 2; i++) {
      const res = await acs(signedResponse({
        issuer: ISSUER,
        audience: urls.entityId,
        acsUrl: urls.acsUrl,
        nameId: String(user.userName),
      }, key));
      assert.equal(res.status, 303);
    }
    const profile = await expectHtml(await t.admin(`/admin/users/${created.id}`, { as: s }));
    assert.match(profile, /2 open/);
    const path = `/admin/users/${created.id}/revoke-sessions`;
    const ro = await t.signIn(t.readOnly);
    await expectHtml(await t.admin(path, { as: ro, form: { confirmed: "yes" } }), 403);
    await expectHtml(await t.admin(path, { as: s, form: {} })); // confirmation page
    assert.equal(
      expectRedirect(await t.admin(path, { as: s, form: { confirmed: "yes" } })),
      `/admin/users/${created.id}?done=person-sessions-revoked`,
    );
    assert.equal((await listPersonSessions(t.kv, t.tenant.id, created.id)).length, 0);
    const { events } = await listEvents(t.kv, t.tenant.id, { type: "user_sessions_revoked" });
    assert.equal(events[0].actor, "admin:root@acme.test");
    assert.equal(events[0].counts?.sessions, 2);
  } finally {
    t.close();
  }
});

Deno.test("migrate() moves the SAML fields of older IdP records into settings records", async () => {
  const { t } = await setup();
  try {
    const legacy = {
      ...t.idp,
      id: "legacy1",
      saml: { entityId: ISSUER, ssoUrl: SSO_URL, certificate: makeKeyPair().certificate },
    };
    await t.kv.set(keys.idp(t.tenant.id, legacy.id), legacy);
    await t.kv.set(["meta", "schema"], 2);
    const done = await migrate(t.kv);
    assert.match(done.join("\n"), /Schema 3: SAML settings of 1 IdP/);
    const s = (await getSamlSettings(t.kv, t.tenant.id, legacy.id))!;
    assert.equal(s.entityId, ISSUER);
    assert.equal(s.certificates.length, 1);
    assert.equal(s.idpInitiated, true);
    // The IdP record is left as it was.
    assert.deepEqual((await t.kv.get(keys.idp(t.tenant.id, legacy.id))).value, legacy);
    // Idempotent.
    await t.kv.set(["meta", "schema"], 2);
    assert.deepEqual(await migrate(t.kv), []);
  } finally {
    t.close();
  }
});
