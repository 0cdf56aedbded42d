/**
 * `deno task bench`: replays Okta/Entra provisioning traffic against Weft, the KV baseline and two
 * npm peers, side by side, and writes `docs/benchmarks.md` with its chart.
 *
 * ```sh
 * deno task bench                       # 3 runs, N = 10,000, every system; writes the docs
 * deno task bench:smoke                 # N = 500, one run; fails on any error or incomplete run
 * deno task bench --scaling             # 1k vs 100k users, empty vs 50k-member group, 1,000
 *                                       # tenants (Weft, every feature on; --tenants 0 skips)
 * deno task bench --report              # rewrite the docs from bench/results/*.json
 * deno task bench --store both          # Weft and both baselines on a file and on KV Connect
 * deno run -A --unstable-kv bench/run.ts --users 2000 --runs 1 --systems weft,same-work,baseline
 * WEFT_BENCH_PIN=0:1 deno task bench …  # load generator on CPU 0, each server on CPU 1
 * ```
 *
 * All traffic goes to servers this process starts on 127.0.0.1; every phase is bounded by a
 * request budget and a deadline. A run with `same-work` first makes sure the store trace of this
 * Weft commit exists (`bench/store_trace.ts`, recorded when missing or stale), prints the store
 * operations per request of Weft, the same-work baseline and the bare one from it, and keeps
 * them in the results (`storeOps`).
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import type { PhaseStats } from "./load.ts";
import { installPeers } from "./peers/install.ts";
import {
  type BenchStore,
  DEFAULT_SYSTEMS,
  isPeer,
  pinSelf,
  ROOT,
  type Running,
  startSystem,
  type SystemName,
  SYSTEMS,
  weftVersion,
} from "./systems.ts";
import { PHASES, replay, type WorkloadOptions } from "./workloads.ts";
import { machineInfo, type RunsFile, type SystemRun, writeReport } from "./report.ts";
import { runScaling } from "./scaling.ts";
import { KNOWN_GAPS } from "./gaps.ts";
import { samlPhase, type SamlStats } from "./saml.ts";
import { apiPhase, type ApiStats } from "./api.ts";
import { ensureStoreTrace, tracePathFor } from "./store_trace.ts";
import type { StoreTrace } from "./trace_format.ts";

const STRING_OPTIONS = [
  "users",
  "groups",
  "clients",
  "runs",
  "systems",
  "phase-timeout",
  "out",
  "weft-dir",
  "store",
  "tenants",
];
const BOOLEAN_OPTIONS = ["smoke", "report", "scaling", "keep", "no-report"];
const { values: args } = parseArgs({
  args: Deno.args,
  options: Object.fromEntries([
    ...STRING_OPTIONS.map((k) => [k, { type: "string" as const }]),
    ...BOOLEAN_OPTIONS.map((k) => [k, { type: "boolean" as const }]),
  ]),
}) as { values: Record<string, string | boolean | undefined> };

// deno-lint-ignore no-console
const log = (line: string) => console.log(line);

function num(name: string, fallback: number): number {
  const v = args[name];
  if (v === undefined || v === false) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const RESULTS = join(ROOT, "bench", "results");

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function phaseLine(system: string, p: PhaseStats): string {
  const flags = [
    p.errors ? `${p.errors} errors` : "",
    p.incomplete ? "INCOMPLETE" : "",
    p.failedTasks ? `${p.failedTasks} failed tasks` : "",
  ].filter(Boolean).join(", ");
  return `  ${system.padEnd(12)} ${p.phase.padEnd(11)} ${fmt(p.requests).padStart(7)} req ` +
    `${fmt(p.rps).padStart(6)} req/s  p50 ${fmt(p.p50, 1).padStart(6)} ms  p99 ` +
    `${fmt(p.p99, 1).padStart(7)} ms  cpu ${
      fmt(p.serverCpuMsPerRequest ?? 0, 2).padStart(6)
    } ms/req  client ${fmt(p.clientCpuMsPerRequest ?? 0, 2).padStart(5)} ms/req` +
    `${flags ? "  " + flags : ""}`;
}

function samlLine(system: string, s: SamlStats): string {
  return `  ${system.padEnd(12)} ${"saml".padEnd(11)} ${fmt(s.signIns).padStart(7)} sign-ins ` +
    `${fmt(s.signInsPerSecond).padStart(5)}/s  p99 ${fmt(s.p99, 1)} ms (login ${
      fmt(s.loginP99, 1)
    }, acs ${fmt(s.acsP99, 1)})  node-saml alone ${fmt(s.libraryPerSecond)}/s p99 ${
      fmt(s.libraryP99, 1)
    } ms  ratio ${fmt(s.ratio, 2)}` +
    `  cpu ${fmt(s.serverCpuMsPerSignIn ?? 0, 2)} ms/sign-in` +
    `${s.errors ? `  ${s.errors} errors (${s.errorSamples[0]})` : ""}${
      s.incomplete ? "  INCOMPLETE" : ""
    }`;
}

function apiLines(system: string, a: ApiStats): string[] {
  return [
    `${phaseLine(system, a.users)}  ${fmt(a.users.pagesPerSecond, 1)} pages/s (200 users each, ${
      fmt(a.users.usersRead)
    } users)`,
    `${phaseLine(system, a.events)}  ${fmt(a.events.pagesPerSecond, 1)} pages/s (500 events each, ${
      fmt(a.events.eventsRead)
    } events)`,
  ];
}

/** The store operations per request of each phase, Weft / same-work / bare, for the console. */
function opsLines(trace: StoreTrace): string[] {
  const cols: [string, string][] = [["weft", "weft"], ["same-work", "same-work"], [
    "bare",
    "baseline",
  ]];
  const lines = [
    `store operations per request (trace of ${fmt(trace.users)} users, Weft ${trace.weft}): ` +
    "calls (of which background) · round trips · get · getMany (keys) · list (entries) · " +
    "commits (checks) · mutations · KB written",
  ];
  const n = (x: number) => fmt(x, 2);
  for (const phase of PHASES) {
    for (const [label, key] of cols) {
      const p = trace.counts[key]?.phases[phase];
      if (!p) continue;
      const t = (k: keyof typeof p.foreground) => p.foreground[k] + p.background[k];
      lines.push(
        `  ${label.padEnd(12)} ${phase.padEnd(11)} ${n(t("calls")).padStart(6)} (${
          n(p.background.calls)
        }) · ${n(p.foreground.steps)} · ${n(t("get"))} · ${n(t("getMany"))} (${
          n(t("getManyKeys"))
        }) · ${n(t("list"))} (${n(t("listed"))}) · ${n(t("commits"))} (${n(t("checks"))}) · ${
          n(t("mutations"))
        } · ${n(t("bytesWritten") / 1000)}`,
      );
    }
  }
  const untemplated = trace.counts["same-work"]?.untemplated;
  if (untemplated) lines.push(`  same-work: ${untemplated} traced requests had no template`);
  return lines;
}

/** Problems that make a smoke run fail: errors beyond a peer's known gaps, incomplete runs. */
export function problems(run: SystemRun): string[] {
  const out: string[] = [];
  if (run.failure) return [`${run.system}: ${run.failure}`];
  if (run.saml?.errors) {
    out.push(`${run.system}/saml: ${run.saml.errors} errors (${run.saml.errorSamples[0]})`);
  }
  if (run.saml?.incomplete) out.push(`${run.system}/saml: incomplete`);
  for (const p of run.api ? [run.api.users, run.api.events] : []) {
    if (p.errors || p.incomplete) {
      out.push(
        `${run.system}/${p.phase}: ${p.errors} errors (${p.errorSamples[0] ?? "incomplete"})`,
      );
    }
  }
  for (const p of run.phases) {
    if (p.incomplete) out.push(`${run.system}/${p.phase}: incomplete`);
    const serverSide = Object.entries(p.errorsByStatus)
      .filter(([s]) => Number(s) === 0 || Number(s) >= 500)
      .reduce((a, [, n]) => a + n, 0);
    if (serverSide) out.push(`${run.system}/${p.phase}: ${serverSide} transport or 5xx errors`);
    const allowed = isPeer(run.system) && KNOWN_GAPS[run.system]?.[p.phase];
    if (p.errors - serverSide > 0 && !allowed) {
      out.push(`${run.system}/${p.phase}: ${p.errors - serverSide} errors (${p.errorSamples[0]})`);
    }
    if (p.failedTasks && !allowed) {
      out.push(`${run.system}/${p.phase}: ${p.failedTasks} failed tasks`);
    }
  }
  if (run.memberMismatches && !(isPeer(run.system) && KNOWN_GAPS[run.system]?.groups)) {
    out.push(`${run.system}: ${run.memberMismatches} groups with the wrong member count`);
  }
  return out;
}

async function runSystem(
  name: SystemName,
  o: WorkloadOptions,
  peersDir: string | undefined,
  store: BenchStore,
): Promise<SystemRun> {
  let sys: Running | undefined;
  const started = performance.now();
  const label = store === "file" ? name : `${name}@kvc`;
  const tag = store === "file" ? {} : { store };
  try {
    sys = await startSystem(name, {
      peersDir,
      keep: args.keep === true,
      weftDir,
      // V8 flags for the Weft server alone (memory studies), e.g. --max-semi-space-size=1.
      weftV8Flags: Deno.env.get("WEFT_BENCH_V8_FLAGS"),
      sameWorkTrace: tracePathFor(store),
      store,
    });
    // On KV Connect the store's server is a process of its own: its CPU counts as the server's.
    const running = sys;
    const cpuMs = async () =>
      (await running.cpuMs()) + (running.storeCpuMs ? await running.storeCpuMs() : 0);
    const result = await replay(sys, o, (p) => log(phaseLine(label, p)), cpuMs);
    // SAML sign-ins: Weft only (the peers and the baseline have no SAML service provider).
    let saml: SamlStats | undefined;
    if (sys.weftCli) {
      saml = await samlPhase(sys, o);
      log(samlLine(label, saml));
    }
    // The directory API's pages: Weft only.
    let api: ApiStats | undefined;
    if (sys.weftCli) {
      api = await apiPhase(sys, o);
      for (const line of apiLines(label, api)) log(line);
    }
    return {
      system: name,
      ...tag,
      wallMs: performance.now() - started,
      peakRssMiB: await sys.peakRssMiB(),
      ...result,
      ...(saml ? { saml } : {}),
      ...(api ? { api } : {}),
    };
  } catch (error) {
    const failure = error instanceof Error ? error.message : String(error);
    log(`  ${label}: FAILED: ${failure}`);
    return {
      system: name,
      ...tag,
      wallMs: performance.now() - started,
      peakRssMiB: sys ? await sys.peakRssMiB() : 0,
      phases: [],
      memberMismatches: 0,
      pageLatencies: [],
      failure,
    };
  } finally {
    await sys?.stop();
  }
}

/** Formats generated files the way `deno fmt --check` expects them. */
async function formatFiles(...paths: string[]): Promise<void> {
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", ...paths], cwd: ROOT })
    .output();
}

const DOCS = [join(ROOT, "docs", "benchmarks.md")];

const weftDir = typeof args["weft-dir"] === "string" ? args["weft-dir"] : ROOT;

async function main(): Promise<number> {
  await pinSelf();
  if (args.report) {
    await writeReport(RESULTS, join(ROOT, "docs"));
    await formatFiles(...DOCS);
    log("wrote docs/benchmarks.md and docs/benchmarks.svg");
    return 0;
  }
  if (args.scaling) {
    const result = await runScaling({
      concurrency: num("clients", 8),
      phaseTimeoutMs: num("phase-timeout", 1800) * 1000,
      large: num("users", 100_000),
      weftDir,
      weftV8Flags: Deno.env.get("WEFT_BENCH_V8_FLAGS"),
      system: typeof args.systems === "string" ? args.systems as SystemName : undefined,
      tenants: args.tenants === "0" ? 0 : num("tenants", 1000),
      log,
    });
    await Deno.mkdir(RESULTS, { recursive: true });
    const out = typeof args.out === "string" ? args.out : join(RESULTS, "scaling.json");
    await Deno.writeTextFile(out, JSON.stringify(result, null, 1) + "\n");
    await formatFiles(out);
    if (!args["no-report"]) {
      await writeReport(RESULTS, join(ROOT, "docs"));
      await formatFiles(...DOCS);
    }
    return 0;
  }
  const smoke = args.smoke === true;
  const users = num("users", smoke ? 500 : 10_000);
  const o: WorkloadOptions = {
    users,
    groups: num("groups", Math.max(1, Math.round(users / 1000))),
    batch: 100,
    concurrency: num("clients", 8),
    phaseTimeoutMs: num("phase-timeout", smoke ? 300 : 1200) * 1000,
  };
  const runs = num("runs", smoke ? 1 : 3);
  // `--store connect`: the KV systems on KV Connect servers; `both`: each on a file, then on one.
  const storeArg = typeof args.store === "string" ? args.store : "file";
  if (!["file", "connect", "both"].includes(storeArg)) {
    throw new Error(`--store must be file, connect or both (not "${storeArg}")`);
  }
  const stores: BenchStore[] = storeArg === "both" ? ["file", "connect"] : [storeArg as BenchStore];
  const systems =
    (typeof args.systems === "string"
      ? args.systems.split(",")
      : storeArg === "file"
      ? [...DEFAULT_SYSTEMS]
      : ["weft", "same-work", "baseline"]) as SystemName[];
  for (const s of systems) {
    if (!SYSTEMS.includes(s)) {
      throw new Error(`Unknown system "${s}" (known: ${SYSTEMS.join(", ")})`);
    }
  }
  // The same-work baseline replays a trace of this Weft's store operations: recorded first.
  const traces: Partial<Record<BenchStore, StoreTrace>> = {};
  if (systems.includes("same-work")) {
    for (const store of stores) {
      traces[store] = await ensureStoreTrace({ weftDir, log, store });
      log(`${store}: ${opsLines(traces[store]!).join("\n")}`);
    }
  }
  const trace = traces[stores.at(-1)!];
  const needsPeers = systems.some(isPeer);
  const peersDir = needsPeers ? await installPeers(log) : undefined;
  const file: RunsFile = {
    date: new Date().toISOString(),
    machine: await machineInfo(),
    command: `deno task bench ${Deno.args.join(" ")}`.trim(),
    weft: await weftVersion(weftDir),
    options: o,
    runs: [],
    ...(trace
      ? {
        storeOps: {
          trace: { key: trace.key, users: trace.users, date: trace.date },
          counts: trace.counts,
        },
      }
      : {}),
  };
  const failed: string[] = [];
  for (let r = 0; r < runs; r++) {
    // Rotate the order so no system always runs first (or last) on a noisy machine.
    const all = stores.flatMap((store) => systems.map((name) => ({ name, store })));
    const order = all.map((_, i) => all[(i + r) % all.length]);
    log(`run ${r + 1}/${runs}: N = ${fmt(users)}, ${o.groups} groups, ${o.concurrency} clients`);
    const results: SystemRun[] = [];
    for (const { name, store } of order) {
      const res = await runSystem(name, o, peersDir, store);
      log(
        `  ${(store === "file" ? name : `${name}@kvc`).padEnd(12)} wall ${
          fmt(res.wallMs / 1000, 1)
        } s, peak RSS ${fmt(res.peakRssMiB, 1)} MiB${
          res.memberMismatches ? `, ${res.memberMismatches} groups wrong` : ""
        }`,
      );
      results.push(res);
      failed.push(...problems(res));
    }
    file.runs.push(results);
  }
  if (smoke) {
    if (failed.length) {
      log(`bench smoke: FAILED\n  ${failed.join("\n  ")}`);
      return 1;
    }
    log(`bench smoke: every system completed (${systems.join(", ")}); peer gaps as known`);
    return 0;
  }
  await Deno.mkdir(RESULTS, { recursive: true });
  const out = typeof args.out === "string"
    ? args.out
    : join(RESULTS, storeArg === "file" ? "runs.json" : "kv-connect.json");
  await Deno.writeTextFile(out, JSON.stringify(file, null, 1) + "\n");
  await formatFiles(out);
  log(`wrote ${out}`);
  if (!args["no-report"]) {
    await writeReport(RESULTS, join(ROOT, "docs"));
    await formatFiles(...DOCS);
    log("wrote docs/benchmarks.md and docs/benchmarks.svg");
  }
  if (failed.length) log(`problems:\n  ${failed.join("\n  ")}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
