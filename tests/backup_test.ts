/**
 * Backup, restore and `store copy` through the operator CLI, as an operator runs them: a round
 * trip of a directory made through SCIM (every SCIM read and every event identical afterwards,
 * tokens and console sessions still valid, an old ETag refused once), damaged and truncated files
 * refused with nothing written, a store that is not empty refused unless `--force`, a tenant
 * restored beside others, and a move to a KV Connect store and back. The full-size round trip
 * (100,000 users, a 50,000-member group) is `deno task bench:backup`.
 * @module
 */
import assert from "node:assert/strict";
import {
  checkInvariants,
  join,
  provision,
  REQUEST_LOG_KINDS,
  runCli,
  snapshotKv,
  startServer,
  withKv,
  withServers,
  withTempDir,
} from "./reliability/_server.ts";
import {
  type DirectoryView,
  eventsIn,
  readDirectory,
  seedDirectory,
} from "./reliability/_roundtrip.ts";
import { createConsoleAdmin, httpConsole } from "./reliability/_console.ts";
import { startKvConnect } from "./_kv_connect.ts";
import { keys } from "../lib/store/keys.ts";

const sanitizers = { sanitizeResources: false, sanitizeOps: false };
const PASSWORD = "violet tractor harbour quietly";
const OKTA_AND_ENTRA = [{ name: "Okta", kind: "okta" as const }, {
  name: "Entra",
  kind: "entra" as const,
}];

const weft = runCli;

async function ok(kvPath: string, args: string[], env?: Record<string, string>): Promise<string> {
  const r = await weft(kvPath, args, env);
  assert.equal(r.code, 0, `weft ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** How many records a store holds (any key). */
function recordCount(kvPath: string): Promise<number> {
  return withKv(kvPath, async (kv) => (await Array.fromAsync(kv.list({ prefix: [] }))).length);
}

Deno.test({
  name: "backup → restore: every SCIM read and event identical, invariants pass, tokens and " +
    "console sessions still work, an ETag from before is refused once",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const b = join(dir, "b.kv");
      const file = join(dir, "weft.weftbak");
      const p = await provision(a, "rt", OKTA_AND_ENTRA);
      await withKv(
        a,
        (kv) => createConsoleAdmin(kv, p.tenant.id, "root@rt.test", "super_admin", PASSWORD),
      );
      const spec = { tenant: "rt", logLevel: "off" as const };
      let before: DirectoryView | undefined;
      let cookie = "", etag = "", userId = "";
      await withServers([{ ...spec, kvPath: a }], async ([s]) => {
        const seeded = await seedDirectory(s.origin, p, {
          users: 240,
          members: 180,
          otherUsers: 12,
        });
        userId = seeded.userIds[20];
        const signIn = await httpConsole(s.origin, {
          path: "/admin/signin",
          form: { email: "root@rt.test", password: PASSWORD },
        });
        assert.equal(signIn.status, 303, signIn.text.slice(0, 300));
        cookie = signIn.cookie!;
        before = await readDirectory(s.origin, p.idps);
        etag = (await fetch(`${s.origin}/scim/v2/inbound/${p.idps[0].idp.id}/Users/${userId}`, {
          headers: { authorization: `Bearer ${p.idps[0].token}` },
        }).then(async (r) => (await r.body?.cancel(), r.headers.get("etag"))))!;
        // Taken while the server serves.
        const out = await ok(a, ["backup", "--out", file]);
        assert.match(out, /Backed up the whole store \(live, schema \d+\)/);
        assert.match(out, /records, .* compressed, in /);
        assert.match(out, /idp_users\s+251\n/); // 252 created, one deleted
      });
      const eventsBefore = await eventsIn(a, p.tenant.id);

      const restored = await ok(b, ["restore", "--from", file]);
      assert.match(restored, /Restored [\d,]+ records/);
      assert.match(restored, /Invariant check: passed \(1 tenant/);
      await withKv(b, async (kv) => assert.deepEqual(await checkInvariants(kv, p.tenant.id), []));
      assert.deepEqual(await eventsIn(b, p.tenant.id), eventsBefore);

      await withServers([{ ...spec, kvPath: b }], async ([s]) => {
        // The same tokens (stored as hashes) authenticate every read.
        assert.deepStrictEqual(await readDirectory(s.origin, p.idps), before);
        // The console session and its signing key came along.
        const home = await fetch(`${s.origin}/admin`, { headers: { cookie }, redirect: "manual" });
        await home.body?.cancel();
        assert.equal(home.status, 200);
        // Versionstamps are new: an If-Match from before fails once, the fresh ETag works.
        const url = `${s.origin}/scim/v2/inbound/${p.idps[0].idp.id}/Users/${userId}`;
        const auth = {
          authorization: `Bearer ${p.idps[0].token}`,
          "content-type": "application/scim+json",
        };
        const patch = JSON.stringify({
          schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          Operations: [{ op: "replace", path: "displayName", value: "After restore" }],
        });
        const stale = await fetch(url, {
          method: "PATCH",
          headers: { ...auth, "if-match": etag },
          body: patch,
        });
        await stale.body?.cancel();
        assert.equal(stale.status, 412);
        const fresh = await fetch(url, { headers: auth });
        await fresh.body?.cancel();
        const again = await fetch(url, {
          method: "PATCH",
          headers: { ...auth, "if-match": fresh.headers.get("etag")! },
          body: patch,
        });
        await again.body?.cancel();
        assert.equal(again.status, 200);
      });
    });
  },
});

/** gzip of a text. */
async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The text inside a gzip file. */
async function gunzip(path: string): Promise<string> {
  const stream = (await Deno.open(path)).readable.pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

Deno.test({
  name: "restore - a damaged, truncated or foreign file is refused with a clear error and " +
    "writes nothing",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const file = join(dir, "good.weftbak");
      await provision(a, "dmg", OKTA_AND_ENTRA);
      await withKv(a, async (kv) => {
        // Enough records that the file is longer than its header and trailer.
        for (let i = 0; i < 300; i++) {
          await kv.set(["t", "x", "filler", i], {
            n: i,
            s: "x".repeat(100),
            b: new Uint8Array([i % 256]),
          });
        }
      });
      await ok(a, ["backup", "--out", file]);
      const good = await Deno.readFile(file);
      const text = await gunzip(file);
      const lines = text.trimEnd().split("\n");
      const cases: [string, Uint8Array, RegExp][] = [
        ["truncated", good.slice(0, Math.floor(good.length / 2)), /damaged or cut short/],
        [
          "one byte changed",
          (() => {
            const c = good.slice();
            c[Math.floor(c.length / 2)] ^= 0xff;
            return c;
          })(),
          /damaged/,
        ],
        [
          "no closing line",
          await gzip(lines.slice(0, -1).join("\n") + "\n"),
          /cut short: it ends after \d+ records without its closing line/,
        ],
        ["cut between records", await gzip(lines.slice(0, 50).join("\n") + "\n"), /cut short/],
        [
          "a record changed",
          await gzip(lines.map((l) => l.replace('"s":"xxx', '"s":"xxy')).join("\n") + "\n"),
          /checksum does not match/,
        ],
        [
          "a record that is not JSON",
          await gzip(lines.map((l, i) => i === 7 ? l.slice(0, 10) : l).join("\n") + "\n"),
          /line 8 is not JSON/,
        ],
        [
          "not a backup",
          await gzip("hello\nworld\n"),
          /is not JSON|does not start with a Weft backup header/,
        ],
        ["not gzip", new TextEncoder().encode(text), /damaged or cut short/],
        [
          "a newer format",
          await gzip(text.replace('"version":1', '"version":99')),
          /format version 99, newer than this Weft reads/,
        ],
        ["empty", new Uint8Array(), /empty|damaged/],
      ];
      for (const [name, bytes, message] of cases) {
        const bad = join(dir, `${name.replaceAll(" ", "-")}.weftbak`);
        const target = join(dir, `${name.replaceAll(" ", "-")}.kv`);
        await Deno.writeFile(bad, bytes);
        const r = await weft(target, ["restore", "--from", bad]);
        assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, message, name);
        assert.match(r.stderr, /Nothing was written/, name);
        assert.equal(await recordCount(target), 0, `${name}: the store stays empty`);
      }
      const missing = await weft(join(dir, "m.kv"), ["restore", "--from", join(dir, "nope")]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no such file/);
    });
  },
});

Deno.test({
  name: "restore - refuses a store that is not empty, replaces it with --force; a tenant " +
    "backup restores beside other tenants",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const b = join(dir, "b.kv");
      const whole = join(dir, "whole.weftbak");
      const one = join(dir, "one.weftbak");
      const pa = await provision(a, "alpha");
      await provision(a, "beta");
      await ok(a, ["backup", "--out", whole]);
      const tenantOut = await ok(a, ["backup", "--out", one, "--tenant", "alpha"]);
      assert.match(tenantOut, /Backed up tenant alpha/);

      await provision(b, "gamma");
      const refused = await weft(b, ["restore", "--from", whole]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /is not empty .*--force/);

      // A tenant restores into a store holding others; a second time it is refused.
      const beside = await ok(b, ["restore", "--from", one]);
      assert.match(beside, /Invariant check: passed \(tenant alpha\)/);
      assert.match(await ok(b, ["tenant", "list"]), /alpha\t.*\n?.*gamma|gamma\t.*\n?.*alpha/s);
      const twice = await weft(b, ["restore", "--from", one]);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /tenant id .* subdomain alpha/);
      assert.match(await ok(b, ["restore", "--from", one, "--force"]), /Invariant check: passed/);

      // --force on a whole-store backup replaces the store.
      const forced = await ok(b, ["restore", "--from", whole, "--force"]);
      assert.match(forced, /Cleared [\d,]+ records/);
      const tenants = await ok(b, ["tenant", "list"]);
      assert.match(tenants, /alpha/);
      assert.match(tenants, /beta/);
      assert.doesNotMatch(tenants, /gamma/);
      await withKv(a, async (kvA) => {
        await withKv(b, async (kvB) => {
          const drop = ["readyz"];
          const [sa, sb] = [await snapshotKv(kvA, drop), await snapshotKv(kvB, drop)];
          assert.deepEqual([...sb.keys()].sort(), [...sa.keys()].sort());
          assert.ok((await kvB.get(keys.tenant(pa.tenant.id))).value);
        });
      });
    });
  },
});

Deno.test({
  name: "store copy - a file store moves to KV Connect and back, record for record, with the " +
    "invariant check; a server runs on the copy",
  ...sanitizers,
  async fn() {
    await using kvc = await startKvConnect();
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const back = join(dir, "back.kv");
      const p = await provision(a, "mv", OKTA_AND_ENTRA);
      let before: DirectoryView | undefined;
      await withServers([{ kvPath: a, tenant: "mv", logLevel: "off" }], async ([s]) => {
        await seedDirectory(s.origin, p, { users: 60, members: 40, otherUsers: 5 });
        before = await readDirectory(s.origin, p.idps);
      });
      const env = { DENO_KV_ACCESS_TOKEN: kvc.token };
      const there = await ok(a, ["store", "copy", "--to", kvc.url], env);
      assert.match(there, /Copied [\d,]+ records .* the target holds [\d,]+/);
      assert.match(there, /Invariant check: passed/);
      // Refused the second time: the target is not empty.
      const again = await weft(a, ["store", "copy", "--to", kvc.url], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /not empty/);

      // Served from KV Connect, the directory reads the same.
      await withServers([{
        kvPath: join(dir, "unused.kv"),
        tenant: "mv",
        logLevel: "off",
        env: kvc.env(),
      }], async ([s]) => {
        assert.deepStrictEqual(await readDirectory(s.origin, p.idps), before);
      });

      // And back to a file, from the KV Connect store as the configured one.
      const home = await ok(
        join(dir, "unused.kv"),
        ["store", "copy", "--to-path", back],
        kvc.env(),
      );
      assert.match(home, /Invariant check: passed/);
      await withKv(a, async (kvA) => {
        // --to-path writes a file, whatever store the suite runs on.
        await using kvB = await Deno.openKv(back);
        { // Serving from KV Connect recorded the tokens' use, and the requests, there.
          const skip = ["rate_limits", "page_anchors", "token_last_used", ...REQUEST_LOG_KINDS];
          const [sa, sb] = [await snapshotKv(kvA, skip), await snapshotKv(kvB, skip)];
          for (const k of [...sa.keys()]) {
            if (/^\["(meta|readyz|feed_pending)"/.test(k)) sa.delete(k);
          }
          for (const k of [...sb.keys()]) {
            if (/^\["(meta|readyz|feed_pending)"/.test(k)) sb.delete(k);
          }
          assert.deepEqual(sb, sa);
        }
      });
      const usage = await weft(a, ["store", "copy", "--to", back]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--to must be a KV Connect URL/);
    });
  },
});

Deno.test({
  name: "an instance refuses a store written by a newer Weft, or one a restore has not finished",
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      await provision(a, "nv");
      await withKv(a, (kv) => kv.set(keys.schemaVersion(), 99));
      const s = await startServer({
        kvPath: a,
        tenant: "nv",
        allowNotReady: true,
        readyTimeout: 5_000,
      });
      const status = await s.kill("SIGTERM").then(() => s.proc.status);
      assert.notEqual(status.code, 0);
      assert.match(s.stderr(), /written by a newer Weft \(schema 99/);
      const cli = await weft(a, ["tenant", "list"]);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /newer Weft/);

      const b = join(dir, "b.kv");
      await provision(b, "rs");
      await withKv(
        b,
        (kv) =>
          kv.set(keys.restoreMarker(), { startedAt: "2026-01-01T00:00:00Z", from: "x.weftbak" }),
      );
      const r = await startServer({
        kvPath: b,
        tenant: "rs",
        allowNotReady: true,
        readyTimeout: 5_000,
      });
      await r.kill("SIGTERM");
      assert.match(r.stderr(), /a restore from "x.weftbak" .* has not finished/);
    });
  },
});
