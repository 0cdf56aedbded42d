/**
 * The webhooks benchmark (`deno task bench:webhooks [--users <n>] [--groups <g>] [--runs <r>]`):
 * a create phase (POST /Users over HTTP to a `deno serve` server on a file store, 16 in flight)
 * and a member-batch phase (PATCH add of 50 members per request, 4 in flight, every user into
 * each of `g` groups: 50 `group.user_added` events per request), with no endpoint, with one
 * endpoint subscribed to `*` on a loopback receiver that verifies every signature, and with a
 * dead endpoint (it never answers: every attempt times out).
 *
 * Each run starts the three modes in turn (rotated between runs) on fresh stores; the table
 * gives medians over the runs of each mode's throughput ÷ no endpoint's in the same run, the
 * server's CPU per SCIM request during the phase, and, for the live endpoint, the delivery lag
 * (commit answered → receiver) p50/p99 during the phase, how long the backlog took to drain
 * after it, and the server's CPU per delivered event. The live endpoint's create backlog drains
 * before the member phase starts, so each phase pays only for its own deliveries.
 * @module
 */
import { parseArgs } from "node:util";
import { createEndpoint } from "../lib/store/webhooks.ts";
import {
  pool,
  provision,
  ScimClient,
  startServer,
  userBody,
  withTempDir,
} from "../tests/reliability/_server.ts";
import { openTestKv } from "../tests/_kv_connect.ts";
import { startReceiver } from "../tests/_webhooks.ts";
import { cpuTime } from "./systems.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string" },
    groups: { type: "string" },
    runs: { type: "string" },
  },
});
const USERS = Number(values.users ?? 1500);
const GROUPS = Number(values.groups ?? 4);
const RUNS = Number(values.runs ?? 3);
const BATCH = 50;
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

type Mode = "none" | "live" | "dead";

interface Phase {
  perSec: number;
  /** Server CPU per SCIM request during the phase (ms). */
  cpuMs: number;
  /** Live endpoint: lag of the events committed during the phase, p50 / p99 (ms). */
  lag?: [number, number];
  /** Live endpoint: from the phase's end until its last event arrived (ms). */
  drainMs?: number;
  /** Live endpoint: server CPU from the phase's start to the drain's end, per event (ms). */
  cpuPerEventMs?: number;
}

interface Result {
  mode: Mode;
  create: Phase;
  members: Phase;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function run(mode: Mode): Promise<Result> {
  return await withTempDir(async (dir) => {
    const kvPath = `${dir}/weft.kv`;
    const { tenant, idps } = await provision(kvPath, "acme");
    const receiver = startReceiver(() =>
      mode === "dead" ? { status: 200, delayMs: 60_000 } : { status: 204 }
    );
    const kv = await openTestKv(kvPath);
    if (mode !== "none") {
      const { secret } = await createEndpoint(kv, tenant.id, {
        url: receiver.url,
        events: ["*"],
        description: mode,
      }, { actor: "bench" });
      receiver.secrets = [secret];
    }
    kv.close();
    const server = await startServer({
      kvPath,
      tenant: "acme",
      env: {
        WEFT_WEBHOOK_ALLOW_PRIVATE: "true",
        WEFT_REQUEST_LOG_DAYS: "0",
        WEFT_WEBHOOK_TIMEOUT_MS: "10000",
      },
    });
    const pid = server.proc.pid;
    const ofType = (type: string) =>
      receiver.received.filter((r) => r.body.includes(`"type":"${type}"`));
    /** Waits until `n` events of `type` arrived; the time it took after `from`. */
    const drain = async (type: string, n: number, from: number) => {
      const deadline = Date.now() + 180_000;
      while (Date.now() < deadline && ofType(type).length < n) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const last = Math.max(...ofType(type).map((r) => r.at));
      return Math.max(0, last - from);
    };
    try {
      const client = new ScimClient([server.origin], idps[0].idp.id, idps[0].token, mode);
      client.log.length = 0;
      const answeredAt = new Map<string, number>();

      // Creates.
      let cpu0 = await cpuTime(pid);
      let t0 = performance.now();
      await pool(USERS, 16, async (i) => {
        const r = await client.send("POST", "/Users", userBody(mode, i));
        if (r.status === 201) answeredAt.set(String(r.json.id), Date.now());
      });
      client.log.length = 0;
      const create: Phase = {
        perSec: USERS / ((performance.now() - t0) / 1000),
        cpuMs: (await cpuTime(pid) - cpu0) / USERS,
      };
      if (mode === "live") {
        const end = Date.now();
        create.drainMs = await drain("user.created", answeredAt.size, end);
        const lags = ofType("user.created").flatMap((r) => {
          const at = answeredAt.get((JSON.parse(r.body).data as { id: string }).id);
          return at === undefined ? [] : [r.at - at];
        }).sort((a, b) => a - b);
        create.lag = [pct(lags, 0.5), pct(lags, 0.99)];
        create.cpuPerEventMs = (await cpuTime(pid) - cpu0) / answeredAt.size;
      }

      // Member batches.
      const groupIds: string[] = [];
      for (let g = 0; g < GROUPS; g++) {
        const r = await client.send("POST", "/Groups", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
          displayName: `Group ${g}`,
        });
        groupIds.push(String(r.json.id));
      }
      if (mode === "live") await drain("group.created", GROUPS, Date.now());
      const ids = [...answeredAt.keys()];
      const perGroup = Math.floor(ids.length / BATCH);
      const requests = perGroup * GROUPS;
      const sentAt: number[] = [];
      cpu0 = await cpuTime(pid);
      t0 = performance.now();
      await pool(requests, 4, async (n) => {
        const g = n % GROUPS;
        const b = Math.floor(n / GROUPS);
        await client.send("PATCH", `/Groups/${groupIds[g]}`, {
          schemas: [PATCH_OP],
          Operations: [{
            op: "add",
            path: "members",
            value: ids.slice(b * BATCH, b * BATCH + BATCH).map((value) => ({ value })),
          }],
        });
        sentAt.push(Date.now());
      });
      client.log.length = 0;
      const members: Phase = {
        perSec: (requests * BATCH) / ((performance.now() - t0) / 1000),
        cpuMs: (await cpuTime(pid) - cpu0) / requests,
      };
      if (mode === "live") {
        const end = Date.now();
        const events = requests * BATCH;
        members.drainMs = await drain("group.user_added", events, end);
        // Lag against the phase's answers in order: the k-th event against the k/50-th answer.
        const arrived = ofType("group.user_added").map((r) => r.at).sort((a, b) => a - b);
        const lags = arrived.map((at, k) =>
          at - sentAt[Math.min(sentAt.length - 1, (k / BATCH) | 0)]
        )
          .sort((a, b) => a - b);
        members.lag = [pct(lags, 0.5), pct(lags, 0.99)];
        members.cpuPerEventMs = (await cpuTime(pid) - cpu0) / events;
      }
      return { mode, create, members };
    } finally {
      await server.stop();
      await receiver.close();
    }
  });
}

const MODES: Mode[] = ["none", "live", "dead"];
const runs: Result[][] = [];
for (let r = 0; r < RUNS; r++) {
  const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]);
  const results: Result[] = [];
  for (const mode of order) results.push(await run(mode));
  runs.push(MODES.map((m) => results.find((x) => x.mode === m)!));
  // deno-lint-ignore no-console
  console.log(
    `run ${r + 1}/${RUNS}: ` +
      runs[r].map((x) =>
        `${x.mode} ${x.create.perSec.toFixed(0)} creates/s ${x.members.perSec.toFixed(0)} members/s`
      ).join(", "),
  );
}

const f = (n: number | undefined, d = 0) =>
  n === undefined || !Number.isFinite(n) ? "—" : n.toFixed(d);
const rows = MODES.map((mode, m) => {
  const of = (pick: (r: Result) => number | undefined) =>
    median(runs.map((run) => pick(run[m]) ?? NaN));
  const ratio = (phase: "create" | "members") =>
    median(runs.map((run) => run[m][phase].perSec / run[0][phase].perSec));
  return { mode, of, ratio };
});
// deno-lint-ignore no-console
console.log(
  `\nwebhooks bench: ${USERS} users, 16 creates in flight; ${GROUPS} groups × ${USERS} members in batches of ${BATCH} (4 in flight); medians of ${RUNS} runs\n`,
);
const lines = [
  "| endpoint | phase | per second | × none | server CPU ms/request | lag p50 / p99 ms | drain after ms | server CPU ms/event |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const { mode, of, ratio } of rows) {
  for (const phase of ["create", "members"] as const) {
    lines.push(
      `| ${mode} | ${phase === "create" ? "creates" : "members"} | ${
        f(of((r) => r[phase].perSec))
      } | ${f(ratio(phase), 2)} | ${f(of((r) => r[phase].cpuMs), 2)} | ${
        mode === "live"
          ? `${f(of((r) => r[phase].lag?.[0]))} / ${f(of((r) => r[phase].lag?.[1]))}`
          : "—"
      } | ${mode === "live" ? f(of((r) => r[phase].drainMs)) : "—"} | ${
        mode === "live" ? f(of((r) => r[phase].cpuPerEventMs), 3) : "—"
      } |`,
    );
  }
}
// deno-lint-ignore no-console
console.log(lines.join("\n"));
