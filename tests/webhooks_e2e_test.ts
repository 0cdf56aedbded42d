/**
 * Webhooks end to end with real SCIM writes and the feed's sequencer: every event of a
 * provisioning run arrives at a verifying loopback receiver (counted by id against the feed),
 * and a `deno serve` server killed with SIGKILL in the middle of a run, then restarted on the
 * same store, still delivers every committed event. Delivery lag figures are printed.
 */
import assert from "node:assert/strict";
import { createAdminTestApp } from "./admin_helpers.ts";
import { readFeed } from "../lib/store/feed.ts";
import { sequenceTenant } from "../lib/store/feed_sequencer.ts";
import { createEndpoint } from "../lib/store/webhooks.ts";
import { startWebhookWorker } from "../lib/webhooks/worker.ts";
import { createLogger } from "../lib/log.ts";
import { createGroup, createUsers, PATCH_OP, patchGroup } from "./_helpers.ts";
import { startReceiver, until } from "./_webhooks.ts";
import type { PublicEvent } from "../lib/directory/types.ts";
import {
  pool,
  provision,
  report,
  ScimClient,
  sleep,
  startServer,
  userBody,
  withTempDir,
} from "./reliability/_server.ts";
import { openTestKv } from "./_kv_connect.ts";

/** Every event of the tenant's feed. */
async function allFeedEvents(kv: Deno.Kv, tenantId: string): Promise<PublicEvent[]> {
  const out: PublicEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await readFeed(kv, tenantId, { after, limit: 500 });
    out.push(...page.events);
    if (!page.events.length || page.next === after) return out;
    after = page.next ?? undefined;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

Deno.test("webhooks e2e - every event of a provisioning run arrives, counted by id", async () => {
  await using t = await createAdminTestApp();
  const receiver = startReceiver();
  const { secret } = await createEndpoint(t.kv, t.tenant.id, {
    url: receiver.url,
    events: ["*"],
    description: "e2e",
  }, { actor: "test" });
  receiver.secrets = [secret];
  const worker = startWebhookWorker(t.kv, {
    log: createLogger("off"),
    allowPrivate: true,
    timeoutMs: 5_000,
    pollMs: 50,
  });
  try {
    const users = await createUsers(t, 60);
    const group = await createGroup(t, "Engineering");
    const add = await patchGroup(t, group, [{
      op: "add",
      path: "members",
      value: users.slice(0, 30).map((value) => ({ value })),
    }]);
    assert.ok(add.status < 300);
    const res = await t.scim("PATCH", `/Groups/${group}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "remove", path: `members[value eq "${users[0]}"]` }],
    });
    assert.ok(res.status < 300);
    await t.scim("PATCH", `/Users/${users[1]}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", value: { active: false } }],
    });
    await sequenceTenant(t.kv, t.tenant.id);
    const feed = await allFeedEvents(t.kv, t.tenant.id);
    assert.ok(feed.length >= 60 + 1 + 30 + 1 + 1, `feed has ${feed.length} events`);
    await until(() => receiver.delivered().size >= feed.length, 30_000, "every event delivered");
    assert.deepEqual([...receiver.delivered()].sort(), feed.map((e) => e.id).sort());
    assert.ok(receiver.received.every((r) => r.verified[0]), "every signature verifies");
    // The body is the event exactly as the feed shows it.
    const byId = new Map(receiver.received.map((r) => [r.id, r.body]));
    for (const e of feed) assert.deepEqual(JSON.parse(byId.get(e.id)!), e);
    const types = new Set(feed.map((e) => e.type));
    for (
      const type of [
        "user.created",
        "group.created",
        "group.user_added",
        "group.user_removed",
        "user.deactivated",
      ]
    ) {
      assert.ok(types.has(type as PublicEvent["type"]), type);
    }
    report(
      `webhooks e2e: ${feed.length} events delivered once each (${receiver.received.length} requests)`,
    );
  } finally {
    await worker.stop();
    await receiver.close();
  }
});

Deno.test("webhooks e2e - kill -9 of a server mid-run, then a restart: every committed event arrives", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/weft.kv`;
    const { tenant, idps } = await provision(kvPath, "acme");
    const receiver = startReceiver(() => ({ status: 200, delayMs: 2 }));
    const kv = await openTestKv(kvPath);
    try {
      const { secret } = await createEndpoint(kv, tenant.id, {
        url: receiver.url,
        events: ["*"],
        description: "e2e",
      }, { actor: "test" });
      receiver.secrets = [secret];
      const env = { WEFT_WEBHOOK_ALLOW_PRIVATE: "true", WEFT_REQUEST_LOG_DAYS: "0" };
      let server = await startServer({ kvPath, tenant: "acme", env });
      const started = Date.now();
      let client = new ScimClient([server.origin], idps[0].idp.id, idps[0].token, "kill");
      const created = new Set<string>();
      const run = (from: number, n: number) =>
        pool(n, 8, async (i) => {
          const r = await client.send("POST", "/Users", userBody("kill", from + i));
          if (r.status === 201) created.add(String(r.json.id));
        });
      // The kill lands while requests, sequencing and deliveries are all in flight.
      const first = run(0, 300);
      await until(() => created.size >= 80, 30_000, "80 users created");
      await server.kill("SIGKILL");
      await first;
      report(`webhooks e2e: killed after ${created.size} users created`);
      server = await startServer({ kvPath, tenant: "acme", env });
      client = new ScimClient([server.origin], idps[0].idp.id, idps[0].token, "kill2");
      await run(1000, 100);
      try {
        // Every user whose create was answered 201 is in the feed, and every feed event arrives.
        let feed: PublicEvent[] = [];
        await until(
          async () => {
            feed = await allFeedEvents(kv, tenant.id);
            return feed.filter((e) => e.type === "user.created").length >= created.size;
          },
          30_000,
          "the feed to hold every created user",
        );
        const createdInFeed = new Set(
          feed.filter((e) => e.type === "user.created").map((e) => (e.data as { id: string }).id),
        );
        for (const id of created) assert.ok(createdInFeed.has(id), `user.created of ${id}`);
        await until(
          () => feed.every((e) => receiver.delivered().has(e.id)),
          60_000,
          "every event delivered",
        );
        const lags = receiver.received.map((r) => r.at - started).sort((a, b) => a - b);
        const duplicates = receiver.received.length - receiver.delivered().size;
        assert.ok(receiver.received.every((r) => r.verified[0]));
        report(
          `webhooks e2e: after kill -9 + restart ${feed.length} feed events, all delivered; ` +
            `${duplicates} duplicate deliveries (at least once); last arrival ${
              lags.at(-1)
            } ms after the run began`,
        );
      } finally {
        await server.stop();
      }
    } finally {
      kv.close();
      await receiver.close();
    }
  });
});

Deno.test("webhooks e2e - delivery lag from commit to receiver while provisioning", async () => {
  await using t = await createAdminTestApp();
  const receiver = startReceiver();
  const { secret } = await createEndpoint(t.kv, t.tenant.id, {
    url: receiver.url,
    events: ["user.created"],
    description: "lag",
  }, { actor: "test" });
  receiver.secrets = [secret];
  const worker = startWebhookWorker(t.kv, {
    log: createLogger("off"),
    allowPrivate: true,
    timeoutMs: 5_000,
  });
  // The feed's own worker (as main.ts runs it) sequences in the background.
  const { startFeedWorker } = await import("../lib/store/feed_worker.ts");
  const feedWorker = startFeedWorker(t.kv, { log: createLogger("off") });
  try {
    const sentAt = new Map<string, number>();
    const n = 200;
    const began = performance.now();
    await pool(n, 8, async (i) => {
      const at = Date.now();
      const r = await t.scim("POST", "/Users", userBody("lag", i));
      assert.equal(r.status, 201);
      sentAt.set(String((await r.json()).id), at);
    });
    const scimMs = performance.now() - began;
    await until(() => receiver.delivered().size >= n, 60_000, "every user.created delivered");
    const lags = receiver.received.map((r) => {
      const id = (JSON.parse(r.body).data as { id: string }).id;
      return r.at - (sentAt.get(id) ?? r.at);
    }).sort((a, b) => a - b);
    report(
      `webhooks lag: ${n} creates in ${Math.round(scimMs)} ms (${
        Math.round(n / scimMs * 1000)
      }/s), ` +
        `commit→receiver p50 ${percentile(lags, 0.5)} ms, p99 ${percentile(lags, 0.99)} ms`,
    );
  } finally {
    await feedWorker.close();
    await worker.stop();
    await receiver.close();
  }
});

void sleep;
