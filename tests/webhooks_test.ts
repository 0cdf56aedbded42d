/**
 * Webhooks: the retry schedule, the SSRF guard's address classifier and URL check, signing
 * (verified with `standardwebhooks`), event type parsing, the store's endpoint changes and
 * their audit events, and the CLI's `webhook` commands in their own processes.
 */
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import {
  JITTER,
  nextAttemptAfterFailure,
  RETRY_DELAYS_MS,
  RETRY_WINDOW_MS,
  retryDelay,
} from "../lib/webhooks/schedule.ts";
import {
  checkWebhookUrl,
  classifyAddress,
  isMetadataAddress,
  WebhookUrlError,
} from "../lib/webhooks/ssrf.ts";
import { newWebhookSecret, signWebhook } from "../lib/webhooks/secrets.ts";
import { parseEventTypes } from "../lib/webhooks/events.ts";
import { webhookHeaders } from "../lib/webhooks/send.ts";
import { createTenant } from "../lib/store/tenants.ts";
import { listEvents } from "../lib/store/events.ts";
import { getEndpointRecord, listEndpoints } from "../lib/store/webhooks.ts";
import { createWebhookEndpoint, EndpointInputError } from "../lib/webhooks/endpoints.ts";
import { runCli, withTempDir } from "./reliability/_server.ts";
import { startReceiver } from "./_webhooks.ts";

Deno.test("retryDelay() follows 5 s, 1 min, 5 min, 30 min, 2 h, 6 h, then 12 h", () => {
  const minutes = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => retryDelay(n, 0) / 60_000);
  assert.deepEqual(minutes, [5 / 60, 1, 5, 30, 120, 360, 720, 720, 720]);
  assert.equal(RETRY_DELAYS_MS.length, 7);
});

Deno.test("retryDelay() adds at most 20% jitter", () => {
  for (let n = 1; n <= 8; n++) {
    const base = retryDelay(n, 0);
    const most = retryDelay(n, 0.999999);
    assert.ok(most >= base && most <= base * (1 + JITTER));
  }
});

Deno.test("nextAttemptAfterFailure() retries for at least 24 hours, then gives up", () => {
  const first = Date.UTC(2026, 0, 1);
  let now = first;
  let failed = 1;
  const times: number[] = [];
  for (;;) {
    const next = nextAttemptAfterFailure({ firstAttemptAt: first, failedAttempts: failed, now }, 0);
    if (next === null) break;
    times.push(next - first);
    now = next;
    failed++;
  }
  // Attempts at 0, 5 s, 65 s, ~6 min, ~36 min, ~2.6 h, ~8.6 h, ~20.6 h, ~32.6 h; then failed.
  assert.equal(failed, 9);
  assert.ok(now - first >= RETRY_WINDOW_MS, "the last attempt is past 24 hours");
  assert.ok(times.at(-2)! < RETRY_WINDOW_MS);
  assert.equal(
    nextAttemptAfterFailure({
      firstAttemptAt: first,
      failedAttempts: 3,
      now: first + RETRY_WINDOW_MS,
    }),
    null,
  );
});

Deno.test("classifyAddress() refuses every non-public range, IPv4-mapped forms included", () => {
  const refused = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.255",
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fd00:ec2::254",
    "fe80::1",
    "febf::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:192.168.0.1",
    "64:ff9b::10.0.0.1",
    "[::1]",
  ];
  for (const a of refused) assert.ok(classifyAddress(a), `${a} is refused`);
  const allowed = [
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
  ];
  for (const a of allowed) assert.equal(classifyAddress(a), null, `${a} is public`);
  assert.match(classifyAddress("169.254.169.254")!, /metadata/);
  assert.match(classifyAddress("::ffff:127.0.0.1")!, /loopback.*IPv4-mapped/);
  assert.ok(isMetadataAddress("169.254.169.254"));
  assert.ok(isMetadataAddress("fd00:ec2::254"));
  assert.ok(isMetadataAddress("::ffff:169.254.169.254"));
});

Deno.test("checkWebhookUrl() wants https and public addresses after DNS resolution", async () => {
  const resolve = (host: string) =>
    Promise.resolve(
      ({
        "good.example": ["93.184.216.34"],
        "evil.example": ["93.184.216.34", "10.0.0.5"],
      } as Record<
        string,
        string[]
      >)[host] ?? [],
    );
  const strict = { allowPrivate: false, resolve };
  assert.equal((await checkWebhookUrl("https://good.example/hook", strict)).host, "good.example");
  const refusals: [string, RegExp][] = [
    ["http://good.example/hook", /must start with https/],
    ["https://evil.example/hook", /resolves to 10\.0\.0\.5, a private address/],
    ["https://nowhere.example/", /does not resolve/],
    ["https://127.0.0.1/", /loopback/],
    ["https://[::ffff:127.0.0.1]/", /loopback/],
    ["https://localhost:8443/", /loopback/],
    ["https://169.254.169.254/latest/meta-data", /metadata/],
    ["https://user:pw@good.example/", /credentials/],
    ["not a url", /not a URL/],
    ["ftp://good.example/", /https/],
  ];
  for (const [url, why] of refusals) {
    await assert.rejects(checkWebhookUrl(url, strict), (e: Error) => {
      assert.ok(e instanceof WebhookUrlError);
      assert.match(e.message, why, url);
      return true;
    });
  }
  // Development: http and loopback allowed, metadata still refused.
  const dev = { allowPrivate: true, resolve };
  assert.ok(await checkWebhookUrl("http://127.0.0.1:8080/x", dev));
  await assert.rejects(checkWebhookUrl("http://169.254.169.254/", dev), /metadata/);
});

Deno.test("signWebhook() signs as standardwebhooks verifies, with two secrets during a rotation", async () => {
  const [a, b] = [newWebhookSecret(), newWebhookSecret()];
  assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(atob(a.slice(6)).length, 32);
  const body = JSON.stringify({ id: "evt_1", ü: "ñ" });
  const headers = await webhookHeaders({
    url: "",
    eventId: "evt_1",
    body,
    secrets: [a, b],
    timeoutMs: 1,
  });
  assert.deepEqual(new Webhook(a).verify(body, headers), JSON.parse(body));
  assert.deepEqual(new Webhook(b).verify(body, headers), JSON.parse(body));
  assert.throws(() => new Webhook(newWebhookSecret()).verify(body, headers));
  assert.throws(() => new Webhook(a).verify(body + " ", headers));
  const one = await signWebhook({ id: "x", timestamp: new Date(), body }, [a]);
  assert.equal(one.split(" ").length, 1);
});

Deno.test("parseEventTypes() takes * or known public types", () => {
  assert.deepEqual(parseEventTypes(undefined), ["*"]);
  assert.deepEqual(parseEventTypes("*"), ["*"]);
  assert.deepEqual(parseEventTypes("user.created, group.user_added,user.created"), [
    "user.created",
    "group.user_added",
  ]);
  assert.throws(() => parseEventTypes("user.created,user.exploded"), /"user.exploded"/);
});

Deno.test("createWebhookEndpoint() refuses private URLs and writes an audit event without the secret", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "acme" });
  await assert.rejects(
    createWebhookEndpoint(kv, tenant.id, { url: "https://192.168.0.10/x" }, { actor: "t" }, {
      allowPrivate: false,
    }),
    EndpointInputError,
  );
  assert.equal((await listEndpoints(kv, tenant.id)).length, 0);
  const { endpoint, secret } = await createWebhookEndpoint(
    kv,
    tenant.id,
    { url: "https://93.184.216.34/hook", events: "user.created", description: "app" },
    { actor: "admin:a@example.com" },
    { allowPrivate: false },
  );
  assert.equal("secret" in endpoint, false);
  assert.equal((await getEndpointRecord(kv, tenant.id, endpoint.id))?.secret, secret);
  const { events } = await listEvents(kv, tenant.id, { type: "webhook_endpoint_created" });
  assert.equal(events.length, 1);
  assert.equal(events[0].target?.id, endpoint.id);
  assert.ok(!JSON.stringify(events).includes(secret.slice(6)), "no secret in events");
});

Deno.test("CLI - webhook create, list, test, deliveries, rotate, disable, enable, delete", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/w.kv`;
    const env = { WEFT_WEBHOOK_ALLOW_PRIVATE: "true" };
    const receiver = startReceiver();
    try {
      assert.equal((await runCli(kvPath, ["tenant", "create", "acme"])).code, 0);
      const refused = await runCli(kvPath, [
        "webhook",
        "create",
        "--tenant",
        "acme",
        "--url",
        receiver.url,
      ]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /must start with https/);
      const created = await runCli(kvPath, [
        "webhook",
        "create",
        "--tenant",
        "acme",
        "--url",
        receiver.url,
        "--events",
        "user.created,group.created",
        "--description",
        "my app",
      ], env);
      assert.equal(created.code, 0, created.stderr);
      const id = /Created webhook endpoint (ep_\w+)/.exec(created.stdout)?.[1];
      const secret = /secret: (whsec_\S+)/.exec(created.stdout)?.[1];
      assert.ok(id && secret, created.stdout);
      receiver.secrets = [secret];
      const list = await runCli(kvPath, ["webhook", "list", "--tenant", "acme"]);
      assert.match(list.stdout, new RegExp(`${id}\tenabled\tuser.created,group.created\t`));
      assert.ok(!list.stdout.includes(secret), "list never shows the secret");
      const test = await runCli(
        kvPath,
        ["webhook", "test", "--tenant", "acme", "--endpoint", id],
        env,
      );
      assert.match(
        test.stdout,
        /Sent test event evt_test_\w+: delivered \(204/,
        test.stdout + test.stderr,
      );
      assert.deepEqual(receiver.received[0].verified, [true]);
      const deliveries = await runCli(kvPath, [
        "webhook",
        "deliveries",
        "--tenant",
        "acme",
        "--endpoint",
        id,
      ]);
      assert.match(
        deliveries.stdout,
        /evt_test_\w+\twebhook\.test\tsucceeded\tattempts=1\tlast=204 /,
      );
      const rotated = await runCli(kvPath, [
        "webhook",
        "rotate",
        "--tenant",
        "acme",
        "--endpoint",
        id,
      ]);
      const next = /secret: (whsec_\S+)/.exec(rotated.stdout)?.[1];
      assert.ok(next && next !== secret);
      assert.match(rotated.stdout, /previous secret also signs until/);
      receiver.secrets = [secret, next];
      await runCli(kvPath, ["webhook", "test", "--tenant", "acme", "--endpoint", id], env);
      assert.deepEqual(receiver.received[1].verified, [true, true]);
      const disabled = await runCli(kvPath, [
        "webhook",
        "disable",
        "--tenant",
        "acme",
        "--endpoint",
        id,
      ]);
      assert.match(disabled.stdout, /disabled/);
      assert.match(
        (await runCli(kvPath, ["webhook", "list", "--tenant", "acme"])).stdout,
        /disabled \(Disabled by an admin\)/,
      );
      assert.match(
        (await runCli(kvPath, ["webhook", "enable", "--tenant", "acme", "--endpoint", id])).stdout,
        /enabled/,
      );
      assert.equal(
        (await runCli(kvPath, ["webhook", "delete", "--tenant", "acme", "--endpoint", id])).code,
        0,
      );
      assert.match(
        (await runCli(kvPath, ["webhook", "list", "--tenant", "acme"])).stdout,
        /No webhook endpoints/,
      );
      const gone = await runCli(kvPath, [
        "webhook",
        "disable",
        "--tenant",
        "acme",
        "--endpoint",
        id,
      ]);
      assert.equal(gone.code, 2);
      assert.match(gone.stderr, /No webhook endpoint/);
    } finally {
      await receiver.close();
    }
  });
});
