/**
 * The admin console in a real browser: first admin through the setup link, sign-out and
 * sign-in, an IdP created, a token minted in the modal and copied, a real SCIM push with it,
 * the user, its IdP attribute row and the `scim_user_received` event seen, the token revoked
 * and the 401 with its reason seen on the SCIM tab, and the Event Log filtered by IdP and type
 * with the URL (and the back button) following. Screenshots of the main pages along the way.
 * @module
 */
import assert from "node:assert/strict";
import { chromiumAvailable, startHarness } from "./_server.ts";

const EMAIL = "ada@example.com";
const PASSWORD = "correct horse battery staple";

Deno.test({
  name: "Admin console - provisioning end to end in Chromium",
  // Skipped only off CI on a machine without Chromium; CI installs it, and fails without it.
  ignore: !chromiumAvailable() && !Deno.env.get("CI"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const h = await startHarness();
    const { page, origin } = h;
    try {
      // First super admin through the one-time setup link.
      await h.createFirstAdmin(EMAIL, PASSWORD);
      // The link works once.
      const again = await page.request.get(h.setupLink);
      assert.equal(again.status(), 404);

      // Sign out, then sign in with the password.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(/\/admin\/signin/);
      await page.getByLabel("Email").fill(EMAIL);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${origin}/admin`);

      // Create an IdP.
      await page.getByRole("link", { name: "Identity providers" }).click();
      await page.getByRole("link", { name: "New identity provider" }).click();
      await page.getByLabel("Name").fill("Okta Production");
      await page.getByLabel("Kind").selectOption("okta");
      await page.getByRole("button", { name: "Create identity provider" }).click();
      await page.waitForURL(/\/admin\/idps\/[^/]+\/scim\?done=idp-created/);
      const idpId = /\/admin\/idps\/([^/]+)\/scim/.exec(page.url())![1];
      const base = (await page.locator("#scim-base-url").textContent())!;
      assert.equal(base, `${origin}/scim/v2/inbound/${idpId}/`);

      // Mint a token in the modal, copy it.
      await page.getByRole("button", { name: "Create token" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.waitFor();
      await dialog.getByLabel("Token name").fill("okta-prod");
      await dialog.getByRole("button", { name: "Create token" }).click();
      const secretBox = dialog.locator("#new-token-secret");
      await secretBox.waitFor();
      const secret = (await secretBox.textContent())!;
      assert.match(secret, /^weft_scim_[A-Za-z0-9_-]{43}$/);
      await dialog.getByText("cannot be shown again").waitFor();
      // The focus is on the secret's Copy button.
      await page.waitForFunction(() =>
        document.activeElement?.getAttribute("aria-label") === "Copy SCIM token"
      );
      // Escape asks first and leaves the token on screen; Escape again returns to it.
      const question = dialog.getByText("Have you copied the token?");
      await page.keyboard.press("Escape");
      await question.waitFor();
      assert.ok(await secretBox.isVisible());
      await page.keyboard.press("Escape");
      await question.waitFor({ state: "detached" });
      assert.ok(await secretBox.isVisible());
      // So does a click outside the dialog.
      await page.mouse.click(4, 4);
      await question.waitFor();
      await dialog.getByRole("button", { name: "Back to the token" }).click();
      await question.waitFor({ state: "detached" });
      await dialog.getByRole("button", { name: "Copy SCIM token" }).click();
      await dialog.getByRole("button", { name: "Copy SCIM token" }).getByText("Copied").waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.equal(copied, secret);
      await h.shot("token-modal", { fullPage: false });
      await dialog.getByRole("button", { name: "Done" }).click();
      await question.waitFor();
      await dialog.getByRole("button", { name: "Yes, close" }).click();
      await page.locator("#tokens").getByRole("cell", { name: /okta-prod/ }).waitFor();

      // A real SCIM push with the copied token.
      const scim = (path: string, body?: unknown, token = copied) =>
        fetch(base + path, {
          method: body ? "POST" : "GET",
          headers: {
            authorization: `Bearer ${token}`,
            ...(body ? { "content-type": "application/scim+json" } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
      const created = await scim("Users", {
        schemas: [
          "urn:ietf:params:scim:schemas:core:2.0:User",
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ],
        userName: "grace.hopper@example.com",
        externalId: "00u1grace",
        name: { givenName: "Grace", familyName: "Hopper" },
        displayName: "Grace Hopper",
        emails: [{ value: "grace.hopper@example.com", type: "work", primary: true }],
        active: true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "Navy" },
      });
      assert.equal(created.status, 201);
      const user = await created.json() as { id: string };
      const group = await scim("Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: "Engineering",
        members: [{ value: user.id }],
      });
      assert.equal(group.status, 201);
      const groupId = (await group.json() as { id: string }).id;

      // The user, its IdP attribute row and the event.
      await page.goto(`${origin}/admin`);
      await h.shot("dashboard");
      await page.getByRole("link", { name: "Users", exact: true }).click();
      await page.getByLabel("Search").fill("grace");
      await page.getByRole("button", { name: "Search" }).click();
      await page.getByRole("link", { name: "grace.hopper@example.com" }).click();
      await page.locator("#profile").getByText("Navy").waitFor();
      await h.shot("user-profile");
      await page.getByRole("link", { name: "IdP Attributes" }).click();
      const row = page.locator(`section.idp-row[data-idp="${idpId}"]`);
      await row.getByText("00u1grace").waitFor();
      await row.getByRole("row", { name: /name\.givenName/ }).getByText("mirrored → firstName")
        .waitFor();
      await h.shot("user-idp-attributes");
      await page.getByRole("link", { name: "Events", exact: true }).click();
      await page.locator('#user-events tr[data-event-type="scim_user_received"]').waitFor();
      await page.goto(`${origin}/admin/groups/${idpId}/${groupId}`);
      await page.locator("#members").getByText("grace.hopper@example.com").waitFor();
      await h.shot("group");
      await page.goto(`${origin}/admin/settings/mirroring`);
      await page.locator("#preview").waitFor();
      await h.shot("mirroring");

      // Revoke the token with confirmation; the IdP gets 401 and the tab says why.
      await page.goto(`${origin}/admin/idps/${idpId}/scim`);
      const tokenRow = page.locator("#tokens tr", { hasText: "okta-prod" });
      await tokenRow.getByRole("button", { name: "Revoke" }).click();
      const confirm = page.getByRole("dialog", { name: /Revoke token/ });
      await confirm.waitFor();
      await confirm.getByRole("button", { name: "Revoke" }).click();
      await page.waitForURL(/done=token-revoked/);
      await tokenRow.getByText("revoked").first().waitFor();
      const refused = await scim("Users");
      assert.equal(refused.status, 401);
      assert.match(await refused.text(), /revoked_token/);
      await page.reload();
      const failure = page.locator('#auth-failures tr[data-reason="revoked_token"]');
      await failure.waitFor();
      assert.match((await failure.textContent())!, /revoked/);
      await h.shot("idp-scim-tab");

      // Event Log filters: the URL follows, and back returns to the previous view.
      await page.getByRole("link", { name: "Event Log" }).click();
      await page.locator("tr[data-event-type]").first().waitFor();
      // The filters apply on change once the island runs (before that they are a plain form).
      await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
      await page.getByLabel("Identity provider").selectOption(idpId);
      await page.waitForURL((u) => u.searchParams.get("idp") === idpId);
      await page.getByLabel("Event type").selectOption("scim_user_received");
      await page.waitForURL((u) => u.searchParams.get("type") === "scim_user_received");
      await page.waitForFunction(() =>
        document.querySelectorAll("tr[data-event-type]").length > 0 &&
        [...document.querySelectorAll("tr[data-event-type]")].every((r) =>
          r.getAttribute("data-event-type") === "scim_user_received"
        )
      );
      assert.equal(await page.locator("tr[data-event-type]").count(), 1);
      await h.shot("event-log");
      // A shared URL renders the same view without the island's help.
      const shared = await page.request.get(page.url());
      assert.match(await shared.text(), /data-event-type="scim_user_received"/);
      await page.goBack();
      await page.waitForURL((u) =>
        u.searchParams.get("idp") === idpId && !u.searchParams.has("type")
      );
      await page.waitForFunction(() =>
        [...document.querySelectorAll("tr[data-event-type]")].some((r) =>
          r.getAttribute("data-event-type") !== "scim_user_received"
        )
      );
      assert.equal(await page.getByLabel("Event type").inputValue(), "");

      // A slow answer to an older filter never replaces the table of the newer one.
      let releaseSlow = () => {};
      const slowAnswered = new Promise<void>((resolve) => {
        page.route(/\/admin\/api\/events(\?|$)/, async (route) => {
          if (new URL(route.request().url()).searchParams.has("type")) return route.continue();
          await new Promise<void>((r) => releaseSlow = r);
          await route.continue();
          resolve();
        });
      });
      await page.getByLabel("Identity provider").selectOption("");
      await page.getByLabel("Event type").selectOption("scim_user_received");
      await page.waitForFunction(() =>
        document.querySelectorAll("tr[data-event-type]").length > 0 &&
        [...document.querySelectorAll("tr[data-event-type]")].every((r) =>
          r.getAttribute("data-event-type") === "scim_user_received"
        )
      );
      releaseSlow();
      await slowAnswered;
      await page.waitForTimeout(300);
      const shown = await page.locator("tr[data-event-type]").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-event-type"))
      );
      assert.ok(shown.length > 0 && shown.every((t) => t === "scim_user_received"), shown.join());
      await page.unroute(/\/admin\/api\/events(\?|$)/);
    } catch (error) {
      // Say where the browser was: the error first, then the page's URL and the start of its
      // text, so a failure stays readable where CI logs are cut.
      const text = await page.locator("main").innerText().catch(() => "");
      throw new Error(`${error}\nat ${page.url()}\n${text.slice(0, 400)}`);
    } finally {
      await h.close();
    }
  },
});
