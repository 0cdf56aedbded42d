/**
 * SAML single sign-on in a real browser: an admin sets the connection up on the SAML tab, runs
 * the Test sign-in (a real flow through a test IdP that this test serves on loopback and that
 * auto-posts a signed response), and a person walks `/login` → the IdP → `/me` → sign out. The
 * test IdP signs with xml-crypto and a key pair made here. Screenshots of the SAML tab, the test
 * report and `/me` along the way.
 * @module
 */
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import { chromiumAvailable, startHarness } from "./_server.ts";
import { makeKeyPair } from "../saml/_cert.ts";
import { encodeResponse, signedResponse } from "../saml/_idp.ts";

const EMAIL = "ada@example.com";
const PASSWORD = "correct horse battery staple";
const ISSUER = "http://idp.test/exk-browser";
const PERSON = "grace.hopper@example.com";

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** A loopback IdP: `GET /sso` reads the AuthnRequest and answers with an auto-posting form. */
function startIdp(key: ReturnType<typeof makeKeyPair>, nameId: () => string) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/sso") return new Response("not found", { status: 404 });
    const deflated = Uint8Array.from(
      atob(url.searchParams.get("SAMLRequest") ?? ""),
      (c) => c.charCodeAt(0),
    );
    const request = new TextDecoder().decode(inflateRawSync(deflated));
    const id = /\sID="([^"]+)"/.exec(request)![1];
    const acs = /AssertionConsumerServiceURL="([^"]+)"/.exec(request)![1];
    const issuer = /<saml:Issuer[^>]*>([^<]+)</.exec(request)![1];
    const xml = signedResponse({
      issuer: ISSUER,
      audience: issuer,
      acsUrl: acs,
      nameId: nameId(),
      inResponseTo: id,
      attributes: { firstName: "Grace", lastName: "Hopper" },
    }, key);
    const relay = url.searchParams.get("RelayState");
    const html = `<!doctype html><title>Test IdP</title><form method="post" action="${
      escapeAttr(acs)
    }"><input type="hidden" name="SAMLResponse" value="${encodeResponse(xml)}">${
      relay ? `<input type="hidden" name="RelayState" value="${escapeAttr(relay)}">` : ""
    }<button>Continue</button></form><script>document.forms[0].submit()</script>`;
    return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { server, ssoUrl: `http://127.0.0.1:${port}/sso` };
}

Deno.test({
  name: "SAML - set up on the SAML tab, Test sign-in, /login → IdP → /me in Chromium",
  ignore: !chromiumAvailable() && !Deno.env.get("CI"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const h = await startHarness();
    const key = makeKeyPair({ commonName: "Test IdP signing 2026" });
    let nameId = PERSON;
    const idp = startIdp(key, () => nameId);
    const { page, origin } = h;
    try {
      const client = await h.scimClient("browser");
      const idpId = client.idpId;
      const pushed = await client.send("POST", "Users", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName: PERSON,
        externalId: "00u1grace",
        name: { givenName: "Grace", familyName: "Hopper" },
        displayName: "Grace Hopper",
        emails: [{ value: PERSON, type: "work", primary: true }],
        active: true,
      });
      assert.equal(pushed.status, 201);
      const userId = (pushed.json as { id: string }).id;
      const group = await client.send("POST", "Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: "Engineering",
        members: [{ value: userId }],
      });
      assert.equal(group.status, 201);

      // The first super admin sets SAML up on the SAML tab.
      await h.createFirstAdmin(EMAIL, PASSWORD);
      await page.goto(`${origin}/admin/idps/${idpId}`);
      await page.getByRole("link", { name: "SAML" }).click();
      await page.waitForURL(`${origin}/admin/idps/${idpId}/saml`);
      const acs = (await page.locator("#acs-url").textContent())!;
      assert.equal(acs, `${origin}/saml/${idpId}/acs`);
      assert.equal(
        await page.locator("#sp-entity-id").textContent(),
        `${origin}/saml/${idpId}/metadata`,
      );
      await page.getByRole("button", { name: "Copy ACS URL" }).click();
      await page.getByRole("button", { name: "Copy ACS URL" }).getByText("Copied").waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), acs);
      const form = page.locator("#saml-settings");
      await form.getByLabel("IdP entity ID").fill(ISSUER);
      await form.getByLabel("IdP SSO URL").fill(idp.ssoUrl);
      await form.getByLabel("Add a signing certificate").fill(key.certificate);
      await form.getByRole("button", { name: "Save SAML settings" }).click();
      await page.waitForURL(/done=saml-saved/);
      await page.getByText("single sign-on set up").waitFor();
      await page.locator("#certificates").getByText("CN=Test IdP signing 2026").waitFor();

      // Test sign-in: a real flow through the IdP, reported, nobody signed in.
      await page.getByRole("link", { name: "Test sign-in" }).click();
      await page.waitForURL(new RegExp(`/admin/idps/${idpId}/saml/test/`));
      await page.locator('#test-result[data-outcome="accepted"]').waitFor();
      assert.match(await page.locator("#test-checks").innerText(), /Signature\s+passed/i);
      await page.locator("#test-received").getByText(PERSON).first().waitFor();
      await h.shot("saml-test-sign-in");
      const noPerson = await page.context().cookies(origin);
      assert.ok(!noPerson.some((c) => c.name === "weft_person"));
      // A refused test (a NameID nobody provisioned) lands on the tab's recent refusals.
      nameId = "nobody@example.com";
      await page.goto(`${origin}/admin/idps/${idpId}/saml`);
      await page.getByRole("link", { name: "Test sign-in" }).click();
      await page.locator('#test-result[data-outcome="user_not_provisioned"]').waitFor();
      nameId = PERSON;
      await page.goto(`${origin}/admin/idps/${idpId}/saml`);
      await page.locator('#saml-refusals tr[data-reason="user_not_provisioned"]').waitFor();
      await h.shot("idp-saml-tab");

      // A person (the admin's cookies cleared): /login → the IdP → /me.
      await page.context().clearCookies();
      await page.goto(`${origin}/me`);
      await page.waitForURL(`${origin}/login`);
      await page.getByRole("link", { name: "Sign in with Okta" }).click();
      await page.waitForURL(`${origin}/me`);
      await page.locator("#me").getByText(PERSON).first().waitFor();
      await page.locator("#my-groups").getByText("Engineering").waitFor();
      assert.equal(await page.locator("h1").textContent(), "Grace Hopper");
      await h.shot("me");
      // Sign out: back to /login, and /me asks to sign in again.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(/\/login\?done=signed-out/);
      await page.goto(`${origin}/me`);
      await page.waitForURL(`${origin}/login`);
    } catch (error) {
      const text = await page.locator("main").innerText().catch(() => "");
      throw new Error(`${error}\nat ${page.url()}\n${text.slice(0, 1500)}`);
    } finally {
      await idp.server.shutdown();
      await h.close();
    }
  },
});
