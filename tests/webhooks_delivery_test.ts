/**
 * Webhook delivery end to end through the outbox seam: deliveries committed as the sequencer
 * commits them, the worker sending to a real receiver on loopback that verifies every signature
 * with `standardwebhooks`, retries (500s, timeouts, redirects), resend, rotation, disable and
 * enable, the 5-day auto-disable, the 24-hour retry window, the SSRF guard before an attempt, and
 * two workers on one store.
 */
import assert from "node:assert/strict";
import { createTenant } from "../lib/store/tenants.ts";
import { createLogger } from "../lib/log.ts";
import { keys } from "../lib/store/keys.ts";
import {
  createEndpoint,
  getEndpoint,
  rotateSecret,
  setEndpointEnabled,
  type WebhookEndpoint,
} from "../lib/store/webhooks.ts";
import {
  type Delivery,
  getDelivery,
  listDeliveries,
  resendDelivery,
} from "../lib/store/webhook_deliveries.ts";
import { startWebhookWorker, type WorkerOptions } from "../lib/webhooks/worker.ts";
import { USER_AGENT } from "../lib/webhooks/send.ts";
import { sendTestEvent } from "../lib/webhooks/endpoints.ts";
import { publicEvent, type Receiver, sequence, startReceiver, until } from "./_webhooks.ts";

const ADMIN = { actor: "admin:test@example.com" };

interface Setup {
  kv: Deno.Kv;
  tenantId: string;
  endpointId: string;
  secret: string;
  receiver: Receiver;
  clock: { offset: number };
  worker(extra?: Partial<WorkerOptions>): ReturnType<typeof startWebhookWorker>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function setup(events: string[] = ["*"], receiver = startReceiver()): Promise<Setup> {
  const kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const { endpoint, secret } = await createEndpoint(kv, tenant.id, {
    url: receiver.url,
    events,
    description: "test receiver",
  }, ADMIN);
  receiver.secrets = [secret];
  const clock = { offset: 0 };
  const workers: ReturnType<typeof startWebhookWorker>[] = [];
  return {
    kv,
    tenantId: tenant.id,
    endpointId: endpoint.id,
    secret,
    receiver,
    clock,
    worker(extra = {}) {
      const w = startWebhookWorker(kv, {
        log: createLogger("off"),
        allowPrivate: true,
        timeoutMs: 2_000,
        pollMs: 20,
        now: () => Date.now() + clock.offset,
        random: () => 0,
        ...extra,
      });
      workers.push(w);
      return w;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(workers.map((w) => w.stop()));
      await receiver.close();
      kv.close();
    },
  };
}

async function delivery(s: Setup, eventId: string): Promise<Delivery> {
  // A feed event's delivery record is written by its first claim: wait for it.
  let d: Delivery | null = null;
  await until(async () => !!(d = await getDelivery(s.kv, s.tenantId, s.endpointId, eventId)));
  return d!;
}

/** Moves the schedule's clock past the delivery's next attempt. */
async function skipToNextAttempt(s: Setup, eventId: string): Promise<void> {
  const d = await delivery(s, eventId);
  assert.ok(d.nextAttemptAt !== null);
  s.clock.offset = d.nextAttemptAt - Date.now() + 1 + s.clock.offset * 0;
}

Deno.test("webhooks - an event arrives signed, with the Standard Webhooks headers and the event as its body", async () => {
  await using s = await setup();
  const event = publicEvent("user.created");
  assert.equal(await sequence(s.kv, s.tenantId, [event]), 1);
  s.worker();
  await s.receiver.waitFor(1);
  const got = s.receiver.received[0];
  assert.equal(got.id, event.id);
  assert.deepEqual(got.verified, [true]);
  assert.match(got.signature, /^v1,[A-Za-z0-9+/]+=*$/);
  assert.equal(got.contentType, "application/json");
  assert.equal(got.userAgent, USER_AGENT);
  assert.match(USER_AGENT, /^Weft-Webhooks\/\d+\.\d+\.\d+$/);
  assert.ok(Math.abs(Number(got.timestamp) - Date.now() / 1000) < 5);
  assert.deepEqual(JSON.parse(got.body), event);
  await until(async () => (await delivery(s, event.id)).status === "succeeded");
  const d = await delivery(s, event.id);
  assert.equal(d.attemptCount, 1);
  assert.equal(d.attempts[0].statusCode, 204);
  assert.equal(d.nextAttemptAt, null);
  assert.ok(d.attempts[0].latencyMs >= 0);
});

Deno.test("webhooks - only subscribed types are delivered; a disabled endpoint gets no deliveries", async () => {
  await using s = await setup(["group.created"]);
  assert.equal(await sequence(s.kv, s.tenantId, [publicEvent("user.created")]), 0);
  const wanted = publicEvent("group.created");
  assert.equal(await sequence(s.kv, s.tenantId, [wanted]), 1);
  await setEndpointEnabled(s.kv, s.tenantId, s.endpointId, false, ADMIN);
  assert.equal(await sequence(s.kv, s.tenantId, [publicEvent("group.created")]), 0);
  // The delivery committed before the disable is not sent: failed, resendable.
  s.worker();
  await until(async () => (await delivery(s, wanted.id)).status === "failed");
  assert.equal(s.receiver.received.length, 0);
  assert.match((await delivery(s, wanted.id)).attempts[0].error ?? "", /endpoint is disabled/);
  // Enabled again: new events flow, and the failed one can be resent.
  await setEndpointEnabled(s.kv, s.tenantId, s.endpointId, true, ADMIN);
  const later = publicEvent("group.created");
  await sequence(s.kv, s.tenantId, [later]);
  await resendDelivery(s.kv, s.tenantId, s.endpointId, wanted.id, ADMIN);
  await s.receiver.waitFor(2);
  assert.deepEqual(new Set(s.receiver.received.map((r) => r.id)), new Set([wanted.id, later.id]));
});

Deno.test("webhooks - while the instance is busy, deliveries yield: one batch per pause, and every event still arrives", async () => {
  await using s = await setup();
  const events = Array.from({ length: 12 }, () => publicEvent("user.created"));
  assert.equal(await sequence(s.kv, s.tenantId, events), 12);
  let busy = true;
  s.worker({ perEndpoint: 4, busy: () => busy, busyPauseMs: 400 });
  await s.receiver.waitFor(4);
  await new Promise((r) => setTimeout(r, 200));
  // Within the pause no second batch was claimed.
  assert.equal(s.receiver.received.length, 4);
  await s.receiver.waitFor(8, 5_000);
  assert.ok(s.receiver.received.length < 12);
  // Idle again: the rest go without waiting for more pauses.
  busy = false;
  await s.receiver.waitFor(12, 1_000);
  assert.deepEqual(s.receiver.delivered(), new Set(events.map((e) => e.id)));
});

Deno.test("webhooks - 500s are retried on the schedule until a 2xx, with the same id and body", async () => {
  await using s = await setup(
    ["*"],
    startReceiver((_r, n) => ({ status: n < 2 ? 500 : 200, body: n < 2 ? "<oops>" : "ok" })),
  );
  const event = publicEvent("user.updated");
  await sequence(s.kv, s.tenantId, [event]);
  s.worker();
  await s.receiver.waitFor(1);
  await until(async () => (await delivery(s, event.id)).attemptCount === 1);
  let d = await delivery(s, event.id);
  assert.equal(d.status, "pending");
  assert.equal(d.attempts[0].statusCode, 500);
  assert.equal(d.attempts[0].responseBody, "<oops>");
  // The first retry is 5 s after the first attempt (jitter fixed at 0).
  const first = Date.parse(d.attempts[0].at);
  assert.ok(Math.abs((d.nextAttemptAt ?? 0) - first - 5_000) < 1_000, "5 s backoff");
  assert.equal(s.receiver.received.length, 1, "nothing before the retry is due");
  await skipToNextAttempt(s, event.id);
  await s.receiver.waitFor(2);
  await until(async () => (await delivery(s, event.id)).attemptCount === 2);
  d = await delivery(s, event.id);
  assert.ok(
    (d.nextAttemptAt ?? 0) - Date.parse(d.attempts[1].at) - s.clock.offset > 55_000,
    "1 min",
  );
  await skipToNextAttempt(s, event.id);
  await until(async () => (await delivery(s, event.id)).status === "succeeded");
  const ids = new Set(s.receiver.received.map((r) => r.id));
  assert.deepEqual([...ids], [event.id]);
  assert.equal(new Set(s.receiver.received.map((r) => r.body)).size, 1);
  assert.ok(s.receiver.received.every((r) => r.verified[0]));
});

Deno.test("webhooks - a timeout, a refused connection and a redirect are failures; redirects are not followed", async () => {
  let followed = false;
  await using s = await setup(
    ["*"],
    startReceiver((r, n) => {
      if (r.id === "redirected") followed = true;
      return n === 0
        ? { status: 200, delayMs: 1_500 }
        : n === 1
        ? { status: 302 }
        : { status: 200 };
    }),
  );
  const event = publicEvent();
  await sequence(s.kv, s.tenantId, [event]);
  s.worker({ timeoutMs: 300 });
  await until(async () => (await delivery(s, event.id)).attemptCount === 1);
  let d = await delivery(s, event.id);
  assert.equal(d.status, "pending");
  assert.match(d.attempts[0].error ?? "", /Timed out after 300 ms/);
  await skipToNextAttempt(s, event.id);
  await until(async () => (await delivery(s, event.id)).attemptCount === 2);
  d = await delivery(s, event.id);
  assert.equal(d.attempts[1].statusCode, 302);
  assert.match(d.attempts[1].error ?? "", /Redirect \(302\) not followed/);
  assert.equal(followed, false);
  // A refused connection: the endpoint's port closed.
  await s.receiver.close();
  await skipToNextAttempt(s, event.id);
  await until(async () => (await delivery(s, event.id)).attemptCount === 3);
  d = await delivery(s, event.id);
  assert.equal(d.attempts[2].statusCode, undefined);
  assert.match(d.attempts[2].error ?? "", /refused|connect/i);
  assert.equal(d.status, "pending");
  s.receiver.close = () => Promise.resolve();
});

Deno.test("webhooks - after 24 hours of failures a delivery is failed, and stays resendable", async () => {
  await using s = await setup(["*"], startReceiver((_r, n) => ({ status: n < 2 ? 503 : 200 })));
  const event = publicEvent();
  await sequence(s.kv, s.tenantId, [event]);
  s.worker();
  await until(async () => (await delivery(s, event.id)).attemptCount === 1);
  // The first attempt was 25 hours ago (set in the store rather than waited for).
  const key = keys.webhookDelivery(s.tenantId, s.endpointId, event.id);
  const d0 = await delivery(s, event.id);
  await s.kv.set(key, {
    ...d0,
    firstAttemptAt: new Date(Date.now() - 25 * 3600_000).toISOString(),
  });
  await skipToNextAttempt(s, event.id);
  await until(async () => (await delivery(s, event.id)).status === "failed");
  const failed = await delivery(s, event.id);
  assert.equal(failed.nextAttemptAt, null);
  assert.equal(failed.attemptCount, 2);
  assert.equal((await s.kv.list({ prefix: keys.webhookDueAll(s.tenantId) }).next()).done, true);
  // Resend: a new window, the same id and body.
  s.clock.offset = 0;
  await resendDelivery(s.kv, s.tenantId, s.endpointId, event.id, ADMIN);
  await until(async () => (await delivery(s, event.id)).status === "succeeded");
  assert.equal(s.receiver.received.length, 3);
  assert.equal(new Set(s.receiver.received.map((r) => r.id)).size, 1);
  assert.equal(new Set(s.receiver.received.map((r) => r.body)).size, 1);
});

Deno.test("webhooks - an endpoint failing for 5 days is disabled with a reason the admin sees", async () => {
  await using s = await setup(["*"], startReceiver(() => ({ status: 500 })));
  const key = keys.webhookEndpoint(s.tenantId, s.endpointId);
  const e = (await s.kv.get<WebhookEndpoint>(key)).value!;
  await s.kv.set(key, {
    ...e,
    failingSince: new Date(Date.now() - 5 * 86_400_000 - 60_000).toISOString(),
  });
  const event = publicEvent();
  await sequence(s.kv, s.tenantId, [event]);
  s.worker();
  await until(async () => (await getEndpoint(s.kv, s.tenantId, s.endpointId))?.enabled === false);
  const after = await getEndpoint(s.kv, s.tenantId, s.endpointId);
  assert.match(
    after?.disabledReason ?? "",
    /Every delivery failed for 5 days \(since .*\); the last: The endpoint answered 500/,
  );
  // New events are not queued for it.
  assert.equal(await sequence(s.kv, s.tenantId, [publicEvent()]), 0);
});

Deno.test("webhooks - a success ends a run of failures before 5 days", async () => {
  await using s = await setup(["*"], startReceiver((_r, n) => ({ status: n === 0 ? 500 : 200 })));
  const event = publicEvent();
  await sequence(s.kv, s.tenantId, [event]);
  s.worker();
  await until(async () => !!(await getEndpoint(s.kv, s.tenantId, s.endpointId))?.failingSince);
  await skipToNextAttempt(s, event.id);
  await until(async () => (await delivery(s, event.id)).status === "succeeded");
  await until(async () => !(await getEndpoint(s.kv, s.tenantId, s.endpointId))?.failingSince);
});

Deno.test("webhooks - during a rotation both secrets sign; after 24 hours only the new one", async () => {
  await using s = await setup();
  const old = s.secret;
  const { secret } = await rotateSecret(s.kv, s.tenantId, s.endpointId, ADMIN);
  s.receiver.secrets = [old, secret];
  const first = publicEvent();
  await sequence(s.kv, s.tenantId, [first]);
  s.worker();
  await s.receiver.waitFor(1);
  assert.deepEqual(s.receiver.received[0].verified, [true, true]);
  assert.equal(s.receiver.received[0].signature.split(" ").length, 2);
  // 24 hours later (the overlap's end, set in the store).
  const key = keys.webhookEndpoint(s.tenantId, s.endpointId);
  const e = (await s.kv.get<WebhookEndpoint>(key)).value!;
  await s.kv.set(key, { ...e, previousUntil: new Date(Date.now() - 1).toISOString() });
  await sequence(s.kv, s.tenantId, [publicEvent()]);
  await s.receiver.waitFor(2);
  assert.deepEqual(s.receiver.received[1].verified, [false, true]);
  assert.equal(s.receiver.received[1].signature.split(" ").length, 1);
});

Deno.test("webhooks - the SSRF guard runs before every attempt", async () => {
  await using s = await setup();
  const event = publicEvent();
  await sequence(s.kv, s.tenantId, [event]);
  s.worker({ allowPrivate: false });
  await until(async () => (await delivery(s, event.id)).attemptCount === 1);
  const d = await delivery(s, event.id);
  assert.match(d.attempts[0].error ?? "", /must start with https/);
  assert.equal(s.receiver.received.length, 0);
});

Deno.test("webhooks - a test event goes through the same path, not the feed", async () => {
  await using s = await setup(["group.deleted"]);
  const id = await sendTestEvent(s.kv, s.tenantId, s.endpointId, ADMIN);
  s.worker();
  await s.receiver.waitFor(1);
  const got = s.receiver.received[0];
  assert.equal(got.id, id);
  assert.match(id, /^evt_test_/);
  assert.equal(JSON.parse(got.body).type, "webhook.test");
  assert.deepEqual(got.verified, [true]);
  const { deliveries } = await listDeliveries(s.kv, s.tenantId, s.endpointId);
  assert.equal(deliveries[0].eventType, "webhook.test");
});

Deno.test("webhooks - two workers on one store deliver each event once", async () => {
  await using s = await setup(["*"], startReceiver(() => ({ status: 200, delayMs: 5 })));
  const events = Array.from({ length: 120 }, () => publicEvent());
  for (let i = 0; i < events.length; i += 40) {
    await sequence(s.kv, s.tenantId, events.slice(i, i + 40));
  }
  s.worker({ holder: "a", concurrency: 8, perEndpoint: 4 });
  s.worker({ holder: "b", concurrency: 8, perEndpoint: 4 });
  await s.receiver.waitFor(120, 30_000);
  await until(async () => {
    const { deliveries } = await listDeliveries(s.kv, s.tenantId, s.endpointId, { limit: 200 });
    return deliveries.every((d) => d.status === "succeeded");
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(s.receiver.received.length, 120, "no double delivery");
  assert.equal(s.receiver.delivered().size, 120);
  assert.ok(s.receiver.received.every((r) => r.verified[0]));
});

Deno.test("webhooks - a dead endpoint does not hold up another", async () => {
  const slow = startReceiver(() => ({ status: 200, delayMs: 3_000 }));
  await using s = await setup(["*"], slow);
  await using fast = await setupSecond(s);
  const events = Array.from({ length: 20 }, () => publicEvent());
  await sequence(s.kv, s.tenantId, events);
  const started = Date.now();
  s.worker({ timeoutMs: 1_000, concurrency: 8, perEndpoint: 2 });
  await fast.receiver.waitFor(20, 10_000);
  const lag = Date.now() - started;
  assert.ok(lag < 1_500, `the healthy endpoint got all 20 within ${lag} ms`);
});

/** A second endpoint on the same tenant, with its own receiver. */
async function setupSecond(s: Setup) {
  const receiver = startReceiver();
  const { secret } = await createEndpoint(s.kv, s.tenantId, {
    url: receiver.url,
    events: ["*"],
    description: "fast",
  }, ADMIN);
  receiver.secrets = [secret];
  return { receiver, [Symbol.asyncDispose]: () => receiver.close() };
}
