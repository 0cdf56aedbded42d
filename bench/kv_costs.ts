/**
 * What each Deno KV operation costs on this machine, by thread: the price list behind the
 * throughput ratios. On a file-backed store (as `deno task start` and the benchmark use) with
 * 8 operations in flight, it times point reads (`get`, `getMany` of 1 to 10 keys, of user-sized
 * records and of empty index entries) and atomic commits (2, 6, 10 and 200 sets; with 1 to 100
 * checks), and prints wall time and CPU time per operation for the JavaScript thread, the KV
 * worker and V8's helper threads (from `/proc/self/task`).
 *
 * ```sh
 * deno run -A --unstable-kv bench/kv_costs.ts [--records 20000] [--reps 2000]
 * ```
 * @module
 */
import { parseArgs } from "node:util";

/** CPU time of this process's threads in ms, summed by thread name (numbers stripped). */
function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of Deno.readDirSync("/proc/self/task")) {
    const stat = Deno.readTextFileSync(`/proc/self/task/${task.name}/stat`);
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[\d-]+$/, "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime + stime, in clock ticks of 10 ms.
    const ms = (Number(fields[11]) + Number(fields[12])) * 10;
    out.set(name, (out.get(name) ?? 0) + ms);
  }
  return out;
}

/** Thread names as `/proc` shows them → the names printed. */
const THREADS: [string, string][] = [["deno", "JavaScript"], ["sw", "KV worker"], [
  "V8 DefaultWorke",
  "V8 helpers",
]];

/** One measured operation. */
export interface Cost {
  operation: string;
  wallUs: number;
  /** CPU µs per operation by thread. */
  cpuUs: Record<string, number>;
}

async function measure(
  operation: string,
  reps: number,
  run: (i: number) => Promise<unknown>,
): Promise<Cost> {
  const before = threadCpuMs();
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < reps) await run(next++);
  }));
  const wallUs = ((performance.now() - started) * 1000) / reps;
  const after = threadCpuMs();
  const cpuUs: Record<string, number> = {};
  for (const [proc, label] of THREADS) {
    cpuUs[label] = ((after.get(proc) ?? 0) - (before.get(proc) ?? 0)) * 1000 / reps;
  }
  return { operation, wallUs, cpuUs };
}

/** A user-sized record, as Weft stores an IdP row (about 600 bytes). */
function userRecord(i: number, id: string): Record<string, unknown> {
  const at = new Date().toISOString();
  return {
    userId: id,
    externalId: `00u${i.toString(36).padStart(8, "0")}h7`,
    resource: {
      userName: `user${i}@example.com`,
      name: { givenName: "Ada", familyName: "Lovelace" },
      emails: [{ value: `user${i}@example.com`, type: "work", primary: true }],
      displayName: "Ada Lovelace",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        employeeNumber: String(100000 + i),
        department: "Engineering",
        costCenter: "CC-1",
        organization: "Example Corp",
        division: "Product",
      },
    },
    active: true,
    created: at,
    lastModified: at,
  };
}

/** Measures every operation `rounds` times on a fresh store; returns the last round's costs. */
export async function kvCosts(records: number, reps: number, rounds = 2): Promise<Cost[]> {
  const dir = await Deno.makeTempDir({ prefix: "weft-kv-costs-" });
  const kv = await Deno.openKv(`${dir}/costs.kv`);
  try {
    const ids: string[] = [];
    for (let i = 0; i < records; i += 300) {
      const op = kv.atomic();
      for (let j = i; j < Math.min(records, i + 300); j++) {
        const id = crypto.randomUUID();
        ids.push(id);
        op.set(["rec", id], userRecord(j, id)).set(["mark", id], null);
      }
      await op.commit();
    }
    const some = (i: number, n: number) => {
      const at = (i * n) % (ids.length - n);
      return ids.slice(at, at + n);
    };
    let costs: Cost[] = [];
    for (let round = 0; round < rounds; round++) {
      costs = [];
      costs.push(await measure("get, 1 record", reps, (i) => kv.get(["rec", ids[i % ids.length]])));
      costs.push(
        await measure("getMany, 1 record", reps, (i) => kv.getMany([["rec", some(i, 1)[0]]])),
      );
      for (const n of [2, 3]) {
        costs.push(
          await measure(
            `getMany, ${n} records`,
            reps,
            (i) => kv.getMany(some(i, n).map((id) => ["rec", id])),
          ),
        );
      }
      costs.push(
        await measure(
          "getMany, 10 records",
          reps,
          (i) => kv.getMany(some(i, 10).map((id) => ["rec", id])),
        ),
      );
      costs.push(
        await measure(
          "getMany, 10 empty entries",
          reps,
          (i) => kv.getMany(some(i, 10).map((id) => ["mark", id])),
        ),
      );
      costs.push(
        await measure("list, 1 empty entry", reps, async (i) => {
          for await (const _ of kv.list({ prefix: ["mark", some(i, 1)[0]] })) {
            // one entry
          }
        }),
      );
      const tag = `r${round}`;
      costs.push(
        await measure("commit: 2 sets, 1 check", reps, (i) =>
          kv.atomic()
            .check({ key: ["w", tag, "a", i], versionstamp: null })
            .set(["w", tag, "a", i], userRecord(i, "x"))
            .set(["w", tag, "ev", i], { type: "e", at: "now" })
            .commit()),
      );
      costs.push(
        await measure("commit: 6 sets, 2 checks", reps, (i) =>
          kv.atomic()
            .check({ key: ["w", tag, "b", i], versionstamp: null })
            .check({ key: ["w", tag, "c", i], versionstamp: null })
            .set(["w", tag, "b", i], userRecord(i, "x"))
            .set(["w", tag, "c", i], userRecord(i, "x"))
            .set(["w", tag, "ev2", i], { type: "e", at: "now" })
            .set(["w", tag, "i1", i], null)
            .set(["w", tag, "i2", i], null)
            .set(["w", tag, "i3", i], null)
            .commit()),
      );
      costs.push(
        await measure("commit: 10 sets, 6 checks", reps, (i) => {
          const op = kv.atomic();
          for (const part of ["d", "e", "f", "g", "h", "k"]) {
            op.check({ key: ["w", tag, part, i], versionstamp: null });
          }
          op.set(["w", tag, "d", i], userRecord(i, "x")).set(["w", tag, "e", i], userRecord(i, "x"))
            .set(["w", tag, "f", i], "id").set(["w", tag, "g", i], "id").set(
              ["w", tag, "h", i],
              null,
            )
            .set(["w", tag, "ev3", i], { type: "e", at: "now" }).set(["w", tag, "j1", i], null)
            .set(["w", tag, "j2", i], null).set(["w", tag, "j3", i], null)
            .sum(["w", tag, "count"], 1n);
          return op.commit();
        }),
      );
      const batch = (i: number, checks: boolean) => {
        const op = kv.atomic();
        if (!checks) op.check({ key: ["w", tag, "gv", i], versionstamp: null });
        for (const id of some(i, 100)) {
          const row = ["w", tag, checks ? "gm2" : "gm", i, id];
          if (checks) op.check({ key: row, versionstamp: null });
          op.set(row, { display: "user@example.com" }).set(["w", tag, "ug", id, i], null);
        }
        return op.commit();
      };
      costs.push(await measure("commit: 200 sets, 1 check", reps / 10, (i) => batch(i, false)));
      costs.push(await measure("commit: 200 sets, 100 checks", reps / 10, (i) => batch(i, true)));
    }
    return costs;
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { records: { type: "string" }, reps: { type: "string" } },
  });
  const costs = await kvCosts(Number(values.records ?? 20000), Number(values.reps ?? 2000));
  const labels = THREADS.map(([, label]) => label);
  const lines = [
    `| operation | wall µs (8 in flight) | ${labels.map((l) => `${l} µs`).join(" | ")} |`,
    `| --- | ---: | ${labels.map(() => "---:").join(" | ")} |`,
    ...costs.map((c) =>
      `| ${c.operation} | ${c.wallUs.toFixed(0)} | ${
        labels.map((l) => c.cpuUs[l].toFixed(0)).join(" | ")
      } |`
    ),
  ];
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
}
