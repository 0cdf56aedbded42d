/**
 * People's sessions: every way SCIM ends them (PATCH, PUT, Entra's "False", DELETE), sign-out
 * with its CSRF defences, cookies that never work on another tenant or for another IdP's user,
 * and return paths that cannot leave the site.
 * @module
 */
import assert from "node:assert/strict";
import { createSamlTestApp, expectRefused, ISSUER, personCookie, SSO_URL } from "./_app.ts";
import { makeKeyPair } from "./_cert.ts";
import { signedResponse } from "./_idp.ts";
import { listEvents } from "../../lib/store/events.ts";
import { createIdp, createTenant, createToken } from "../../lib/store/tenants.ts";
import { updateSamlSettings } from "../../lib/store/saml.ts";
import { spUrls } from "../../lib/saml/sp.ts";
import { listPersonSessions } from "../../lib/store/person_sessions.ts";
import { randomUser } from "../_helpers.ts";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

Deno.test('Sessions - PUT active:false, Entra\'s "False" and DELETE end sessions at once', async () => {
  await using t = await createSamlTestApp();
  // PUT without active:true.
  const a = await t.provision();
  const ca = personCookie(await t.signIn(a.userName));
  const ca2 = personCookie(await t.signIn(a.userName));
  const body = randomUser({ userName: a.userName, active: false });
  assert.equal((await t.scim("PUT", `/Users/${a.id}`, body)).status, 200);
  for (const c of [ca, ca2]) assert.equal((await t.get("/me", c)).status, 303);
  assert.equal((await listPersonSessions(t.kv, t.tenant.id, a.id)).length, 0);

  // Entra's string boolean.
  const b = await t.provision();
  const cb = personCookie(await t.signIn(b.userName));
  const entra = await t.scim("PATCH", `/Users/${b.id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Replace", path: "active", value: "False" }],
  });
  assert.equal(entra.status, 200, await entra.text());
  assert.equal((await t.get("/me", cb)).status, 303);

  // DELETE.
  const c = await t.provision();
  const cc = personCookie(await t.signIn(c.userName));
  assert.equal((await t.get("/me", cc)).status, 200);
  assert.equal((await t.scim("DELETE", `/Users/${c.id}`)).status, 204);
  assert.equal((await t.get("/me", cc)).status, 303);
  await expectRefused(await t.signIn(c.userName), "user_not_provisioned");

  const { events } = await listEvents(t.kv, t.tenant.id, { type: "user_sessions_revoked" });
  const byUser = new Map(events.map((e) => [e.target?.id, e.counts?.sessions]));
  assert.equal(byUser.get(a.id), 2);
  assert.equal(byUser.get(b.id), 1);
  assert.equal(byUser.get(c.id), 1);
});

Deno.test("Sessions - sign-out needs this site's Origin and the session's token", async () => {
  await using t = await createSamlTestApp();
  const u = await t.provision();
  const cookie = personCookie(await t.signIn(u.userName));
  const page = await (await t.get("/me", cookie)).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
  const post = (headers: Record<string, string>, token: string) =>
    t.app.request(`${t.origin}/logout`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ _csrf: token }).toString(),
      redirect: "manual",
    });
  assert.equal((await post({ origin: "https://evil.example" }, csrf)).status, 403);
  assert.equal((await post({}, csrf)).status, 403); // no Origin, no Sec-Fetch-Site
  assert.equal((await post({ origin: t.origin }, "wrong")).status, 403);
  assert.equal((await t.get("/me", cookie)).status, 200);
  const out = await post({ origin: t.origin }, csrf);
  assert.equal(out.status, 303);
  assert.equal(out.headers.get("location"), "/login?done=signed-out");
  assert.match(out.headers.get("set-cookie") ?? "", /weft_person=;/);
  assert.equal((await t.get("/me", cookie)).status, 303);
});

Deno.test("Sessions - never across tenants or IdPs", async () => {
  await using t = await createSamlTestApp();
  const u = await t.provision();
  const cookie = personCookie(await t.signIn(u.userName));
  // Another tenant with a user of the same name: the acme cookie is nothing there.
  const other = await createTenant(t.kv, { subdomain: "globex" });
  const otherIdp = await createIdp(t.kv, other.id, { name: "Okta", kind: "okta" });
  const { secret } = await createToken(t.kv, other.id, otherIdp.id, {
    name: "t",
    createdBy: "test",
  });
  const pushed = await t.app.request(
    `http://globex.localhost/scim/v2/inbound/${otherIdp.id}/Users`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/scim+json" },
      body: JSON.stringify(randomUser({ userName: u.userName })),
    },
  );
  assert.equal(pushed.status, 201);
  const there = await t.app.request("http://globex.localhost/me", {
    headers: { cookie },
    redirect: "manual",
  });
  assert.equal(there.status, 303);
  // acme's response posted to globex's ACS for acme's IdP id: no such connection there.
  const res = await t.app.request(`http://globex.localhost/saml/${t.idp.id}/acs`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      SAMLResponse: btoa(t.response({ nameId: u.userName })),
    }).toString(),
  });
  await expectRefused(res, "saml_not_configured");

  // A second IdP of the same tenant cannot sign in the first IdP's user.
  const second = await createIdp(t.kv, t.tenant.id, { name: "Entra", kind: "entra" });
  const key = makeKeyPair();
  await updateSamlSettings(
    t.kv,
    { tenantId: t.tenant.id, idpId: second.id, actor: "test" },
    (s) => ({
      ...s,
      entityId: "https://sts.windows.net/tenant/",
      ssoUrl: SSO_URL,
      certificates: [key.certificate],
    }),
    "test",
  );
  const urls = spUrls(t.origin, second.id);
  const viaSecond = signedResponse({
    issuer: "https://sts.windows.net/tenant/",
    audience: urls.entityId,
    acsUrl: urls.acsUrl,
    nameId: u.userName,
  }, key);
  await expectRefused(await t.acs(viaSecond, { idpId: second.id }), "user_not_provisioned");
  // And the first IdP's key is not trusted for the second IdP (nor the other way round).
  const crossKey = signedResponse({
    issuer: ISSUER,
    audience: urls.entityId,
    acsUrl: urls.acsUrl,
    nameId: u.userName,
  }, t.key);
  await expectRefused(await t.acs(crossKey, { idpId: second.id }), "signature_invalid");
  // The session still belongs to the first IdP and still works.
  assert.equal((await t.get("/me", cookie)).status, 200);
  // A forged cookie (another key) is nothing.
  const forged = cookie.replace(/\.[^.]+$/, ".AAAA");
  assert.equal((await t.get("/me", forged)).status, 303);
});

const HOSTILE = [
  "//evil.example/",
  "/\\evil.example",
  "https://evil.example/",
  "http:evil.example",
  "javascript:alert(1)",
  "/ok\r\nSet-Cookie: x=1",
  "/\t/evil.example",
  "/%0d%0aSet-Cookie:x",
  "\u0000/me",
  "",
];

Deno.test("Redirects - RelayState and return_to never leave the site", async () => {
  await using t = await createSamlTestApp();
  const u = await t.provision();
  // IdP-initiated with a RelayState.
  for (const relayState of HOSTILE) {
    const res = await t.acs(t.response({ nameId: u.userName }), { relayState });
    assert.equal(res.status, 303, relayState);
    const location = res.headers.get("location")!;
    assert.ok(
      location === "/me" || location === "/%0d%0aSet-Cookie:x",
      `${JSON.stringify(relayState)} → ${location}`,
    );
    assert.ok(!/[\r\n]/.test(location));
  }
  const fine = await t.acs(t.response({ nameId: u.userName }), { relayState: "/me?x=1" });
  assert.equal(fine.headers.get("location"), "/me?x=1");
  // SP-initiated with return_to: hostile ones are dropped before the IdP sees them, and a URL
  // that carries a control character is refused before anything runs.
  for (const returnTo of HOSTILE) {
    // deno-lint-ignore no-control-regex -- control characters are what is looked for
    if (/[\x00-\x1f\x7f]/.test(returnTo)) {
      const refused = await t.get(
        `/saml/${t.idp.id}/login?return_to=${encodeURIComponent(returnTo)}`,
      );
      assert.equal(refused.status, 400, JSON.stringify(returnTo));
      assert.equal(refused.headers.get("location"), null);
      await refused.body?.cancel();
      continue;
    }
    const { requestId, location } = await t.startLogin(returnTo);
    const relay = location.searchParams.get("RelayState");
    assert.ok(relay === null || relay === "/%0d%0aSet-Cookie:x", `${returnTo} → ${relay}`);
    const res = await t.acs(t.response({ nameId: u.userName, inResponseTo: requestId }), {
      relayState: "//evil.example",
    });
    const to = res.headers.get("location")!;
    assert.ok(to === "/me" || to === "/%0d%0aSet-Cookie:x", `${returnTo} → ${to}`);
  }
  // The SP-initiated return path is the one Weft kept, not what the IdP echoes.
  const { requestId } = await t.startLogin("/me?from=app");
  const res = await t.acs(t.response({ nameId: u.userName, inResponseTo: requestId }), {
    relayState: "/somewhere-else",
  });
  assert.equal(res.headers.get("location"), "/me?from=app");
  // /login keeps only a same-site return_to in its links.
  const login = await (await t.get(`/login?return_to=${encodeURIComponent("//evil.example")}`))
    .text();
  assert.ok(!login.includes("evil.example"));
  assert.match(login, new RegExp(`href="/saml/${t.idp.id}/login"`));
});
