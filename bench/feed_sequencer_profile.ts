/**
 * Where the feed's sequencer spends a member batch: creates `--users` users and a group, PATCHes
 * `--members` of them in (one note), then times `sequenceTenant` and counts the store calls it
 * makes. `deno run -A --unstable-kv bench/feed_sequencer_profile.ts [--users 2000] [--members 1000]`
 * @module
 */
import { parseArgs } from "node:util";
import { createGroup, createTestApp, createUsers, patchGroup } from "../tests/_helpers.ts";
import { sequenceTenant } from "../lib/store/feed_sequencer.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    users: { type: "string", default: "2000" },
    members: { type: "string", default: "1000" },
    repeat: { type: "string", default: "3" },
  },
});
const t = await createTestApp();
const ids = await createUsers(t, Number(args.users));
await sequenceTenant(t.kv, t.tenant.id);

const counts = new Map<string, number>();
const kv = t.kv as unknown as Record<string, (...a: unknown[]) => unknown>;
for (const m of ["get", "getMany", "list", "atomic"]) {
  const orig = kv[m].bind(t.kv);
  kv[m] = (...a: unknown[]) => {
    counts.set(m, (counts.get(m) ?? 0) + 1);
    return orig(...a);
  };
}
/** CPU ms this process used (every thread), from /proc. */
function cpuMs(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const times: number[] = [];
for (let r = 0; r < Number(args.repeat); r++) {
  const group = await createGroup(t);
  await sequenceTenant(t.kv, t.tenant.id);
  const members = ids.slice(0, Number(args.members)).map((value) => ({ value }));
  const res = await patchGroup(t, group, [{ op: "add", path: "members", value: members }]);
  await res.body?.cancel();
  counts.clear();
  const c0 = cpuMs();
  const t0 = performance.now();
  const n = await sequenceTenant(t.kv, t.tenant.id);
  times.push(performance.now() - t0);
  const cpu = cpuMs() - c0;
  // deno-lint-ignore no-console
  console.log(
    `events ${n} in ${times.at(-1)!.toFixed(1)} ms (CPU ${cpu} ms); calls`,
    Object.fromEntries(counts),
  );
}
t.close();
