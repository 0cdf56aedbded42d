/**
 * The KV Connect test server (`_kv_connect.ts`) is a real remote store: `Deno.openKv(url)`
 * against it reads and writes as on a KV file (one transcript, both stores), and what KV Connect
 * does not offer — queues, more than 10 checks per operation — is refused as by denokv.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { openKvConnect, startKvConnect } from "./_kv_connect.ts";
import { maxChecks } from "../lib/store/kv.ts";

const EXPIRE_IN_MS = 300_000;

/** The expiry times (ms since the epoch) a SQLite file of Deno KV or denokv holds. */
function expiriesIn(path: string): number[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("select expiration_ms from kv where expiration_ms >= 0").all();
    return rows.map((r) => Number(r.expiration_ms));
  } finally {
    db.close();
  }
}

/** Runs a fixed series of KV operations and records what each returned (versionstamps as v1…). */
async function transcript(kv: Deno.Kv): Promise<unknown[]> {
  const log: unknown[] = [];
  const stamps = new Map<string, string>();
  const v = (stamp: string | null) => {
    if (stamp === null) return null;
    if (!stamps.has(stamp)) stamps.set(stamp, `v${stamps.size + 1}`);
    return stamps.get(stamp);
  };
  const entry = (e: Deno.KvEntryMaybe<unknown>) => [e.key, e.value, v(e.versionstamp)];

  // Values of every kind KV serialises, and keys of every part type.
  const value = { n: 1, s: "x", d: new Date(0), big: 2n, bytes: new Uint8Array([1, 2]), m: [1] };
  const a = await kv.set(["t", "a"], value);
  log.push(["set", a.ok, v(a.versionstamp), /^[0-9a-f]{20}$/.test(a.versionstamp)]);
  log.push(["get", entry(await kv.get(["t", "a"]))]);
  log.push(["absent", entry(await kv.get(["t", "none"]))]);
  for (const key of [["k", 1], ["k", 2n], ["k", true], ["k", new Uint8Array([0])], ["k", "s"]]) {
    await kv.set(key, String(key[1]));
  }
  log.push(["key order", (await Array.fromAsync(kv.list({ prefix: ["k"] }))).map((e) => e.value)]);

  // Versionstamps grow, and one atomic operation stamps all its keys alike.
  const b = await kv.set(["t", "b"], "b");
  log.push(["later stamp", b.versionstamp > a.versionstamp]);
  const both = await kv.atomic().set(["t", "c"], 1).set(["t", "d"], 2).commit();
  assert.ok(both.ok);
  const [c, d] = await kv.getMany([["t", "c"], ["t", "d"]]);
  log.push(["one stamp", c.versionstamp === d.versionstamp, c.versionstamp === both.versionstamp]);

  // Checks: the entry read passes, a stale one or a null check on an existing key fails.
  const fresh = await kv.get(["t", "b"]);
  log.push(["check ok", (await kv.atomic().check(fresh).set(["t", "b"], "b2").commit()).ok]);
  log.push(["stale", (await kv.atomic().check(fresh).set(["t", "b"], "b3").commit()).ok]);
  log.push([
    "null on existing",
    (await kv.atomic().check({ key: ["t", "a"], versionstamp: null }).set(["t", "a"], 0).commit())
      .ok,
  ]);
  log.push(["unchanged", (await kv.get(["t", "b"])).value, (await kv.get(["t", "a"])).value]);

  // Lists: prefix, reverse, limit, range, and a cursor that resumes where a page ended.
  for (let i = 0; i < 7; i++) await kv.set(["l", i], i);
  const all = async (it: Deno.KvListIterator<unknown>) => (await Array.fromAsync(it)).map(entry);
  log.push(["list", await all(kv.list({ prefix: ["l"] }))]);
  log.push(["reverse", await all(kv.list({ prefix: ["l"] }, { reverse: true, limit: 3 }))]);
  log.push(["range", await all(kv.list({ start: ["l", 2], end: ["l", 5] }))]);
  const page = kv.list({ prefix: ["l"] }, { limit: 3 });
  await Array.fromAsync(page);
  log.push(["after cursor", await all(kv.list({ prefix: ["l"] }, { cursor: page.cursor }))]);
  log.push(["small batches", await all(kv.list({ prefix: ["l"] }, { batchSize: 2 }))]);

  // Counters: sum (modulo 2^64), min, max on KvU64; a sum onto another type is refused.
  await kv.set(["u"], new Deno.KvU64(5n));
  await kv.atomic().sum(["u"], 3n).commit();
  await kv.atomic().sum(["u2"], (1n << 64n) - 1n).sum(["u2"], 2n).commit();
  await kv.atomic().min(["u3"], 9n).min(["u3"], 4n).max(["u4"], 4n).max(["u4"], 9n).commit();
  log.push(["sums", ...(await kv.getMany([["u"], ["u2"], ["u3"], ["u4"]])).map((e) => e.value)]);
  const sumOnString = await kv.atomic().sum(["t", "b"], 1n).commit().then(
    (r) => r.ok,
    (e: Error) => /sum/i.test(e.message) ? "refused" : e.message,
  );
  log.push(["sum on a string", sumOnString]);

  // Deletion, and expiry: an entry with expireIn is readable until the store collects it (both
  // stores collect expired entries about once a minute; see expiryOf below for the deadline).
  await kv.delete(["t", "c"]);
  log.push(["deleted", entry(await kv.get(["t", "c"]))]);
  await kv.set(["x"], "soon", { expireIn: EXPIRE_IN_MS });
  log.push(["before expiry", (await kv.get(["x"])).value]);
  return log;
}

Deno.test("KV Connect server: Deno.openKv reads and writes exactly as on a KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-kvc-test-" });
  try {
    const file = await Deno.openKv(join(dir, "local.kv"));
    const started = Date.now();
    const onFile = await transcript(file);
    file.close();
    await using server = await startKvConnect();
    const kv = await openKvConnect(server);
    const onConnect = await transcript(kv);
    kv.close();
    assert.deepEqual(onConnect, onFile);
    // expireIn reached the store behind the server as it reaches a file: one deadline, 5 min on.
    for (const path of [join(dir, "local.kv"), server.path]) {
      const [at, ...more] = expiriesIn(path);
      assert.equal(more.length, 0, path);
      assert.ok(at >= started + EXPIRE_IN_MS && at <= Date.now() + EXPIRE_IN_MS, `${path}: ${at}`);
    }
    // The transcript went over the wire, and the file behind the server holds what was written.
    const stats = await server.stats();
    assert.ok(stats.atomic_write > 20 && stats.snapshot_read > 10, JSON.stringify(stats));
    const behind = await Deno.openKv(server.path);
    assert.equal((await behind.get(["t", "b"])).value, "b2");
    behind.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KV Connect server: two clients share one store; of two racing null checks one commits", async () => {
  await using server = await startKvConnect();
  const a = await openKvConnect(server);
  const b = await openKvConnect(server);
  try {
    const w = await a.set(["shared"], "from a");
    const seen = await b.get(["shared"]);
    assert.equal(seen.value, "from a");
    assert.equal(seen.versionstamp, w.versionstamp);
    for (let round = 0; round < 20; round++) {
      const key = ["unique", round];
      const results = await Promise.all(
        [a, b, a, b].map((kv, i) =>
          kv.atomic().check({ key, versionstamp: null }).set(key, i).commit()
        ),
      );
      assert.equal(results.filter((r) => r.ok).length, 1, `round ${round}`);
    }
    // Named databases on one server are separate stores.
    const other = await openKvConnect(server, server.database("other"));
    assert.equal((await other.get(["shared"])).value, null);
    other.close();
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("KV Connect server: watch streams changes as on a KV file", async () => {
  await using server = await startKvConnect();
  const kv = await openKvConnect(server);
  const reader = kv.watch([["w", 1], ["w", 2]]).getReader();
  try {
    const first = await reader.read();
    assert.deepEqual(first.value?.map((e) => e.value), [null, null]);
    await kv.set(["w", 2], "changed");
    let next = await reader.read();
    // A notification may repeat the current state before the change lands.
    while (next.value?.[1].value !== "changed") next = await reader.read();
    assert.deepEqual(next.value?.map((e) => e.value), [null, "changed"]);
  } finally {
    await reader.cancel();
    kv.close();
  }
});

Deno.test("KV Connect server: an atomic operation holds 10 checks (a KV file: 100); Weft's opener records it", async () => {
  await using server = await startKvConnect();
  const kv = await openKvConnect(server);
  const file = await Deno.openKv(":memory:");
  const withChecks = (store: Deno.Kv, n: number) => {
    const op = store.atomic();
    for (let i = 0; i < n; i++) op.check({ key: ["c", i], versionstamp: null });
    return op.set(["c", "done", n], true).commit();
  };
  try {
    assert.equal(maxChecks(kv), 10);
    assert.equal(maxChecks(file), 100);
    assert.ok((await withChecks(kv, 10)).ok);
    await assert.rejects(withChecks(kv, 11), /TooManyChecks/);
    assert.ok((await withChecks(file, 100)).ok);
    // Mutations and reads per call have the same limits on both.
    const sets = (store: Deno.Kv, n: number) => {
      const op = store.atomic();
      for (let i = 0; i < n; i++) op.set(["m", i], i);
      return op.commit();
    };
    assert.ok((await sets(kv, 1000)).ok);
    await assert.rejects(sets(kv, 1001), /Too many mutations/);
    await assert.rejects(kv.getMany(Array.from({ length: 11 }, (_, i) => ["m", i])), /ranges/);
  } finally {
    kv.close();
    file.close();
  }
});

/** Runs a short script in its own process (its own DENO_KV_ACCESS_TOKEN) and returns its output. */
async function runClient(
  code: string,
  env: Record<string, string>,
): Promise<{ out: string; err: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-kv", code],
    // Only what Deno itself needs: the access token comes from `env` alone.
    env: {
      NO_COLOR: "1",
      HOME: Deno.env.get("HOME") ?? "/",
      PATH: Deno.env.get("PATH") ?? "",
      ...env,
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
  const { stdout, stderr } = await cmd.output();
  return { out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

Deno.test("KV Connect server: queues are not offered (enqueue refused, listenQueue never delivers)", async () => {
  await using server = await startKvConnect();
  const kv = await openKvConnect(server);
  try {
    await assert.rejects(kv.enqueue("job"), /Enqueue operations are not supported in KV Connect/);
  } finally {
    kv.close();
  }
  // A message queued in the same SQLite file reaches a local listener, never a KV Connect one.
  const local = await Deno.openKv(server.path);
  await local.enqueue("queued behind the server");
  local.close();
  const listen = (url: string) => `
    const kv = await Deno.openKv(${JSON.stringify(url)});
    const got = new Promise((r) => kv.listenQueue(r));
    const out = await Promise.race([got, new Promise((r) => setTimeout(() => r("nothing"), 3000))]);
    console.log(out);
    Deno.exit(0);`;
  const env = { DENO_KV_ACCESS_TOKEN: server.token };
  const remote = await runClient(listen(server.url), env);
  assert.equal(remote.out.trim(), "nothing");
  const onFile = await runClient(listen(server.path), env);
  assert.equal(onFile.out.trim(), "queued behind the server");
});

Deno.test("KV Connect server: a wrong or missing access token is refused with Deno's own message", async () => {
  await using server = await startKvConnect();
  const read = `
    try {
      const kv = await Deno.openKv(${JSON.stringify(server.url)});
      console.log(JSON.stringify(await kv.get(["a"])));
    } catch (e) {
      console.log(String(e));
    }
    Deno.exit(0);`;
  const wrong = await runClient(read, { DENO_KV_ACCESS_TOKEN: "not-the-token-at-all" });
  assert.match(wrong.out, /Invalid access token/);
  const missing = await runClient(read, {});
  assert.match(missing.out, /Missing DENO_KV_ACCESS_TOKEN/);
  const right = await runClient(read, { DENO_KV_ACCESS_TOKEN: server.token });
  assert.match(right.out, /"versionstamp":null/);
});
