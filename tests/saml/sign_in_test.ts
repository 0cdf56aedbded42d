/**
 * SAML sign-in over HTTP, the test playing the IdP: SP-initiated and IdP-initiated sign-ins,
 * `/me`, sign-out, return paths, and the deactivate-then-retry path with SCIM.
 * @module
 */
import assert from "node:assert/strict";
import { createSamlTestApp, expectRefused, personCookie } from "./_app.ts";
import { listEvents } from "../../lib/store/events.ts";

Deno.test("SAML - SP-initiated sign-in: login redirect, ACS, session cookie, /me", async () => {
  await using t = await createSamlTestApp();
  const user = await t.provision({ displayName: "Ada Lovelace" });
  const { requestId, location } = await t.startLogin("/me?tab=groups");
  assert.equal(location.origin + location.pathname, "https://idp.example.test/app/sso/saml");
  assert.equal(location.searchParams.get("RelayState"), "/me?tab=groups");
  const res = await t.acs(t.response({ nameId: user.userName, inResponseTo: requestId }));
  assert.equal(res.status, 303, await res.text());
  assert.equal(res.headers.get("location"), "/me?tab=groups");
  const setCookie = res.headers.get("set-cookie") ?? "";
  assert.match(setCookie, /^weft_person=/);
  assert.match(setCookie, /HttpOnly/i);
  assert.match(setCookie, /SameSite=Lax/i);
  assert.match(setCookie, /Path=\//);
  const cookie = personCookie(res);
  const me = await t.get("/me", cookie);
  const html = await me.text();
  assert.equal(me.status, 200, html);
  assert.equal(me.headers.get("cache-control"), "no-store");
  assert.match(me.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.match(html, /Ada Lovelace/);
  assert.ok(html.includes(user.userName));
  const { events } = await listEvents(t.kv, t.tenant.id, { type: "saml_sign_in" });
  assert.equal(events.length, 1);
  assert.equal(events[0].target?.id, user.id);
  // Without a cookie, /me sends the person to sign in.
  const anon = await t.get("/me");
  assert.equal(anon.status, 303);
  assert.equal(anon.headers.get("location"), "/login");
});

Deno.test("SAML - deactivate, refuse, reactivate: SCIM decides who gets in", async () => {
  await using t = await createSamlTestApp();
  const user = await t.provision();
  const cookie = personCookie(await t.signIn(user.userName));
  assert.equal((await t.get("/me", cookie)).status, 200);
  // SCIM active:false ends the session at once.
  const off = await t.scim("PATCH", `/Users/${user.id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active: false } }],
  });
  assert.equal(off.status, 200, await off.text());
  const old = await t.get("/me", cookie);
  assert.equal(old.status, 303);
  assert.equal(old.headers.get("location"), "/login");
  const revoked = await listEvents(t.kv, t.tenant.id, { type: "user_sessions_revoked" });
  assert.equal(revoked.events.length, 1);
  assert.equal(revoked.events[0].counts?.sessions, 1);
  // A new sign-in is refused as inactive.
  await expectRefused(await t.signIn(user.userName), "user_inactive");
  const refusals = await listEvents(t.kv, t.tenant.id, { type: "saml_sign_in_refused" });
  assert.deepEqual(refusals.events[0].changed, ["user_inactive"]);
  // Reactivation lets them in again.
  const on = await t.scim("PATCH", `/Users/${user.id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", path: "active", value: true }],
  });
  assert.equal(on.status, 200);
  const again = await t.signIn(user.userName);
  assert.equal(again.status, 303);
  assert.equal((await t.get("/me", personCookie(again))).status, 200);
  // The old cookie stays dead: its record is gone.
  assert.equal((await t.get("/me", cookie)).status, 303);
});
