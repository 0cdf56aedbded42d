/**
 * What the SCIM request log costs, per benchmark phase, to within a few percent on a noisy
 * machine. Side-by-side HTTP runs move by ±20 % between runs here; this measures in one process
 * instead, where both configurations see the same machine at the same moment:
 *
 * ```sh
 * deno run -A --unstable-kv bench/request_log_cost.ts [--rounds 60] [--json] [--phases create,page]
 * ```
 *
 * Two Weft apps share ONE Deno KV store on a temporary file (SQLite, as in production): one logs
 * SCIM requests (`requestLogDays` 7), the other does not (0). Each arm has its own tenant, IdP and
 * token, and identical data, so both do the same non-log work. For each phase, every round runs a
 * block of requests on one arm and then the same block on the other (which goes first alternates),
 * through `app.fetch`, reading every response body. A block ends with `flushRequestLog(kv)` inside
 * the measured interval (on both arms), so the log's deferred group commits are paid for by the
 * block that caused them. The process's CPU time (`process.cpuUsage()`: every thread, the KV
 * thread and the GC helpers included) and wall time are taken per block.
 *
 * Reported per phase: median CPU µs per request of each arm, the cost (median over rounds of the
 * per-round ratio on/off, minus 1) with its interquartile range and a bootstrap 95 % interval of
 * the median, and the throughput it implies for a CPU-bound server (on/off = off CPU / on CPU).
 *
 * The script re-runs itself under the V8 flags of `deno task start` (a 1 MiB semi-space, so the
 * log's garbage is collected as often as in production). `--null` turns the log off in both arms:
 * the costs it shows are the method's own error (they should sit around 0). `--cpu-prof-dir DIR`
 * writes a CPU profile of the run there; `--only on|off` runs one arm (for profiles of one
 * configuration).
 *
 * What it leaves out: HTTP parsing and socket writes, which a served request also costs, so the
 * cost shown is somewhat above what a served request pays (an upper bound); and concurrency
 * (requests of a block run one after another).
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { createIdp, createTenant, createToken } from "../lib/store/tenants.ts";
import { flushRequestLog } from "../lib/store/request_log.ts";
import { createApp } from "../routes/mod.ts";
import { groupName, memberPatch, oktaUser, userName } from "./workloads.ts";
import { summarize } from "./cpu_profile.ts";

const CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/** The V8 flags of `deno task start`. */
const SERVE_V8_FLAGS = "--max-semi-space-size=1,--max-old-space-size=1024";
const CHILD_MARK = "WEFT_RLOG_COST_CHILD";
/** The limit the log must stay within, per phase. */
const BUDGET = 0.05;

export type App = ReturnType<typeof createApp>;
export type ArmName = "on" | "off";

/** One configuration: its app, and its own tenant, connection, token and users. */
export interface Arm {
  name: ArmName;
  app: App;
  tenantId: string;
  idpId: string;
  host: string;
  base: string;
  token: string;
  /** Ids of the users every arm has from the start (index = user number). */
  base_users: string[];
  /** Ids of users no phase has changed yet, ready for the deactivate and Entra phases. */
  unused: string[];
  /** The next user number to create. */
  next: number;
  /** Groups for the member phase, each with how many batches it has been sent. */
  groups: { id: string; name: string; batches: number }[];
}

/** One request, ready to send: everything the client would have built beforehand. */
export interface Call {
  method: string;
  path: string;
  body?: string;
  /** Keeps the id of a created user (create phase). */
  keep?: boolean;
}

/** A benchmark phase: requests per block, and the requests of one block on one arm. */
export interface PhaseDef {
  name: string;
  what: string;
  block: number;
  /** Unmeasured preparation before a block (creating what the block needs). */
  prepare?: (arm: Arm, ctx: Context, n: number) => Promise<void>;
  calls: (arm: Arm, round: number, n: number) => Call[];
}

export interface Context {
  offApp: App;
}

const SERVE_INFO = { remoteAddr: { hostname: "127.0.0.1" } };

export async function send(app: App, arm: Arm, call: Call): Promise<string> {
  const res = await app.fetch(
    new Request(arm.base + call.path, {
      method: call.method,
      headers: {
        host: arm.host,
        authorization: `Bearer ${arm.token}`,
        "user-agent": "Okta SCIM Client 1.0",
        ...(call.body === undefined ? {} : { "content-type": "application/scim+json" }),
      },
      body: call.body,
    }),
    SERVE_INFO,
  );
  const text = await res.text();
  if (res.status >= 400) {
    throw new Error(`${arm.name}: ${call.method} ${call.path} → ${res.status} ${text}`);
  }
  return text;
}

function idOf(text: string): string {
  const id = (JSON.parse(text) as { id?: unknown }).id;
  if (typeof id !== "string") throw new Error(`no id in ${text.slice(0, 200)}`);
  return id;
}

/** Creates `n` users on an arm without logging them (through the log-off app). */
export async function createUsers(app: App, arm: Arm, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let k = 0; k < n; k++) {
    const body = JSON.stringify(oktaUser(arm.next++));
    ids.push(idOf(await send(app, arm, { method: "POST", path: "/Users", body })));
  }
  return ids;
}

/** `n` users no phase has changed, created (unmeasured) when there are not enough. */
async function takeUnused(ctx: Context, arm: Arm, n: number): Promise<string[]> {
  if (arm.unused.length < n) {
    arm.unused.push(...await createUsers(ctx.offApp, arm, n - arm.unused.length));
  }
  return arm.unused.splice(0, n);
}

const filterPath = (attr: string, value: string) =>
  `/Users?filter=${encodeURIComponent(`${attr} eq "${value}"`)}&startIndex=1&count=100`;

/** Users every arm starts with: what lookups read, member batches add and pages list. */
export const BASE_USERS = 1000;
const MEMBERS = 50;

/** The phases, in the benchmark's order; `pending` holds per-block state between prepare/calls. */
export function phases(): PhaseDef[] {
  const pending = new Map<ArmName, string[]>();
  return [
    {
      name: "create",
      what: "POST /Users (Okta's body)",
      block: 50,
      calls: (arm, _round, n) =>
        Array.from({ length: n }, () => ({
          method: "POST",
          path: "/Users",
          body: JSON.stringify(oktaUser(arm.next++)),
          keep: true,
        })),
    },
    {
      name: "lookup",
      what: 'GET /Users/{id}, GET /Users?filter=userName eq "…"',
      block: 50,
      calls: (arm, round, n) =>
        Array.from({ length: n }, (_, k) => {
          const i = (round * n + k) % BASE_USERS;
          return k % 2
            ? { method: "GET", path: filterPath("userName", userName(i)) }
            : { method: "GET", path: `/Users/${arm.base_users[i]}` };
        }),
    },
    {
      name: "groups",
      what: `PATCH /Groups/{id}: Okta's rename + add ${MEMBERS} members`,
      block: 10,
      // A group takes batches of distinct users until every base user is in it, then the next
      // group starts: every batch adds members the group does not have.
      prepare: async (arm, ctx, n) => {
        const perGroup = BASE_USERS / MEMBERS;
        let open = arm.groups.filter((g) => g.batches < perGroup).length;
        while (open * perGroup < n + perGroup) {
          const name = groupName(arm.groups.length);
          const text = await send(ctx.offApp, arm, {
            method: "POST",
            path: "/Groups",
            body: JSON.stringify({ schemas: [CORE_GROUP], displayName: name, members: [] }),
          });
          arm.groups.push({ id: idOf(text), name, batches: 0 });
          open++;
        }
      },
      calls: (arm, _round, n) => {
        const perGroup = BASE_USERS / MEMBERS;
        const out: Call[] = [];
        for (let k = 0; k < n; k++) {
          const g = arm.groups.find((g) => g.batches < perGroup)!;
          const from = g.batches++ * MEMBERS;
          const members = arm.base_users.slice(from, from + MEMBERS).map((value, j) => ({
            value,
            display: userName(from + j),
          }));
          out.push({
            method: "PATCH",
            path: `/Groups/${g.id}`,
            body: JSON.stringify(memberPatch(g.id, g.name, members)),
          });
        }
        return out;
      },
    },
    {
      name: "deactivate",
      what: "PATCH /Users/{id}: Okta's pathless replace active false",
      block: 50,
      prepare: async (arm, ctx, n) => void pending.set(arm.name, await takeUnused(ctx, arm, n)),
      calls: (arm) =>
        pending.get(arm.name)!.map((id) => ({
          method: "PATCH",
          path: `/Users/${id}`,
          body: JSON.stringify({
            schemas: [PATCH_OP],
            Operations: [{ op: "replace", value: { active: false } }],
          }),
        })),
    },
    {
      name: "page",
      what: "GET /Users?startIndex=…&count=100, page after page",
      block: 10,
      calls: (_arm, round, n) =>
        Array.from({ length: n }, (_, k) => {
          const p = (round * n + k) % (BASE_USERS / 100);
          return { method: "GET", path: `/Users?startIndex=${p * 100 + 1}&count=100` };
        }),
    },
    {
      name: "entra",
      what: 'Entra\'s PATCH of email + familyName, then its disable (active "False")',
      block: 50,
      prepare: async (arm, ctx, n) =>
        void pending.set(arm.name, await takeUnused(ctx, arm, Math.ceil(n / 2))),
      calls: (arm, _round, n) =>
        pending.get(arm.name)!.flatMap((id, k) => [
          {
            method: "PATCH",
            path: `/Users/${id}`,
            body: JSON.stringify({
              schemas: [PATCH_OP],
              Operations: [
                {
                  op: "Replace",
                  path: 'emails[type eq "work"].value',
                  value: `renamed.${k}@example.com`,
                },
                { op: "Replace", path: "name.familyName", value: "Renamed" },
              ],
            }),
          },
          {
            method: "PATCH",
            path: `/Users/${id}`,
            body: JSON.stringify({
              schemas: [PATCH_OP],
              Operations: [{ op: "Replace", path: "active", value: "False" }],
            }),
          },
        ]).slice(0, n),
    },
  ];
}

/** One measured block. */
interface Sample {
  cpuUs: number;
  wallUs: number;
  requests: number;
}

function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

/** A bootstrap 95 % interval of the median (seeded, so a run's numbers are reproducible). */
function bootstrapMedian(xs: number[], resamples = 2000): [number, number] {
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const medians: number[] = [];
  const draw = new Array<number>(xs.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < xs.length; i++) draw[i] = xs[Math.floor(rand() * xs.length)];
    medians.push(median(draw));
  }
  return [quantile(medians, 0.025), quantile(medians, 0.975)];
}

/** What one phase measured. */
export interface PhaseResult {
  phase: string;
  requests: string;
  block: number;
  rounds: number;
  cpuUsPerRequest: { off: number; on: number };
  wallUsPerRequest: { off: number; on: number };
  /** Median over rounds of (on CPU / off CPU) − 1. */
  cost: number;
  costIqr: [number, number];
  costCi95: [number, number];
  /** Throughput with the log relative to without, for a CPU-bound server: 1 / (1 + cost). */
  throughputOnOverOff: number;
  withinBudget: boolean;
  /** CPU µs per request of each measured block, in round order (for a closer look). */
  blocks: { off: number[]; on: number[] };
}

async function runBlock(arm: Arm, kv: Deno.Kv, calls: Call[]): Promise<Sample> {
  const kept: string[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const call of calls) {
    const text = await send(arm.app, arm, call);
    if (call.keep) kept.push(text);
  }
  // The log-on arm's deferred commits belong to this block; the off arm makes the same call.
  await flushRequestLog(kv);
  const wallUs = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  // Users created here serve the later phases (outside the measured interval).
  for (const text of kept) arm.unused.push(idOf(text));
  return { cpuUs: cpu.user + cpu.system, wallUs, requests: calls.length };
}

async function measurePhase(
  def: PhaseDef,
  arms: Arm[],
  kv: Deno.Kv,
  ctx: Context,
  rounds: number,
  warmup: number,
): Promise<PhaseResult> {
  const samples: Record<ArmName, Sample[]> = { on: [], off: [] };
  for (let r = -warmup; r < rounds; r++) {
    const order = (r & 1) ? [...arms].reverse() : arms;
    for (const arm of order) {
      await def.prepare?.(arm, ctx, def.block);
      const calls = def.calls(arm, r + warmup, def.block);
      const s = await runBlock(arm, kv, calls);
      if (r >= 0) samples[arm.name].push(s);
    }
  }
  const per = (s: Sample) => s.cpuUs / s.requests;
  const wall = (s: Sample) => s.wallUs / s.requests;
  const on = samples.on;
  const off = samples.off;
  const both = on.length > 0 && off.length > 0;
  const ratios = both ? on.map((s, i) => per(s) / per(off[i]) - 1) : [];
  const cost = both ? median(ratios) : NaN;
  const ci = both ? bootstrapMedian(ratios) : [NaN, NaN] as [number, number];
  return {
    phase: def.name,
    requests: def.what,
    block: def.block,
    rounds,
    cpuUsPerRequest: { off: median(off.map(per)), on: median(on.map(per)) },
    wallUsPerRequest: { off: median(off.map(wall)), on: median(on.map(wall)) },
    cost,
    costIqr: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
    costCi95: ci,
    throughputOnOverOff: 1 / (1 + cost),
    withinBudget: cost <= BUDGET,
    blocks: { off: off.map((s) => Math.round(per(s))), on: on.map((s) => Math.round(per(s))) },
  };
}

export async function makeArm(
  kv: Deno.Kv,
  name: ArmName,
  app: App,
): Promise<Arm> {
  const tenant = await createTenant(kv, { subdomain: `rlog-${name}` });
  const idp = await createIdp(kv, tenant.id, { name: "Okta", kind: "okta" });
  const { secret } = await createToken(kv, tenant.id, idp.id, {
    name: "bench",
    createdBy: "bench",
  });
  const host = `rlog-${name}.localhost`;
  return {
    name,
    app,
    tenantId: tenant.id,
    idpId: idp.id,
    host,
    base: `http://${host}/scim/v2/inbound/${idp.id}`,
    token: secret,
    base_users: [],
    unused: [],
    next: 0,
    groups: [],
  };
}

/** Runs the measurement; returns one result per phase. */
export async function measure(options: {
  rounds: number;
  warmup: number;
  phases?: string[];
  only?: ArmName;
  /** Both arms with the log off: what the method reads when there is no difference. */
  null?: boolean;
  log?: (line: string) => void;
}): Promise<PhaseResult[]> {
  const log = options.log ?? (() => {});
  const dir = await Deno.makeTempDir({ prefix: "weft-rlog-cost-" });
  const kv = await Deno.openKv(join(dir, "weft.kv"));
  try {
    const logger = createLogger("off");
    const base = loadConfig({ WEFT_KV_PATH: join(dir, "weft.kv"), WEFT_LOG: "off" });
    const config = (requestLogDays: number) => ({ ...base, requestLogDays });
    const onApp = createApp({ kv, config: config(options.null ? 0 : 7), log: logger });
    const offApp = createApp({ kv, config: config(0), log: logger });
    const ctx: Context = { offApp };
    const all = [await makeArm(kv, "off", offApp), await makeArm(kv, "on", onApp)];
    for (const arm of all) {
      arm.base_users = await createUsers(offApp, arm, BASE_USERS);
      log(`${arm.name}: ${BASE_USERS} users in place`);
    }
    const arms = options.only ? all.filter((a) => a.name === options.only) : all;
    const out: PhaseResult[] = [];
    for (const def of phases()) {
      if (options.phases && !options.phases.includes(def.name)) continue;
      const started = performance.now();
      const result = await measurePhase(def, arms, kv, ctx, options.rounds, options.warmup);
      out.push(result);
      log(
        `${def.name}: cost ${pct(result.cost)} (${
          ((performance.now() - started) / 1000).toFixed(1)
        } s)`,
      );
    }
    return out;
  } finally {
    await flushRequestLog(kv);
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function pct(x: number): string {
  if (!Number.isFinite(x)) return "—";
  return `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
}

/** The results as a markdown table. */
export function table(rows: PhaseResult[]): string {
  const lines = [
    "| phase | requests per block × rounds | CPU µs/req, log off | CPU µs/req, log on | cost (median) | IQR | 95 % CI | throughput on/off | wall µs/req off → on |",
    "| ----- | --------------------------: | ------------------: | -----------------: | ------------: | --: | ------: | ----------------: | -------------------: |",
    ...rows.map((r) =>
      `| ${r.phase}${r.withinBudget ? "" : " ⚠"} | ${r.block} × ${r.rounds} | ${
        r.cpuUsPerRequest.off.toFixed(0)
      } | ${r.cpuUsPerRequest.on.toFixed(0)} | ${pct(r.cost)} | ${pct(r.costIqr[0])} … ${
        pct(r.costIqr[1])
      } | ${pct(r.costCi95[0])} … ${pct(r.costCi95[1])} | ${
        Number.isFinite(r.throughputOnOverOff) ? r.throughputOnOverOff.toFixed(3) : "—"
      } | ${r.wallUsPerRequest.off.toFixed(0)} → ${r.wallUsPerRequest.on.toFixed(0)} |`
    ),
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string" },
      warmup: { type: "string" },
      phases: { type: "string" },
      only: { type: "string" },
      json: { type: "boolean" },
      null: { type: "boolean" },
      "cpu-prof-dir": { type: "string" },
    },
  });
  if (!Deno.env.get(CHILD_MARK)) {
    // Re-run under the served app's V8 flags (and a CPU profile, when asked for).
    const prof = values["cpu-prof-dir"];
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        `--v8-flags=${SERVE_V8_FLAGS}`,
        ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : []),
        import.meta.filename!,
        ...Deno.args,
      ],
      env: { [CHILD_MARK]: "1" },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    });
    const { code } = await child.output();
    if (prof && code === 0 && !values.json) {
      const file = [...Deno.readDirSync(prof)].filter((f) => f.name.endsWith(".cpuprofile"))
        .map((f) => join(prof, f.name)).sort((a, b) =>
          Deno.statSync(b).mtime!.getTime() - Deno.statSync(a).mtime!.getTime()
        )[0];
      if (file) {
        const { functions, files } = summarize(JSON.parse(await Deno.readTextFile(file)), 40);
        const lines = [`\nCPU profile ${file}`, "self time by file:"];
        for (const [k, v] of files) lines.push(`  ${v.toFixed(1).padStart(5)} %  ${k}`);
        lines.push("self time by function:");
        for (const [k, v] of functions) lines.push(`  ${v.toFixed(1).padStart(5)} %  ${k}`);
        // deno-lint-ignore no-console
        console.log(lines.join("\n"));
      }
    }
    Deno.exit(code);
  }
  const only = values.only as ArmName | undefined;
  if (only && only !== "on" && only !== "off") throw new Error("--only takes on or off");
  const rows = await measure({
    rounds: Number(values.rounds ?? 60),
    warmup: Number(values.warmup ?? 3),
    phases: values.phases?.split(","),
    only,
    null: values.null,
    // deno-lint-ignore no-console
    log: (line) => console.error(line),
  });
  // deno-lint-ignore no-console
  console.log(values.json ? JSON.stringify(rows, null, 2) : table(rows));
}

if (import.meta.main) await main();
