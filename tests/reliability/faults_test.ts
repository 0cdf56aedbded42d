/**
 * Faults (issue 5, "Faults"): SIGKILL a real server while 8 clients push users, profile updates,
 * memberships and 500-member journalled membership changes; restart on the same KV file and prove
 * that every acknowledged write is present with its index entries and its event, that nothing
 * unacknowledged is half-present (event ⇔ change), and that an interrupted large membership change
 * is whole or absent. Repeated at several seeded random moments (`WEFT_FAULT_SEED` replays one).
 *
 * Then the store itself fails: read-only (immutable file, WAL and folder) or full (a small tmpfs)
 * mid-run, and read-only or missing at start-up. Expected: `503` SCIM errors with `Retry-After`,
 * `/readyz` 503, no 500, nothing half-written, and recovery without a restart. On KV Connect
 * (`WEFT_TEST_KV=connect`) the SIGKILL rounds run on the remote store; the store faults, which
 * are faults of a local file, are skipped.
 * @module
 */
import assert from "node:assert/strict";
import {
  allEvents,
  checkInvariants,
  describe5xx,
  join,
  KV_CONNECT_MODE,
  PATCH_OP,
  pool,
  provision,
  report,
  rng,
  ScimClient,
  type Server,
  sized,
  sleep,
  startServer,
  userBody,
  withKv,
  withTempDir,
} from "./_server.ts";
import { keys } from "../../lib/store/keys.ts";
import { listEvents } from "../../lib/store/events.ts";

const TENANT = "faults";
const ROUNDS = sized(3, 12);
const BIG = 500;
const SEED = Number(Deno.env.get("WEFT_FAULT_SEED") ?? Date.now() % 1_000_000);

type Outcome = "ack" | "failed" | "unknown";

function outcome(status: number | "error", ok: number[]): Outcome {
  if (status === "error") return "unknown";
  return ok.includes(status) ? "ack" : "failed";
}

interface UserWrite {
  tag: string;
  i: number;
  body: ReturnType<typeof userBody>;
  requestId: string;
  result: Outcome;
  status: number | "error";
  id?: string;
  /** A follow-up PATCH of displayName, if sent. */
  rename?: { requestId: string; result: Outcome; value: string };
  /** A follow-up membership add to the small group, if sent. */
  join?: { requestId: string; result: Outcome };
}

interface BigOp {
  op: "add" | "remove";
  requestId: string;
  result: Outcome;
}

async function sh(cmd: string, ...args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr) };
  } catch (error) {
    return { ok: false, err: String(error) };
  }
}

Deno.test({
  name: `Faults: SIGKILL during writes (${ROUNDS} seeded rounds) loses no acknowledged write`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    report(`faults: seed ${SEED} (replay with WEFT_FAULT_SEED=${SEED})`);
    const random = rng(SEED);
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, TENANT);
      const { idp, token } = p.idps[0];
      let server: Server = await startServer({ kvPath, tenant: TENANT });
      const origin = () => [server.origin];
      const admin = () => new ScimClient(origin(), idp.id, token, "adm");
      let smallGroup = "";
      let bigGroup = "";
      const bigUsers: string[] = [];
      const writes: UserWrite[] = [];
      const bigOps: BigOp[] = [];
      const stats = { kills: 0, journalsPending: 0, acked: 0, unknown: 0 };
      try {
        await t.step(
          "set up: two groups and 500 users for the large membership change",
          async () => {
            const c = admin();
            const g1 = await c.send("POST", "/Groups", { displayName: "fault small", members: [] });
            const g2 = await c.send("POST", "/Groups", { displayName: "fault big", members: [] });
            assert.equal(g1.status, 201);
            assert.equal(g2.status, 201);
            smallGroup = String(g1.json.id);
            bigGroup = String(g2.json.id);
            const res = await pool(BIG, 16, (i) => c.send("POST", "/Users", userBody("big", i)));
            assert.ok(res.every((r) => r.status === 201));
            bigUsers.push(...res.map((r) => String(r.json.id)));
          },
        );

        for (let round = 0; round < ROUNDS; round++) {
          await t.step(
            `round ${round + 1}: 8 clients, SIGKILL at a random moment, restart, verify`,
            async () => {
              let stop = false;
              const roundWrites: UserWrite[] = [];
              const roundBig: BigOp[] = [];
              // Six clients create users, rename them and add them to the small group.
              const pushers = Array.from({ length: 6 }, async (_, k) => {
                const c = new ScimClient(origin(), idp.id, token, `r${round}p${k}`);
                for (let i = 0; !stop; i++) {
                  const tag = `r${round}k${k}`;
                  const body = userBody(tag, i);
                  const res = await c.send("POST", "/Users", body);
                  const w: UserWrite = {
                    tag,
                    i,
                    body,
                    requestId: c.last().requestId,
                    status: res.status,
                    result: outcome(res.status, [201]),
                  };
                  if (w.result === "ack") w.id = String(res.json.id);
                  roundWrites.push(w);
                  if (w.result !== "ack" || stop) continue;
                  if (i % 2 === 0) {
                    const value = `renamed ${tag} ${i}`;
                    const r = await c.send("PATCH", `/Users/${w.id}`, {
                      schemas: [PATCH_OP],
                      Operations: [{ op: "replace", path: "displayName", value }],
                    });
                    w.rename = {
                      requestId: c.last().requestId,
                      result: outcome(r.status, [200, 204]),
                      value,
                    };
                  }
                  if (stop) continue;
                  const j = await c.send("PATCH", `/Groups/${smallGroup}`, {
                    schemas: [PATCH_OP],
                    Operations: [{ op: "add", path: "members", value: [{ value: w.id }] }],
                  });
                  w.join = { requestId: c.last().requestId, result: outcome(j.status, [200, 204]) };
                }
              });
              // One client reads (lists, filters) to keep readers completing journals too.
              const reader = (async () => {
                const c = new ScimClient(origin(), idp.id, token, `r${round}rd`);
                while (!stop) {
                  await c.send("GET", `/Groups/${bigGroup}?excludedAttributes=members`);
                  await c.send("GET", "/Users?count=5");
                }
              })();
              // One client alternates a 500-member add and remove (journalled, applied in chunks).
              const big = (async () => {
                const c = new ScimClient(origin(), idp.id, token, `r${round}bg`);
                const present = (await admin().send("GET", `/Groups/${bigGroup}`)).json.members;
                let op: "add" | "remove" = Array.isArray(present) && present.length
                  ? "remove"
                  : "add";
                while (!stop) {
                  const res = await c.send("PATCH", `/Groups/${bigGroup}`, {
                    schemas: [PATCH_OP],
                    Operations: [{
                      op,
                      path: "members",
                      value: bigUsers.map((value) => ({ value })),
                    }],
                  });
                  roundBig.push({
                    op,
                    requestId: c.last().requestId,
                    result: outcome(res.status, [200, 204]),
                  });
                  if (res.status === 204 || res.status === 200) {
                    op = op === "add" ? "remove" : "add";
                  }
                }
              })();
              await sleep(300 + Math.floor(random() * sized(1500, 4000)));
              // No new requests from here; the ones in flight meet the kill.
              stop = true;
              await server.kill("SIGKILL");
              stats.kills++;
              await Promise.all([...pushers, reader, big]);
              writes.push(...roundWrites);
              bigOps.push(...roundBig);

              // Dead server: was a large change caught mid-journal?
              const pending = await withKv(
                kvPath,
                async (kv) =>
                  (await kv.get(keys.memberJournal(p.tenant.id, bigGroup))).value !== null,
              );
              if (pending) {
                stats.journalsPending++;
              }

              server = await startServer({ kvPath, tenant: TENANT });
              const c = admin();
              const small = new Set(
                ((await c.send("GET", `/Groups/${smallGroup}`)).json.members as {
                  value: string;
                }[] ?? [])
                  .map((m) => m.value),
              );
              for (const w of roundWrites) {
                const byName = await c.send(
                  "GET",
                  `/Users?filter=${encodeURIComponent(`userName eq "${w.body.userName}"`)}`,
                );
                const found = (byName.json.Resources as { id: string; displayName?: string }[]) ??
                  [];
                if (w.result === "ack") {
                  stats.acked++;
                  assert.equal(
                    found.length,
                    1,
                    `acknowledged user ${w.body.userName} lost: ${JSON.stringify(byName.json)}`,
                  );
                  assert.equal(found[0].id, w.id);
                  const byExt = await c.send(
                    "GET",
                    `/Users?filter=${encodeURIComponent(`externalId eq "${w.body.externalId}"`)}`,
                  );
                  assert.equal(byExt.json.totalResults, 1, `externalId index of ${w.id}`);
                  const byEmail = await c.send(
                    "GET",
                    `/Users?filter=${
                      encodeURIComponent(`emails.value eq "${w.body.emails[0].value}"`)
                    }`,
                  );
                  assert.equal(byEmail.json.totalResults, 1, `email index of ${w.id}`);
                  if (w.rename?.result === "ack") {
                    assert.equal(
                      found[0].displayName,
                      w.rename.value,
                      `acknowledged rename of ${w.id} lost`,
                    );
                  }
                  if (w.join?.result === "ack") {
                    assert.ok(small.has(w.id!), `acknowledged membership of ${w.id} lost`);
                  }
                } else {
                  if (w.result === "unknown") stats.unknown++;
                  assert.ok(found.length <= 1, `duplicate users for ${w.body.userName}`);
                  if (w.result === "failed") {
                    assert.equal(
                      found.length,
                      0,
                      `failed POST (${w.status}) left ${w.body.userName}`,
                    );
                  }
                }
              }
              const bigNow = ((await c.send("GET", `/Groups/${bigGroup}`)).json.members ?? []) as {
                value: string;
              }[];
              assert.ok(
                bigNow.length === 0 || bigNow.length === BIG,
                `interrupted ${BIG}-member change left ${bigNow.length} members (journal pending at kill: ${pending})`,
              );
              const lastBig = roundBig.at(-1);
              if (lastBig?.result === "ack") {
                assert.equal(
                  bigNow.length,
                  lastBig.op === "add" ? BIG : 0,
                  "last acknowledged large change",
                );
              }
              const errors = c.serverErrors();
              assert.equal(errors.length, 0, describe5xx(errors));

              // Stop cleanly and read the store itself: events and invariants.
              await server.stop();
              await withKv(kvPath, async (kv) => {
                const problems = await checkInvariants(kv, p.tenant.id);
                assert.deepEqual(problems, [], "store invariants after restart");
                const byRequest = new Map<string, string[]>();
                for (const e of await allEvents(kv, p.tenant.id)) {
                  const id = String(e.requestId ?? "");
                  if (!byRequest.has(id)) byRequest.set(id, []);
                  byRequest.get(id)!.push(String(e.type));
                }
                const isMember = async (uid: string) =>
                  (await kv.get(keys.groupMember(p.tenant.id, smallGroup, uid))).versionstamp !==
                    null;
                for (const w of roundWrites) {
                  const present = w.id !== undefined ||
                    (await kv.get(
                        keys.idpUserByUserName(
                          p.tenant.id,
                          idp.id,
                          w.body.userName.toLowerCase(),
                        ),
                      ))
                        .value !== null;
                  if (w.result === "ack") {
                    // Through the Event Log's own query, by target: the create is recorded.
                    const { events } = await listEvents(kv, p.tenant.id, {
                      targetId: w.id,
                      limit: 50,
                    });
                    assert.ok(
                      events.some((e) =>
                        e.type === "scim_user_received" && e.requestId === w.requestId
                      ),
                      `acknowledged POST ${w.body.userName} has no scim_user_received event`,
                    );
                  }
                  const event = byRequest.get(w.requestId) ?? [];
                  assert.equal(
                    event.includes("scim_user_received"),
                    present,
                    `POST ${w.body.userName} (${w.status}): present=${present} but events=${event}`,
                  );
                  if (w.rename) {
                    const ev = byRequest.get(w.rename.requestId) ?? [];
                    const link = (await kv.get<{ resource: Record<string, unknown> }>(
                      keys.idpUser(p.tenant.id, idp.id, w.id!),
                    )).value;
                    const applied = link?.resource.displayName === w.rename.value;
                    assert.equal(
                      ev.length > 0,
                      applied,
                      `rename ${w.id}: applied=${applied}, events=${ev}`,
                    );
                    if (w.rename.result === "ack") assert.ok(applied);
                  }
                  if (w.join) {
                    const ev = byRequest.get(w.join.requestId) ?? [];
                    const member = await isMember(w.id!);
                    assert.equal(
                      ev.length > 0,
                      member,
                      `join ${w.id}: member=${member}, events=${ev}`,
                    );
                    if (w.join.result === "ack") assert.ok(member);
                  }
                }
                // Large changes: each one that took effect has its event, and an acknowledged one did.
                for (const b of roundBig) {
                  const ev = byRequest.get(b.requestId) ?? [];
                  if (b.result === "ack") {
                    assert.ok(
                      ev.includes("scim_group_updated"),
                      `acknowledged large ${b.op} has no event`,
                    );
                  }
                }
              });
              server = await startServer({ kvPath, tenant: TENANT });
            },
          );
        }
      } finally {
        await server.stop();
        report(
          `faults: ${stats.kills} kills, ${stats.journalsPending} mid-journal, ${stats.acked} acknowledged user writes verified, ${stats.unknown} in flight at the kill`,
        );
      }
    });
  },
});

// ---------------------------------------------------------------------------------------------
// The store fails
// ---------------------------------------------------------------------------------------------

const CHATTR = await (async () => {
  const file = await Deno.makeTempFile();
  try {
    const on = await sh("chattr", "+i", file);
    if (!on.ok) return false;
    let blocked = false;
    try {
      await Deno.writeTextFile(file, "x");
    } catch {
      blocked = true;
    }
    await sh("chattr", "-i", file);
    return blocked;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
})();

const MOUNT = await (async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = (await sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir)).ok;
    if (ok) await sh("umount", dir);
    return ok;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
})();

/** Makes the KV file, its WAL and its folder immutable (root ignores modes, not this flag). */
async function freeze(kvPath: string, on: boolean) {
  const flag = on ? "+i" : "-i";
  const dir = kvPath.replace(/\/[^/]*$/, "");
  // Not the -shm file: SQLite maps it, and an immutable mapping kills the process (SIGBUS).
  for (const f of [kvPath, `${kvPath}-wal`, dir]) {
    await sh("chattr", flag, f);
  }
}

/** Collects failed expectations so one fault run reports all of them. */
class Findings {
  readonly list: string[] = [];
  check(ok: boolean, what: string) {
    if (!ok) this.list.push(what);
  }
  done() {
    assert.deepEqual(this.list, [], `\n  - ${this.list.join("\n  - ")}`);
  }
}

/** Checks a SCIM 503 (error schema, status "503", Retry-After). */
async function expect503(f: Findings, res: Response, what: string) {
  const text = await res.text();
  if (res.status !== 503) {
    f.check(false, `${what}: expected 503, got ${res.status}: ${text.slice(0, 200)}`);
    return;
  }
  f.check(
    /^application\/scim\+json/.test(res.headers.get("content-type") ?? ""),
    `${what}: content type`,
  );
  const body = JSON.parse(text);
  f.check(
    JSON.stringify(body.schemas) ===
        JSON.stringify(["urn:ietf:params:scim:api:messages:2.0:Error"]) && body.status === "503",
    `${what}: SCIM error body`,
  );
  f.check(!!res.headers.get("retry-after"), `${what}: Retry-After`);
}

async function get(url: string, token?: string): Promise<Response> {
  return await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

async function status(url: string): Promise<number> {
  const r = await get(url);
  await r.body?.cancel();
  return r.status;
}

async function postUser(base: string, token: string, i: number): Promise<Response> {
  return await fetch(`${base}/Users`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" },
    body: JSON.stringify(userBody("kvfault", i)),
  });
}

async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(200);
  }
  return false;
}

/** Mid-run: the store stops taking writes, then recovers; the server is never restarted. */
async function midRunFault(kvPath: string, inject: () => Promise<void>, heal: () => Promise<void>) {
  const f = new Findings();
  const p = await provision(kvPath, TENANT);
  const { idp, token } = p.idps[0];
  const server = await startServer({ kvPath, tenant: TENANT });
  const base = `${server.origin}/scim/v2/inbound/${idp.id}`;
  let created = 1;
  try {
    const ok = await postUser(base, token, 0);
    const okText = await ok.text();
    assert.equal(ok.status, 201, okText);
    const id = JSON.parse(okText).id;
    await inject();
    try {
      for (let i = 1; i <= 5; i++) {
        await expect503(f, await postUser(base, token, i), `POST /Users during the fault (#${i})`);
      }
      const patch = await fetch(`${base}/Users/${id}`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" },
        body: JSON.stringify({
          schemas: [PATCH_OP],
          Operations: [{ op: "replace", path: "displayName", value: "during fault" }],
        }),
      });
      await expect503(f, patch, "PATCH /Users/{id} during the fault");
      const read = await get(`${base}/Users/${id}`, token);
      const readText = await read.text();
      f.check(
        read.status === 200 || read.status === 503,
        `GET /Users/{id} during the fault: ${read.status} ${readText.slice(0, 200)}`,
      );
      const ready = await status(`${server.origin}/readyz`);
      f.check(
        ready === 503,
        `/readyz during the fault: ${ready}, expected 503 (no writes possible)`,
      );
    } finally {
      await heal();
    }
    f.check(!server.exited(), "the server died during the fault");
    const green = await eventually(async () => (await status(`${server.origin}/readyz`)) === 200);
    f.check(green, "/readyz not green within 15 s after the store recovered");
    const after = await postUser(base, token, 99);
    const afterText = await after.text();
    f.check(
      after.status === 201,
      `POST after recovery: ${after.status} ${afterText.slice(0, 200)}`,
    );
    if (after.status === 201) created++;
    f.check(!server.exited(), "not recovered without a restart");
  } finally {
    await server.stop();
  }
  const problems = await withKv(kvPath, (kv) => checkInvariants(kv, p.tenant.id));
  f.check(problems.length === 0, `store invariants after the fault: ${problems.join("; ")}`);
  const events = await withKv(kvPath, (kv) => allEvents(kv, p.tenant.id));
  const users = events.filter((e) => e.type === "scim_user_received").length;
  f.check(users === created, `${users} user events for ${created} successful creates`);
  f.done();
}

/** Start-up with a broken store: the process stays up, answers 503, and recovers if it can. */
async function startupFault(
  kvPath: string,
  idpId: string,
  token: string,
  heal?: () => Promise<void>,
) {
  const f = new Findings();
  const server = await startServer({
    kvPath,
    tenant: TENANT,
    readyTimeout: 8000,
    allowNotReady: true,
  });
  try {
    if (server.exited()) {
      f.check(
        false,
        `the server exited instead of answering 503; stderr: ${
          server.stderr().trim().slice(0, 600)
        }`,
      );
      f.done();
    }
    f.check((await status(`${server.origin}/healthz`)) === 200, "/healthz (liveness) answers 200");
    const ready = await status(`${server.origin}/readyz`);
    f.check(ready === 503, `/readyz: ${ready}, expected 503`);
    const base = `${server.origin}/scim/v2/inbound/${idpId}`;
    await expect503(f, await postUser(base, token, 1), "POST /Users with the store unavailable");
    if (heal) {
      await heal();
      const green = await eventually(async () => (await status(`${server.origin}/readyz`)) === 200);
      f.check(green, "/readyz not green within 15 s after the store became available");
      const ok = await postUser(base, token, 2);
      const text = await ok.text();
      f.check(ok.status === 201, `POST after recovery: ${ok.status} ${text.slice(0, 200)}`);
    }
  } finally {
    await server.stop();
  }
  f.done();
}

Deno.test({
  name: "Faults: KV read-only mid-run (immutable file, WAL, folder) → 503 SCIM errors, " +
    "/readyz 503, recovery without restart",
  ignore: !CHATTR || KV_CONNECT_MODE,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "kv", "weft.kv");
      await Deno.mkdir(join(dir, "kv"));
      await midRunFault(kvPath, () => freeze(kvPath, true), () => freeze(kvPath, false));
    });
  },
});

Deno.test({
  name: "Faults: KV disk full mid-run (1 MiB tmpfs) → 503 SCIM errors, /readyz 503, " +
    "recovery without restart",
  ignore: !MOUNT || KV_CONNECT_MODE,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const mnt = join(dir, "mnt");
      await Deno.mkdir(mnt);
      assert.ok((await sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt)).ok);
      try {
        const kvPath = join(mnt, "weft.kv");
        const filler = join(mnt, "filler");
        await midRunFault(
          kvPath,
          async () => {
            const f = await Deno.open(filler, { write: true, create: true });
            try {
              for (;;) await f.write(new Uint8Array(16 * 1024));
            } catch {
              // the disk is full
            } finally {
              f.close();
            }
          },
          () => Deno.remove(filler),
        );
      } finally {
        await sh("umount", "-l", mnt);
      }
    });
  },
});

Deno.test({
  name: "Faults: KV read-only at start-up → 503 SCIM errors and /readyz 503, then recovery " +
    "without restart",
  ignore: !CHATTR || KV_CONNECT_MODE,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "kv", "weft.kv");
      await Deno.mkdir(join(dir, "kv"));
      const p = await provision(kvPath, TENANT);
      const { idp, token } = p.idps[0];
      await freeze(kvPath, true);
      try {
        await startupFault(kvPath, idp.id, token, () => freeze(kvPath, false));
      } finally {
        await freeze(kvPath, false);
      }
    });
  },
});

Deno.test({
  name: "Faults: KV folder cannot be created at start-up → 503 SCIM errors and /readyz 503 " +
    "(no crash)",
  ignore: KV_CONNECT_MODE,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const blocker = join(dir, "not-a-folder");
      await Deno.writeTextFile(blocker, "");
      await startupFault(join(blocker, "sub", "weft.kv"), "any", "weft_scim_x");
    });
  },
});
