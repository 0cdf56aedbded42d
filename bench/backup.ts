/**
 * The full-size backup round trip: 100,000 users and a 50,000-member group (by default) made
 * through SCIM on a real server, then `weft backup` live while the server serves, `weft backup
 * --point-in-time`, `weft restore` into an empty store, a server on the restored store, and every
 * SCIM read and event compared. Prints the timings; `deno task bench:backup [--users N]
 * [--members N]`.
 * @module
 */
import { parseArgs } from "node:util";
import assert from "node:assert/strict";
import { join, provision, runCli, withKv, withServers } from "../tests/reliability/_server.ts";
import {
  type DirectoryView,
  eventsIn,
  readDirectory,
  seedDirectory,
} from "../tests/reliability/_roundtrip.ts";
import { checkInvariants } from "../lib/store/invariants.ts";

const { values } = parseArgs({
  options: { users: { type: "string" }, members: { type: "string" }, dir: { type: "string" } },
});
const users = Number(values.users ?? 100_000);
const members = Number(values.members ?? 50_000);

function say(line: string) {
  // deno-lint-ignore no-console
  console.log(line);
}

async function weft(kvPath: string, args: string[]): Promise<{ ms: number; out: string }> {
  const r = await runCli(kvPath, args);
  if (r.code !== 0) throw new Error(`weft ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return { ms: r.ms, out: r.stdout };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const dir = values.dir ?? await Deno.makeTempDir({ prefix: "weft-bench-backup-" });
const a = join(dir, "a.kv");
const b = join(dir, "b.kv");
const live = join(dir, "live.weftbak");
const pit = join(dir, "pit.weftbak");
try {
  const p = await provision(a, "bench", [{ name: "Okta", kind: "okta" }, {
    name: "Entra",
    kind: "entra",
  }]);
  const spec = { tenant: "bench", logLevel: "off" as const };
  let before: DirectoryView | undefined;
  await withServers([{ ...spec, kvPath: a }], async ([s]) => {
    let t = performance.now();
    await seedDirectory(s.origin, p, { users, members, otherUsers: 100, concurrency: 16 }, (n) => {
      if (n % 10_000 === 0) say(`  seeded ${n} users (${secs(performance.now() - t)})`);
    });
    say(`seed: ${users} users, a ${members}-member group in ${secs(performance.now() - t)}`);
    t = performance.now();
    before = await readDirectory(s.origin, p.idps);
    say(`read everything through SCIM: ${secs(performance.now() - t)}`);
    const l = await weft(a, ["backup", "--out", live]);
    say(`backup (live, server serving): ${secs(l.ms)}\n${l.out}`);
    const q = await weft(a, ["backup", "--point-in-time", "--pause-max", "600", "--out", pit]);
    say(`backup --point-in-time: ${secs(q.ms)}\n${q.out}`);
  });
  const r = await weft(b, ["restore", "--from", pit]);
  say(`restore: ${secs(r.ms)}\n${r.out}`);
  assert.match(r.out, /Invariant check: passed/);
  await withKv(b, async (kv) => assert.deepEqual(await checkInvariants(kv, p.tenant.id), []));
  assert.deepEqual(await eventsIn(b, p.tenant.id), await eventsIn(a, p.tenant.id));
  await withServers([{ ...spec, kvPath: b }], async ([s]) => {
    const t = performance.now();
    assert.deepStrictEqual(await readDirectory(s.origin, p.idps), before);
    say(`restored store: every SCIM read and event identical (${secs(performance.now() - t)})`);
  });
  for (const f of [live, pit]) {
    say(`${f}: ${((await Deno.stat(f)).size / 1024 / 1024).toFixed(1)} MiB`);
  }
} finally {
  if (!values.dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
}
