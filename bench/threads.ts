/**
 * Server CPU per request split by thread: the JavaScript thread, Deno KV's SQLite worker and V8's
 * garbage-collection helpers. Starts one system on a fresh store (as `deno task bench` does),
 * replays the create, lookup, deactivate and Entra phases, and reads each thread's user + system
 * time from `/proc/<pid>/task/<tid>/stat` around every phase.
 *
 * ```sh
 * deno run -A --unstable-kv bench/threads.ts [--system weft|baseline] [--users 5000]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { startSystem, type SystemName } from "./systems.ts";
import {
  createPhase,
  deactivatePhase,
  entraPhase,
  lookupPhase,
  profilingOptions,
  type ReplayState,
} from "./workloads.ts";

/** Clock ticks per second of /proc times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU ticks used so far by each thread name of a process (threads of one name summed). */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(name, (out.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
  }
  return out;
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: { system: { type: "string" }, users: { type: "string" } },
  });
  const system = (values.system ?? "weft") as SystemName;
  const users = Number(values.users ?? 5000);
  const target = await startSystem(system);
  const o = profilingOptions(users);
  const state: ReplayState = { userIds: [], groupIds: [] };
  const phases: [string, () => Promise<{ requests: number; rps: number }>][] = [
    ["create", () => createPhase(target, o, state)],
    ["lookup", () => lookupPhase(target, o)],
    ["deactivate", () => deactivatePhase(target, o, state)],
    ["entra", () => entraPhase(target, o, state)],
  ];
  try {
    for (const [name, run] of phases) {
      const before = threadTicks(target.pid);
      const stats = await run();
      const after = threadTicks(target.pid);
      const parts = [...after]
        .map(([thread, t]) => [thread, (t - (before.get(thread) ?? 0)) / stats.requests] as const)
        .filter(([, t]) => t > 0)
        .map(([thread, t]) => `${thread} ${(t * 1000 / TICKS_PER_SECOND).toFixed(2)}`);
      // deno-lint-ignore no-console
      console.log(
        `${system} ${name}: ${stats.rps.toFixed(0)} req/s; CPU ms/request by thread: ${
          parts.join(", ")
        }`,
      );
    }
  } finally {
    await target.stop();
  }
}

if (import.meta.main) await main();
