/**
 * The directory console in a real browser: a user and a group pushed over SCIM, a role created
 * and the group mapped to it on Settings → Roles; an API key minted in its modal (focus on Copy,
 * the key shown once) and `GET /api/v1/users` with it returning the user with the role; a webhook
 * endpoint on a loopback receiver (the server runs with `WEFT_WEBHOOK_ALLOW_PRIVATE=true`)
 * subscribed to `*`, a test event sent and received with a signature that verifies with the
 * `standardwebhooks` package, and its delivery listed; the IdP's SCIM DELETE setting saved; the
 * API reference opened. No page has a script or console error. Screenshots along the way.
 * @module
 */
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { chromiumAvailable, startHarness } from "./_server.ts";

const EMAIL = "ada@example.com";
const PASSWORD = "correct horse battery staple";

interface Received {
  body: string;
  headers: Record<string, string>;
}

Deno.test({
  name: "Directory console - roles, API key, webhook and API reference in Chromium",
  // Skipped only off CI on a machine without Chromium; CI installs it, and fails without it.
  ignore: !chromiumAvailable() && !Deno.env.get("CI"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The loopback receiver: every request it gets, kept for the test to verify.
    const received: Received[] = [];
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      received.push({ body: await req.text(), headers: Object.fromEntries(req.headers) });
      return new Response("thanks <b>weft</b>", { status: 200 });
    });
    const hookUrl = `http://127.0.0.1:${receiver.addr.port}/hooks/weft`;
    const h = await startHarness({ env: { WEFT_WEBHOOK_ALLOW_PRIVATE: "true" } });
    const { page, origin } = h;
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${page.url()}: console: ${m.text()}`);
    });
    try {
      await h.createFirstAdmin(EMAIL, PASSWORD);

      // A user and a group over SCIM.
      const scim = await h.scimClient("okta");
      const user = await scim.send("POST", "Users", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName: "katherine.johnson@example.com",
        externalId: "00u1katherine",
        name: { givenName: "Katherine", familyName: "Johnson" },
        emails: [{ value: "katherine.johnson@example.com", type: "work", primary: true }],
        active: true,
      });
      assert.equal(user.status, 201);
      const userId = (user.json as { id: string }).id;
      const group = await scim.send("POST", "Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: "Flight Research",
        members: [{ value: userId }],
      });
      assert.equal(group.status, 201);

      // Settings → Roles: create a role, map the group to it.
      await page.goto(`${origin}/admin`);
      await page.getByRole("link", { name: "Roles", exact: true }).click();
      await page.waitForURL(`${origin}/admin/settings/roles`);
      await page.getByLabel("Slug").fill("flight-research");
      await page.getByLabel("Name", { exact: true }).fill("Flight research");
      await page.getByLabel("Description (optional)").fill("Reads the trajectory <data> & more");
      await page.getByRole("button", { name: "Create role" }).click();
      await page.waitForURL(/done=created/);
      const roleRow = page.locator("#roles tr", { hasText: "flight-research" });
      // The description is text, not markup.
      await roleRow.getByText("Reads the trajectory <data> & more").waitFor();
      const choice = roleRow.getByLabel("Group to map to Flight research");
      assert.match((await choice.locator("option").first().textContent())!, /^Flight Research \(/);
      await choice.selectOption({ index: 0 });
      await roleRow.getByRole("button", { name: "Map group" }).click();
      await page.waitForURL(/done=mapped/);
      await page.locator("#roles tr", { hasText: "flight-research" }).getByText("Flight Research")
        .first().waitFor();
      await page.locator("#roles").getByRole("button", { name: "Unmap" }).waitFor();
      await h.shot("roles");

      // API keys: mint one in the modal; the focus is on Copy, the key is shown once.
      await page.getByRole("link", { name: "API keys", exact: true }).click();
      await page.waitForURL(`${origin}/admin/settings/api-keys`);
      await page.getByRole("button", { name: "Create API key" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.waitFor();
      await dialog.getByLabel("Key name").fill("hr-portal");
      await dialog.getByRole("button", { name: "Create API key" }).click();
      const secretBox = dialog.locator("#new-token-secret");
      await secretBox.waitFor();
      const key = (await secretBox.textContent())!;
      assert.match(key, /^weft_\w+_\S+$/);
      await dialog.getByText("cannot be shown again").first().waitFor();
      // It speaks of a key, not of a SCIM token.
      await dialog.getByText("Copy this key now.").waitFor();
      await page.waitForFunction(() =>
        document.activeElement?.getAttribute("aria-label") === "Copy directory API key"
      );
      await h.shot("api-key-modal", { fullPage: false });
      await dialog.getByRole("button", { name: "Done" }).click();
      await dialog.getByText("Have you copied the key?").waitFor();
      await dialog.getByRole("button", { name: "Yes, close" }).click();
      const keyRow = page.locator("#api-keys tr", { hasText: "hr-portal" });
      await keyRow.waitFor();
      // Shown once: the list has its prefix only.
      assert.ok(!(await page.content()).includes(key));

      // The directory API with the key: the user has the role.
      const res = await fetch(`${origin}/api/v1/users`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.status, 200);
      const list = await res.json() as {
        data: { user_name: string; roles: { slug: string; name: string }[] }[];
      };
      const katherine = list.data.find((u) => u.user_name === "katherine.johnson@example.com");
      assert.ok(katherine, `no user in ${JSON.stringify(list)}`);
      assert.deepEqual(katherine.roles.map((r) => r.slug), ["flight-research"]);
      await page.reload();
      await keyRow.getByText("Never").first().waitFor();

      // Webhooks: an endpoint on the loopback receiver, subscribed to every event.
      await page.getByRole("link", { name: "Webhooks", exact: true }).click();
      await page.waitForURL(`${origin}/admin/settings/webhooks`);
      // The hint says what this server allows.
      await page.getByText("http and private addresses are allowed on this server").waitFor();
      await page.getByLabel("Endpoint URL").fill(hookUrl);
      await page.getByLabel("Description").fill("Loopback receiver");
      assert.ok(await page.getByLabel("Every event").isChecked());
      await page.getByRole("button", { name: "Add endpoint" }).click();
      const secret = (await page.locator("#webhook-secret").textContent())!;
      assert.match(secret, /^whsec_/);
      await page.getByRole("link", { name: "Go to the endpoint" }).click();
      await page.waitForURL(/\/admin\/settings\/webhooks\/[^/?]+$/);
      const endpointPath = new URL(page.url()).pathname;
      await page.getByRole("button", { name: "Send test event" }).click();
      await page.waitForURL(/done=test/);
      // The receiver gets it, signed with the secret shown once.
      const deadline = Date.now() + 30_000;
      let test: Received | undefined;
      while (!test) {
        test = received.find((r) => r.body.includes("webhook.test"));
        if (test) break;
        if (Date.now() > deadline) {
          throw new Error(`No test event received: ${JSON.stringify(received)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const payload = new Webhook(secret).verify(test.body, test.headers) as { type: string };
      assert.equal(payload.type, "webhook.test");
      // A forged body does not verify.
      assert.throws(() => new Webhook(secret).verify(test.body + " ", test.headers));
      // The delivery on the endpoint's page, succeeded.
      await page.goto(`${origin}${endpointPath}`);
      const deliveryRow = page.locator("#deliveries tr", { hasText: "webhook.test" });
      const until = Date.now() + 30_000;
      while (!(await deliveryRow.getByText("Succeeded").count())) {
        if (Date.now() > until) throw new Error("The delivery never showed as succeeded");
        await new Promise((r) => setTimeout(r, 250));
        await page.reload();
      }
      // The receiver's answer is shown as text.
      await deliveryRow.getByText("thanks <b>weft</b>").waitFor();
      await h.shot("webhook-deliveries");
      await page.goto(`${origin}/admin/settings/webhooks`);
      await page.locator("#endpoints").getByRole("link", { name: "Loopback receiver" }).waitFor();
      await h.shot("webhooks");

      // The IdP's SCIM DELETE setting is saved.
      await page.goto(`${origin}/admin/idps/${scim.idpId}/edit`);
      const deprovisioning = page.getByLabel("When the IdP deletes a user (SCIM DELETE)");
      assert.equal(await deprovisioning.inputValue(), "unlink");
      await deprovisioning.selectOption("delete");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.waitForURL((u) => !u.pathname.endsWith("/edit"));
      await page.goto(`${origin}/admin/idps/${scim.idpId}/edit`);
      assert.equal(await deprovisioning.inputValue(), "delete");

      // The API reference.
      await page.goto(`${origin}/admin`);
      await page.getByRole("link", { name: "API reference", exact: true }).click();
      await page.waitForURL(`${origin}/admin/api-reference`);
      await page.getByText(`${origin}/api/v1`).first().waitFor();
      await page.getByText("/users").first().waitFor();
      await h.shot("api-reference", { fullPage: false });

      assert.deepEqual(errors, []);
    } catch (error) {
      // Say where the browser was: the page's URL and text make a failure readable in CI logs.
      const text = await page.locator("main").innerText().catch(() => "");
      throw new Error(`${error}\nat ${page.url()}\n${text.slice(0, 1500)}\n${errors.join("\n")}`);
    } finally {
      await h.close();
      await receiver.shutdown();
    }
  },
});
