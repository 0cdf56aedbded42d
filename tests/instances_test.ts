/**
 * Instances on one store, as an operator runs them: a point-in-time backup taken while two
 * servers take writes (both hold them, none is lost or refused, the copy passes the invariants),
 * graceful shutdown on SIGTERM (in-flight requests finish, no acknowledged write is lost, the
 * grace period bounds the wait), and migrations run once when several instances start together.
 * @module
 */
import assert from "node:assert/strict";
import {
  checkInvariants,
  join,
  provision,
  runCli,
  ScimClient,
  sleep,
  startServer,
  userBody,
  withKv,
  withServers,
  withTempDir,
} from "./reliability/_server.ts";
import { keys } from "../lib/store/keys.ts";
import { SCHEMA_VERSION } from "../lib/store/migrations.ts";
import { releasePause, requestPause } from "../lib/store/write_pause.ts";

const sanitizers = { sanitizeResources: false, sanitizeOps: false };

const weft = runCli;

/** One write of a load: what was sent, when it was answered, and how. */
interface Write {
  i: number;
  status: number | "error";
  id?: string;
  sentAt: number;
  answeredAt: number;
}

/** POSTs users from `workers` clients until `stop()` says so. */
function writeLoad(clients: ScimClient[], workers: number, stop: () => boolean, tag: string) {
  const writes: Write[] = [];
  let n = 0;
  const done = Promise.all(Array.from({ length: workers }, async (_, w) => {
    const c = clients[w % clients.length];
    while (!stop()) {
      const i = n++;
      const sentAt = Date.now();
      const r = await c.send("POST", "/Users", userBody(tag, i));
      c.log.length = 0;
      writes.push({
        i,
        status: r.status,
        id: r.status === 201 ? String(r.json.id) : undefined,
        sentAt,
        answeredAt: Date.now(),
      });
      if (r.status === "error") await sleep(20);
    }
  }));
  return { writes, done };
}

Deno.test({
  name: "backup --point-in-time: two instances hold their writes while it reads; none is " +
    "refused or lost, and the copy passes the invariants",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const b = join(dir, "b.kv");
      const file = join(dir, "pit.weftbak");
      const p = await provision(a, "pit");
      const { idp, token } = p.idps[0];
      const spec = { kvPath: a, tenant: "pit", logLevel: "warn" as const };
      await withServers([spec, spec], async (servers) => {
        const clients = servers.map((s, k) => new ScimClient([s.origin], idp.id, token, `l${k}`));
        let stopping = false;
        const load = writeLoad(clients, 6, () => stopping, "pit");
        await sleep(1_500);
        const started = Date.now();
        const backup = await weft(a, ["backup", "--point-in-time", "--out", file]);
        const ended = Date.now();
        await sleep(500);
        stopping = true;
        await load.done;
        assert.equal(backup.code, 0, backup.stderr + backup.stdout);
        assert.match(backup.stdout, /\(point-in-time, schema \d+\)/);
        assert.match(backup.stdout, /Writes held on 2 instances /);
        const statuses = new Set(load.writes.map((w) => w.status));
        assert.deepEqual([...statuses], [201], "every write succeeded, none was refused");
        // Writes were sent while the pause held: they waited, then went through.
        assert.ok(
          load.writes.some((w) => w.sentAt >= started && w.answeredAt > ended),
          "held writes",
        );

        const restored = await weft(b, ["restore", "--from", file]);
        assert.equal(restored.code, 0, restored.stderr + restored.stdout);
        assert.match(restored.stdout, /Invariant check: passed/);
        await withKv(b, async (kv) => {
          assert.deepEqual(await checkInvariants(kv, p.tenant.id), []);
          // Every write answered before the backup began is in it.
          for (const w of load.writes.filter((w) => w.answeredAt < started)) {
            assert.ok(
              (await kv.get(keys.idpUser(p.tenant.id, idp.id, w.id!))).value,
              `user ${w.i}`,
            );
          }
        });
      });
    });
  },
});

Deno.test({
  name: "SIGTERM: the requests in flight finish and no acknowledged write is lost; the " +
    "process exits 0",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const p = await provision(a, "term");
      const { idp, token } = p.idps[0];
      const server = await startServer({ kvPath: a, tenant: "term", logLevel: "info" });
      const client = new ScimClient([server.origin], idp.id, token, "t");
      let signalledAt = Infinity;
      const load = writeLoad(
        [client],
        8,
        () => server.exited() || Date.now() > signalledAt + 3_000,
        "term",
      );
      await sleep(1_000);
      signalledAt = Date.now();
      server.proc.kill("SIGTERM");
      const status = await server.proc.status;
      await load.done;
      await server.stop();
      assert.equal(status.code, 0, server.stderr().slice(-2000));
      assert.match(server.stderr(), /stopped: every request in flight finished/);
      const acked = load.writes.filter((w) => w.status === 201);
      assert.ok(acked.length > 10, `acknowledged ${acked.length}`);
      assert.ok(
        acked.some((w) => w.sentAt < signalledAt && w.answeredAt >= signalledAt),
        "a request in flight at the signal was answered",
      );
      // Refused connections after the signal are the only failures; nothing 5xx.
      assert.ok(load.writes.every((w) => w.status === 201 || w.status === "error"));
      await withKv(a, async (kv) => {
        for (const w of acked) {
          assert.ok((await kv.get(keys.idpUser(p.tenant.id, idp.id, w.id!))).value, `user ${w.i}`);
        }
        assert.deepEqual(await checkInvariants(kv, p.tenant.id), []);
        // The instance removed its heartbeat on the way out.
        assert.equal((await Array.fromAsync(kv.list({ prefix: keys.instances() }))).length, 0);
      });
    });
  },
});

Deno.test({
  name: "SIGTERM: a request still running at the end of the grace period does not hold the " +
    "process (exit 1); it was never acknowledged and wrote nothing",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const p = await provision(a, "grace");
      const { idp, token } = p.idps[0];
      const server = await startServer({
        kvPath: a,
        tenant: "grace",
        env: { WEFT_SHUTDOWN_GRACE_SECONDS: "1" },
      });
      // A write pause no backup releases holds the next write at the gate.
      const pause = await withKv(a, (kv) => requestPause(kv, "test", 30_000));
      try {
        // The instance reads the pause record within a poll (250 ms).
        await sleep(700);
        const client = new ScimClient([server.origin], idp.id, token, "g");
        const held = client.send("POST", "/Users", userBody("grace", 1));
        await sleep(500);
        const t0 = Date.now();
        server.proc.kill("SIGTERM");
        const status = await server.proc.status;
        const took = Date.now() - t0;
        await server.stop();
        assert.equal(status.code, 1, server.stderr().slice(-3000));
        assert.ok(took < 3_000, `exited after ${took} ms`);
        assert.match(server.stderr(), /grace period ended with requests in flight/);
        assert.equal((await held).status, "error");
        await withKv(a, async (kv) => {
          const users = await Array.fromAsync(
            kv.list({ prefix: keys.idpUsers(p.tenant.id, idp.id) }),
          );
          assert.equal(users.length, 0);
        });
      } finally {
        await withKv(a, (kv) => releasePause(kv, pause));
      }
    });
  },
});

Deno.test({
  name: "migrations run once when three instances start together on an older store",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      await provision(a, "mig");
      await withKv(a, (kv) => kv.set(keys.schemaVersion(), 1));
      const spec = { kvPath: a, tenant: "mig", logLevel: "warn" as const };
      const servers = await Promise.all([spec, spec, spec].map((s) => startServer(s)));
      try {
        await sleep(500);
        const migrated = servers.filter((s) => /Schema 2: name indexes folded/.test(s.stdout()));
        assert.equal(migrated.length, 1, servers.map((s) => s.stdout()).join("\n---\n"));
        await withKv(a, async (kv) => {
          assert.equal((await kv.get(keys.schemaVersion())).value, SCHEMA_VERSION);
          assert.equal((await kv.get(keys.migrationLease())).value, null, "the lease is released");
        });
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    });
  },
});
