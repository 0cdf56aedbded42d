/**
 * Settings → Webhooks in the console: super admins only; create (secret shown once, a private
 * URL refused with a clear 400), edit, send a test event through the worker to a verifying
 * receiver, deliveries listed with the receiver's answer escaped, resend, rotate, disable,
 * enable, delete; every change an audit event.
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "./admin_helpers.ts";
import { listEvents } from "../lib/store/events.ts";
import { listEndpoints } from "../lib/store/webhooks.ts";
import { listDeliveries } from "../lib/store/webhook_deliveries.ts";
import { startWebhookWorker } from "../lib/webhooks/worker.ts";
import { createLogger } from "../lib/log.ts";
import { startReceiver, until } from "./_webhooks.ts";

const PAGE = "/admin/settings/webhooks";

Deno.test("console - webhooks: read-only admins are refused", async () => {
  await using t = await createAdminTestApp();
  const as = await t.signIn(t.readOnly);
  assert.equal((await t.admin(PAGE, { as })).status, 403);
  assert.equal((await t.admin(PAGE, { as, form: { url: "https://example.com/" } })).status, 403);
});

Deno.test("console - webhooks: a private URL is refused with a clear 400", async () => {
  await using t = await createAdminTestApp();
  const as = await t.signIn(t.superAdmin);
  const html = await expectHtml(
    await t.admin(PAGE, { as, form: { url: "https://169.254.169.254/latest", all: "yes" } }),
    400,
  );
  assert.match(html, /cloud metadata address/);
  const loop = await expectHtml(
    await t.admin(PAGE, { as, form: { url: "http://127.0.0.1:9/x" } }),
    400,
  );
  assert.match(loop, /must start with https/);
  assert.equal((await listEndpoints(t.kv, t.tenant.id)).length, 0);
});

Deno.test("console - webhooks: create, test, deliveries, resend, rotate, edit, disable, enable, delete", async () => {
  await using t = await createAdminTestApp({ WEFT_WEBHOOK_ALLOW_PRIVATE: "true" });
  const as = await t.signIn(t.superAdmin);
  const receiver = startReceiver((_r, n) => ({
    status: n === 0 ? 500 : 200,
    body: n === 0 ? "<script>alert(1)</script>" : "ok",
  }));
  const worker = startWebhookWorker(t.kv, {
    log: createLogger("off"),
    allowPrivate: true,
    timeoutMs: 2_000,
    pollMs: 20,
  });
  try {
    assert.match(await expectHtml(await t.admin(PAGE, { as })), /No endpoint yet/);
    const created = await expectHtml(
      await t.admin(PAGE, {
        as,
        form: { url: receiver.url, description: "My <app>", events: "user.created" },
      }),
      201,
    );
    const secret = /id="webhook-secret">(whsec_[^<]+)</.exec(created)?.[1];
    assert.ok(secret, "the secret is shown once");
    receiver.secrets = [secret];
    const [endpoint] = await listEndpoints(t.kv, t.tenant.id);
    assert.deepEqual(endpoint.events, ["user.created"]);
    const list = await expectHtml(await t.admin(PAGE, { as }));
    assert.match(list, /My &lt;app>/);
    assert.ok(!list.includes(secret), "the list never shows the secret");
    const detail = `${PAGE}/${endpoint.id}`;
    assert.ok(!(await expectHtml(await t.admin(detail, { as }))).includes(secret));

    // Send test event: through the worker to the receiver (a 500 first, then resend).
    expectRedirect(await t.admin(`${detail}/test`, { as, form: {} }));
    await receiver.waitFor(1);
    assert.deepEqual(receiver.received[0].verified, [true]);
    await until(async () =>
      (await listDeliveries(t.kv, t.tenant.id, endpoint.id)).deliveries[0]?.attemptCount === 1
    );
    const page = await expectHtml(await t.admin(detail, { as }));
    assert.match(page, /webhook\.test/);
    assert.match(page, /&lt;script>alert\(1\)&lt;\/script>/, "the answer is escaped");
    assert.ok(!page.includes("<script>alert(1)"));
    assert.match(page, /500/);
    const eventId = receiver.received[0].id;
    expectRedirect(
      await t.admin(`${detail}/deliveries/${eventId}/resend`, { as, form: {} }),
    );
    await receiver.waitFor(2);
    assert.equal(receiver.received[1].id, eventId);
    await until(async () =>
      (await listDeliveries(t.kv, t.tenant.id, endpoint.id)).deliveries[0]?.status === "succeeded"
    );

    // Rotate: confirmation without JavaScript, then the new secret once.
    assert.match(await expectHtml(await t.admin(`${detail}/rotate`, { as, form: {} })), /Confirm/);
    const rotated = await expectHtml(
      await t.admin(`${detail}/rotate`, { as, form: { confirmed: "yes" } }),
    );
    const next = /id="webhook-secret">(whsec_[^<]+)</.exec(rotated)?.[1];
    assert.ok(next && next !== secret);
    assert.match(rotated, /previous secret keeps signing/);

    // Edit: the SSRF guard again, then a change.
    const refused = await t.admin(`${detail}/edit`, {
      as,
      form: { url: "http://169.254.169.254/" },
    });
    assert.equal(refused.status, 400);
    expectRedirect(
      await t.admin(`${detail}/edit`, {
        as,
        form: { url: receiver.url, all: "yes", description: "app" },
      }),
    );
    assert.deepEqual((await listEndpoints(t.kv, t.tenant.id))[0].events, ["*"]);

    expectRedirect(await t.admin(`${detail}/enabled`, { as, form: { enabled: "off" } }));
    assert.match(await expectHtml(await t.admin(detail, { as })), /Disabled by an admin/);
    expectRedirect(await t.admin(`${detail}/enabled`, { as, form: { enabled: "on" } }));
    assert.equal((await listEndpoints(t.kv, t.tenant.id))[0].enabled, true);

    expectRedirect(await t.admin(`${detail}/delete`, { as, form: { confirmed: "yes" } }));
    assert.equal((await listEndpoints(t.kv, t.tenant.id)).length, 0);
    assert.equal((await listDeliveries(t.kv, t.tenant.id, endpoint.id)).deliveries.length, 0);
    assert.equal((await t.admin(detail, { as })).status, 404);

    const { events } = await listEvents(t.kv, t.tenant.id, { targetId: endpoint.id, limit: 50 });
    const types = new Set(events.map((e) => e.type));
    for (
      const type of [
        "webhook_endpoint_created",
        "webhook_test_sent",
        "webhook_delivery_resent",
        "webhook_secret_rotated",
        "webhook_endpoint_updated",
        "webhook_endpoint_disabled",
        "webhook_endpoint_enabled",
        "webhook_endpoint_deleted",
      ]
    ) assert.ok(types.has(type as never), type);
    assert.ok(!JSON.stringify(events).includes(secret.slice(6)));
    assert.ok(!JSON.stringify(events).includes(next.slice(6)));
  } finally {
    await worker.stop();
    await receiver.close();
  }
});
