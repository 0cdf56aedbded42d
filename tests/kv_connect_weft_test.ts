/**
 * Weft scaled out on one KV Connect store (the test server of `_kv_connect.ts`): two real Weft
 * processes (`deno serve main.ts` with `DENO_KV_URL`) see each other's writes, agree on uniqueness,
 * survive the SIGKILL of one of them mid-load without losing an acknowledged write, and leave a
 * store that passes the whole-store invariant checker; the operator CLI works on the same store;
 * a missing or wrong access token is said plainly at start. A representative slice that runs in
 * the default suite; `WEFT_TEST_KV=connect deno task test` runs every suite on KV Connect.
 * @module
 */
import assert from "node:assert/strict";
import { openKvConnect, startKvConnect } from "./_kv_connect.ts";
import {
  checkInvariants,
  describe5xx,
  join,
  PATCH_OP,
  pool,
  provisionKv,
  ROOT,
  ScimClient,
  type Server,
  sleep,
  startServer,
  userBody,
  withServers,
  withTempDir,
} from "./reliability/_server.ts";
import { getTenantBySubdomain } from "../lib/store/tenants.ts";

const TENANT = "kvc";
const sanitizers = { sanitizeResources: false, sanitizeOps: false };

/** Status counts, e.g. `{ "201": 1, "409": 11 }`. */
function statuses(results: { status: number | "error" }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[String(r.status)] = (out[String(r.status)] ?? 0) + 1;
  return out;
}

function members(op: "add" | "remove", ids: string[]) {
  return {
    schemas: [PATCH_OP],
    Operations: [{ op, path: "members", value: ids.map((value) => ({ value })) }],
  };
}

async function memberIds(c: ScimClient, groupId: string): Promise<string[]> {
  const g = await c.send("GET", `/Groups/${groupId}`);
  assert.equal(g.status, 200, JSON.stringify(g.json));
  return ((g.json.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}

Deno.test({
  name: "KV Connect: two Weft instances on one store see each other's writes and agree on " +
    "uniqueness; the store stays consistent",
  ...sanitizers,
  async fn() {
    await using kvc = await startKvConnect();
    const kv = await openKvConnect(kvc);
    try {
      await withTempDir(async (dir) => {
        const p = await provisionKv(kv, TENANT);
        const { idp, token } = p.idps[0];
        // WEFT_KV_PATH names a file that must never appear: DENO_KV_URL wins.
        const kvPath = join(dir, "never.kv");
        const spec = { kvPath, tenant: TENANT, env: kvc.env() };
        const before = await kvc.stats();
        await withServers([spec, spec], async ([a, b]) => {
          const ca = new ScimClient([a.origin], idp.id, token, "a");
          const cb = new ScimClient([b.origin], idp.id, token, "b");

          // A user created through A is read, changed and listed through B, and back.
          const created = await ca.send("POST", "/Users", userBody("two", 0));
          assert.equal(created.status, 201, JSON.stringify(created.json));
          const id = String(created.json.id);
          const seen = await cb.send("GET", `/Users/${id}`);
          assert.equal(seen.status, 200);
          assert.equal(seen.headers.get("etag"), created.headers.get("etag"));
          const patched = await cb.send("PATCH", `/Users/${id}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: "replace", path: "displayName", value: "Changed through B" }],
          });
          assert.equal(patched.status, 200, JSON.stringify(patched.json));
          assert.equal(
            (await ca.send("GET", `/Users/${id}`)).json.displayName,
            "Changed through B",
          );
          const filter = encodeURIComponent(`userName eq "${userBody("two", 0).userName}"`);
          const listed = await cb.send("GET", `/Users?filter=${filter}`);
          assert.deepEqual((listed.json.Resources as { id: string }[]).map((u) => u.id), [id]);

          // Group membership through both: small PATCHes (row checks) and a 30-member one
          // (more rows than KV Connect's 10 checks per operation: the membership version instead).
          const users = await pool(40, 8, (i) => ca.send("POST", "/Users", userBody("m", i)));
          assert.deepEqual(statuses(users), { "201": 40 });
          const ids = users.map((u) => String(u.json.id));
          const g = await ca.send("POST", "/Groups", { displayName: "Two instances", members: [] });
          assert.equal(g.status, 201);
          const gid = String(g.json.id);
          const adds = await Promise.all([
            cb.send("PATCH", `/Groups/${gid}`, members("add", ids.slice(0, 30))),
            ...[30, 35].map((k, i) =>
              (i % 2 ? ca : cb).send("PATCH", `/Groups/${gid}`, members("add", ids.slice(k, k + 5)))
            ),
          ]);
          assert.deepEqual(statuses(adds), { "204": 3 });
          assert.deepEqual(await memberIds(ca, gid), [...ids].sort());
          const removed = await ca.send(
            "PATCH",
            `/Groups/${gid}`,
            members("remove", ids.slice(0, 12)),
          );
          assert.equal(removed.status, 204);
          assert.deepEqual(await memberIds(cb, gid), ids.slice(12).sort());
          const user = await cb.send("GET", `/Users/${ids[20]}?attributes=groups`);
          assert.deepEqual((user.json.groups as { value: string }[]).map((x) => x.value), [gid]);

          // One userName POSTed 12 times at once through both instances: one 201, eleven 409.
          const dup = { schemas: userBody("d", 0).schemas, userName: "same@example.test" };
          const racing = await Promise.all(
            Array.from({ length: 12 }, (_, i) => (i % 2 ? ca : cb).send("POST", "/Users", dup)),
          );
          assert.deepEqual(statuses(racing), { "201": 1, "409": 11 }, JSON.stringify(racing));
          const errors = [...ca.serverErrors(), ...cb.serverErrors()];
          assert.equal(errors.length, 0, describe5xx(errors));
        });
        assert.deepEqual(await checkInvariants(kv, p.tenant.id), []);
        // Every write went over KV Connect: the server counted them, and no file was made.
        const after = await kvc.stats();
        assert.ok(after.atomic_write - (before.atomic_write ?? 0) > 60, JSON.stringify(after));
        assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
      });
    } finally {
      kv.close();
    }
  },
});

Deno.test({
  name: "KV Connect: SIGKILL of one of two instances mid-load loses no acknowledged write; the " +
    "other serves on, the killed one restarts, invariants hold",
  ...sanitizers,
  async fn() {
    await using kvc = await startKvConnect();
    const kv = await openKvConnect(kvc);
    try {
      const p = await provisionKv(kv, TENANT);
      const { idp, token } = p.idps[0];
      const spec = { kvPath: "/nonexistent/weft.kv", tenant: TENANT, env: kvc.env() };
      let a: Server = await startServer(spec);
      const b = await startServer(spec);
      try {
        const admin = new ScimClient([b.origin], idp.id, token, "adm");
        const g = await admin.send("POST", "/Groups", { displayName: "Under load", members: [] });
        assert.equal(g.status, 201);
        const gid = String(g.json.id);
        // Four clients alternate between the instances: create a user, then add it to the group.
        const acked: { id: string; userName: string; joined: boolean }[] = [];
        let sent = 0;
        const killAt = 24;
        let killed: Promise<unknown> | undefined;
        await Promise.all(Array.from({ length: 4 }, async (_, k) => {
          const c = new ScimClient([a.origin, b.origin], idp.id, token, `w${k}`);
          for (let j = 0; j < 16; j++) {
            const body = userBody(`load${k}`, j);
            const origin = (k + j) % 2 ? b.origin : a.origin;
            const created = await c.send("POST", `${c.base(origin)}/Users`, body);
            if (++sent === killAt) killed = a.kill("SIGKILL");
            if (created.status === "error") continue;
            assert.equal(created.status, 201, JSON.stringify(created.json));
            const id = String(created.json.id);
            const joined = await c.send(
              "PATCH",
              `${c.base(origin)}/Groups/${gid}`,
              members("add", [id]),
            );
            if (joined.status !== "error") assert.equal(joined.status, 204);
            acked.push({ id, userName: body.userName, joined: joined.status === 204 });
          }
        }));
        await killed;
        assert.ok(a.exited(), "instance A was killed");
        assert.ok(acked.length >= 32, `writes acknowledged through B at least (${acked.length})`);
        // Every acknowledged user and membership is there, read through B and a restarted A.
        a = await startServer(spec);
        for (const origin of [b.origin, a.origin]) {
          const c = new ScimClient([origin], idp.id, token, "check");
          const inGroup = new Set(await memberIds(c, gid));
          for (const w of acked) {
            const got = await c.send("GET", `/Users/${w.id}`);
            assert.equal(got.status, 200, `${w.userName} through ${origin}`);
            if (w.joined) assert.ok(inGroup.has(w.id), `${w.userName} in the group`);
          }
          const errors = c.serverErrors();
          assert.equal(errors.length, 0, describe5xx(errors));
        }
        assert.deepEqual(await checkInvariants(kv, p.tenant.id), []);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    } finally {
      kv.close();
    }
  },
});

/** Runs `deno task weft …` from the repository with exactly `env` (PATH and HOME kept). */
async function weft(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "weft", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/",
      NO_COLOR: "1",
      WEFT_LOG: "off",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test({
  name:
    "KV Connect: the operator CLI (deno task weft) works on a remote store, and says when the " +
    "access token is missing or wrong",
  ...sanitizers,
  async fn() {
    await using kvc = await startKvConnect();
    const created = await weft(kvc.env(), "tenant", "create", "remote", "--name", "Remote Co");
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /Created tenant remote/);
    const idp = await weft(kvc.env(), "idp", "create", "--tenant", "remote", "--name", "Okta");
    assert.equal(idp.code, 0, idp.err);
    const listed = await weft(kvc.env(), "tenant", "list");
    assert.match(listed.out, /^remote\t[\w-]+\tRemote Co$/m);
    const kv = await openKvConnect(kvc);
    try {
      assert.equal((await getTenantBySubdomain(kv, "remote"))?.name, "Remote Co");
    } finally {
      kv.close();
    }
    // Without the token, or with a wrong one, a plain message (no stack) and a failing exit code.
    const noToken = await weft({ DENO_KV_URL: kvc.url }, "tenant", "list");
    assert.equal(noToken.code, 1);
    assert.equal(
      noToken.err.trim(),
      `Cannot open the KV Connect store at "${kvc.url}": set DENO_KV_ACCESS_TOKEN to its access token`,
    );
    const wrong = await weft(
      { DENO_KV_URL: kvc.url, DENO_KV_ACCESS_TOKEN: "a-wrong-access-token" },
      "tenant",
      "list",
    );
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.err,
      /^Could not open Deno KV database: .* 401 Unauthorized: Invalid access token/,
    );
  },
});

Deno.test({
  name: "KV Connect: started without its access token, or with a wrong one, Weft says so and " +
    "answers 503 until the store can be used",
  ...sanitizers,
  async fn() {
    await using kvc = await startKvConnect();
    const base = { kvPath: "/nonexistent/weft.kv", tenant: TENANT, logLevel: "warn" as const };
    const cases: { env: Record<string, string>; says: RegExp }[] = [
      { env: { DENO_KV_URL: kvc.url }, says: /set DENO_KV_ACCESS_TOKEN to its access token/ },
      {
        env: { DENO_KV_URL: kvc.url, DENO_KV_ACCESS_TOKEN: "a-wrong-access-token" },
        says: /Invalid access token/,
      },
    ];
    await Promise.all(cases.map(async ({ env, says }) => {
      const s = await startServer({ ...base, env, clearEnv: true });
      try {
        const ready = await fetch(`${s.origin}/readyz`);
        assert.equal(ready.status, 503, await ready.text());
        const scim = await fetch(`${s.origin}/scim/v2/inbound/any/Users`, {
          headers: { authorization: "Bearer weft_scim_x" },
        });
        assert.equal(scim.status, 503, await scim.text());
        for (let i = 0; i < 50 && !says.test(s.stderr()); i++) await sleep(100);
        assert.match(s.stderr(), says);
        assert.doesNotMatch(s.stderr(), /a-wrong-access-token/, "the token is never logged");
      } finally {
        await s.stop();
      }
    }));
  },
});
