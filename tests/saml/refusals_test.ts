/**
 * Every reason a SAML sign-in is refused, each over HTTP: a `403` page naming the reason, no
 * cookie, a `saml_sign_in_refused` event with the reason, and the tally the SAML tab shows.
 * @module
 */
import assert from "node:assert/strict";
import { createSamlTestApp, expectRefused, ISSUER, type SamlTestApp } from "./_app.ts";
import { makeKeyPair } from "./_cert.ts";
import { encodeResponse, samlId, signedResponse } from "./_idp.ts";
import { listEvents } from "../../lib/store/events.ts";
import { listRefusals } from "../../lib/store/saml.ts";
import { REFUSAL_REASONS } from "../../lib/saml/reasons.ts";
import { createIdp } from "../../lib/store/tenants.ts";

const MIN = 60_000;

async function refusedWith(t: SamlTestApp, res: Response, reason: string): Promise<void> {
  await expectRefused(res, reason);
  const { events } = await listEvents(t.kv, t.tenant.id, {
    type: "saml_sign_in_refused",
    limit: 1,
  });
  assert.deepEqual(events[0]?.changed, [reason]);
  assert.equal(events[0].summary, `SAML sign-in refused: ${reason}`);
}

Deno.test("SAML refusals - every reason code, with its event and tally", async (ctx) => {
  await using t = await createSamlTestApp();
  const user = await t.provision();
  const name = user.userName;
  const now = Date.now();
  const seen = new Set<string>();
  const check = async (reason: string, res: Promise<Response>) => {
    seen.add(reason);
    await refusedWith(t, await res, reason);
  };

  await ctx.step(
    "user_not_provisioned",
    () => check("user_not_provisioned", t.signIn("nobody@example.com")),
  );
  await ctx.step("unsigned", () => check("unsigned", t.signIn(name, { signing: "none" })));
  await ctx.step("signature_invalid: another key", async () => {
    const other = makeKeyPair();
    const { requestId } = await t.startLogin();
    const xml = signedResponse({
      issuer: ISSUER,
      audience: t.urls.entityId,
      acsUrl: t.urls.acsUrl,
      nameId: name,
      inResponseTo: requestId,
    }, other);
    await check("signature_invalid", t.acs(xml));
  });
  await ctx.step("signature_invalid: changed after signing", async () => {
    const { requestId } = await t.startLogin();
    const xml = t.response({ nameId: "someone.else@example.com", inResponseTo: requestId })
      .replace("someone.else@example.com", name);
    await check("signature_invalid", t.acs(xml));
  });
  await ctx.step("issuer_mismatch", async () => {
    const { requestId } = await t.startLogin();
    await check(
      "issuer_mismatch",
      t.acs(t.response({ nameId: name, inResponseTo: requestId, issuer: "http://evil.example" })),
    );
  });
  await ctx.step("audience_mismatch", async () => {
    const { requestId } = await t.startLogin();
    await check(
      "audience_mismatch",
      t.acs(t.response({
        nameId: name,
        inResponseTo: requestId,
        audience: "https://other-app.example/saml",
      })),
    );
  });
  await ctx.step("destination_mismatch: Recipient", async () => {
    const { requestId } = await t.startLogin();
    await check(
      "destination_mismatch",
      t.acs(t.response({
        nameId: name,
        inResponseTo: requestId,
        recipient: "https://other-app.example/acs",
      })),
    );
  });
  await ctx.step("destination_mismatch: Destination", async () => {
    const { requestId } = await t.startLogin();
    await check(
      "destination_mismatch",
      t.acs(t.response({
        nameId: name,
        inResponseTo: requestId,
        destination: "https://other-app.example/acs",
      })),
    );
  });
  await ctx.step("expired (beyond 2 minutes of skew)", async () => {
    const { requestId } = await t.startLogin();
    await check(
      "expired",
      t.acs(t.response({
        nameId: name,
        inResponseTo: requestId,
        notBefore: new Date(now - 10 * MIN),
        notOnOrAfter: new Date(now - 3 * MIN),
        issueInstant: new Date(now - 10 * MIN),
      })),
    );
  });
  await ctx.step("not_yet_valid (beyond 2 minutes of skew)", async () => {
    const { requestId } = await t.startLogin();
    await check(
      "not_yet_valid",
      t.acs(t.response({
        nameId: name,
        inResponseTo: requestId,
        notBefore: new Date(now + 3 * MIN),
        notOnOrAfter: new Date(now + 10 * MIN),
      })),
    );
  });
  await ctx.step("within 2 minutes of skew both ways: accepted", async () => {
    for (
      const [notBefore, notOnOrAfter] of [[now + 1 * MIN, now + 5 * MIN], [
        now - 5 * MIN,
        now - 1 * MIN,
      ]]
    ) {
      const { requestId } = await t.startLogin();
      const res = await t.acs(t.response({
        nameId: name,
        inResponseTo: requestId,
        notBefore: new Date(notBefore),
        notOnOrAfter: new Date(notOnOrAfter),
      }));
      assert.equal(res.status, 303, await res.text());
    }
  });
  await ctx.step("replayed: the same response twice", async () => {
    const { requestId } = await t.startLogin();
    const xml = t.response({ nameId: name, inResponseTo: requestId });
    assert.equal((await t.acs(xml)).status, 303);
    await check("replayed", t.acs(xml));
    // An IdP-initiated one, too.
    const idpInit = t.response({ nameId: name });
    assert.equal((await t.acs(idpInit)).status, 303);
    await check("replayed", t.acs(idpInit));
  });
  await ctx.step("unknown_request: not issued here, or already answered", async () => {
    await check("unknown_request", t.acs(t.response({ nameId: name, inResponseTo: samlId() })));
    const { requestId } = await t.startLogin();
    assert.equal(
      (await t.acs(t.response({ nameId: name, inResponseTo: requestId }))).status,
      303,
    );
    await check("unknown_request", t.acs(t.response({ nameId: name, inResponseTo: requestId })));
  });
  await ctx.step(
    "unknown_request: an unsigned InResponseTo the assertion does not carry",
    async () => {
      const xml = t.response({ nameId: name }).replace(
        /<samlp:Response /,
        `<samlp:Response InResponseTo="${samlId()}" `,
      );
      await check("unknown_request", t.acs(xml));
    },
  );
  await ctx.step("unknown_request: another IdP's request", async () => {
    const other = await createIdp(t.kv, t.tenant.id, { name: "Second", kind: "okta" });
    await t.configure({}, other.id);
    const { requestId } = await t.startLogin(undefined, other.id);
    await check("unknown_request", t.acs(t.response({ nameId: name, inResponseTo: requestId })));
  });
  await ctx.step("idp_initiated_disabled", async () => {
    await t.configure({ idpInitiated: false });
    await check("idp_initiated_disabled", t.acs(t.response({ nameId: name })));
    // SP-initiated still works.
    assert.equal((await t.signIn(name)).status, 303);
    await t.configure({ idpInitiated: true });
  });
  await ctx.step("saml_not_configured: no settings, or no such IdP", async () => {
    const bare = await createIdp(t.kv, t.tenant.id, { name: "Bare", kind: "okta" });
    await check("saml_not_configured", t.acs(t.response({ nameId: name }), { idpId: bare.id }));
    await check("saml_not_configured", t.acs(t.response({ nameId: name }), { idpId: "nope" }));
    await expectRefused(
      await t.app.request(`${t.origin}/saml/${bare.id}/login`),
      "saml_not_configured",
    );
  });
  await ctx.step(
    "malformed: not base64, DTD, entity, processing instruction, not a Response",
    async () => {
      await check("malformed", t.acs("%%% not base64 %%%", { raw: true }));
      const signed = t.response({ nameId: name });
      await check(
        "malformed",
        t.acs(signed.replace("?>", '?><!DOCTYPE r [<!ENTITY x "y">]>')),
      );
      await check("malformed", t.acs(signed.replace("?>", '?><!ENTITY x "y">')));
      await check("malformed", t.acs(signed.replace("<saml:Issuer>", "<?evil x?><saml:Issuer>")));
      await check("malformed", t.acs("<x/>"));
      const empty = await t.app.request(`${t.origin}/saml/${t.idp.id}/acs`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "",
      });
      await refusedWith(t, empty, "malformed");
    },
  );
  seen.add("user_inactive"); // sign_in_test.ts walks it with SCIM
  assert.deepEqual([...seen].sort(), [...REFUSAL_REASONS].sort());

  const tallies = await listRefusals(t.kv, t.tenant.id, t.idp.id);
  const byReason = new Map(tallies.map((r) => [r.reason, r.count]));
  assert.equal(byReason.get("replayed"), 2);
  assert.equal(byReason.get("malformed"), 6);
  // No refusal event carries what the assertion said.
  const { events } = await listEvents(t.kv, t.tenant.id, {
    type: "saml_sign_in_refused",
    limit: 100,
  });
  for (const e of events) assert.ok(!JSON.stringify(e).includes(name), JSON.stringify(e));
});

Deno.test("SAML refusals - a SAMLResponse above 256 KiB gets 413 before it is read", async () => {
  await using t = await createSamlTestApp();
  const big = "A".repeat(256 * 1024 + 4);
  const res = await t.acs(big, { raw: true });
  assert.equal(res.status, 413);
  assert.equal(res.headers.get("set-cookie"), null);
  const huge = await t.acs("A".repeat(2 * 1024 * 1024), { raw: true });
  assert.equal(huge.status, 413);
  // Just under the limit it is read (and refused as the garbage it is).
  await expectRefused(await t.acs("A".repeat(256 * 1024), { raw: true }), "malformed");
});

Deno.test("SAML refusals - failing clients are throttled per address with 429 and Retry-After", async () => {
  await using t = await createSamlTestApp({ WEFT_AUTH_FAILURES_PER_MINUTE: "3" });
  for (let i = 0; i < 3; i++) await expectRefused(await t.acs("<x/>"), "malformed");
  const res = await t.acs("<x/>");
  assert.equal(res.status, 429);
  assert.match(res.headers.get("retry-after") ?? "", /^\d+$/);
  assert.equal(res.headers.get("set-cookie"), null);
  // A valid sign-in from the throttled address waits too (failures decide, not the request).
  const user = await t.provision();
  assert.equal((await t.signIn(user.userName)).status, 429);
});

Deno.test("SAML refusals - encoded responses are checked as sent (base64 with line breaks)", async () => {
  await using t = await createSamlTestApp();
  const user = await t.provision();
  const { requestId } = await t.startLogin();
  const b64 = encodeResponse(t.response({ nameId: user.userName, inResponseTo: requestId }));
  const wrapped = b64.match(/.{1,76}/g)!.join("\r\n");
  const res = await t.acs(wrapped, { raw: true });
  assert.equal(res.status, 303, await res.text());
});
