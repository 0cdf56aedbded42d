/**
 * Turns the result files (`bench/results/runs.json`, `bench/results/scaling.json`) into
 * `docs/benchmarks.md` and the ratio chart `docs/benchmarks.svg`. The hand-written analysis in
 * `bench/notes.md` is included as it is.
 * @module
 */
import { join } from "node:path";
import type { PhaseStats } from "./load.ts";
import { type BenchStore, isPeer, type SystemName } from "./systems.ts";
import { PHASES, type WorkloadOptions } from "./workloads.ts";
import type { SamlStats } from "./saml.ts";
import type { ApiStats } from "./api.ts";
import { KNOWN_GAPS } from "./gaps.ts";
import type { ScalingResult } from "./scaling.ts";
import { opsTable, type SystemOps } from "./trace_format.ts";

/** One system's results in one run. */
export interface SystemRun {
  system: SystemName;
  wallMs: number;
  peakRssMiB: number;
  phases: PhaseStats[];
  memberMismatches: number;
  pageLatencies: number[];
  failure?: string;
  /** Weft only: the `saml` phase (`bench/saml.ts`). */
  saml?: SamlStats;
  /** Directory API pages (Weft only; see `bench/api.ts`). */
  api?: ApiStats;
  /** The store the system ran on, when not its own file (`--store connect|both`). */
  store?: BenchStore;
}

/** The machine a run was measured on. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  deno: string;
  node: string;
}

/** bench/results/runs.json. */
export interface RunsFile {
  date: string;
  machine: Machine;
  command: string;
  /** The Weft commit measured (`+dirty`: with uncommitted changes). */
  weft?: string;
  options: WorkloadOptions;
  runs: SystemRun[][];
  /** Store operations per request from the store trace (`bench/store_trace.ts`), when recorded. */
  storeOps?: {
    trace: { key: string; users: number; date: string };
    counts: Record<string, SystemOps>;
  };
}

/** Describes this machine. */
export async function machineInfo(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  let node = "absent";
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
    node = new TextDecoder().decode(out.stdout).trim();
  } catch {
    // no Node on this machine: the peers cannot run
  }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryGiB: Math.round(Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024 / 1024),
    deno: Deno.version.deno,
    node,
  };
}

/** Formats a number with thousands separators. */
export function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** The median of some numbers. */
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function phaseOf(run: SystemRun | undefined, phase: string): PhaseStats | undefined {
  return run?.phases.find((p) => p.phase === phase);
}

function bySystem(run: SystemRun[]): Map<SystemName, SystemRun> {
  return new Map(run.map((r) => [r.system, r]));
}

/** Per phase and run: Weft ÷ baseline and Weft ÷ fastest peer (throughput). */
export interface PhaseRatios {
  phase: string;
  vsBaseline: number[];
  /** Weft ÷ the same-work baseline (Weft's code beyond its store work). */
  vsSameWork: number[];
  /** The same-work baseline ÷ the bare one: the ceiling the store work sets on Weft ÷ bare. */
  ceiling: number[];
  /** Weft ÷ Weft with its SCIM request log off (the log's cost). */
  vsLogOff: number[];
  vsPeer: number[];
  /** Which peer was fastest in each run, and whether it had errors in that phase. */
  fastestPeer: { system: SystemName; errors: number }[];
}

/** Ratios per phase across runs. */
export function ratios(file: RunsFile): PhaseRatios[] {
  return PHASES.map((phase) => {
    const out: PhaseRatios = {
      phase,
      vsBaseline: [],
      vsSameWork: [],
      ceiling: [],
      vsLogOff: [],
      vsPeer: [],
      fastestPeer: [],
    };
    for (const run of file.runs) {
      const m = bySystem(run);
      const weft = phaseOf(m.get("weft"), phase);
      if (!weft) continue;
      const base = phaseOf(m.get("baseline"), phase);
      if (base?.rps) out.vsBaseline.push(weft.rps / base.rps);
      const same = phaseOf(m.get("same-work"), phase);
      if (same?.rps) out.vsSameWork.push(weft.rps / same.rps);
      if (same?.rps && base?.rps) out.ceiling.push(same.rps / base.rps);
      const off = phaseOf(m.get("weft-log-off"), phase);
      if (off?.rps) out.vsLogOff.push(weft.rps / off.rps);
      const peers = run.filter((r) => isPeer(r.system) && phaseOf(r, phase)?.rps);
      if (peers.length) {
        const best = peers.reduce((a, b) =>
          phaseOf(a, phase)!.rps >= phaseOf(b, phase)!.rps ? a : b
        );
        const p = phaseOf(best, phase)!;
        out.vsPeer.push(weft.rps / p.rps);
        out.fastestPeer.push({ system: best.system, errors: p.errors });
      }
    }
    return out;
  });
}

function cpu(p: PhaseStats | undefined): string {
  return p?.serverCpuMsPerRequest === undefined ? "—" : fmt(p.serverCpuMsPerRequest, 2);
}

/** Median over runs of Weft's server CPU per request ÷ another system's, in one phase. */
function cpuRatio(file: RunsFile, phase: string, other: SystemName = "baseline"): number {
  const xs: number[] = [];
  for (const run of file.runs) {
    const m = bySystem(run);
    const w = phaseOf(m.get("weft"), phase)?.serverCpuMsPerRequest;
    const b = phaseOf(m.get(other), phase)?.serverCpuMsPerRequest;
    if (w !== undefined && b) xs.push(w / b);
  }
  return median(xs);
}

function runTable(run: SystemRun[], index: number): string {
  const m = bySystem(run);
  const weft = m.get("weft");
  const systems = run.map((r) => r.system);
  const lines = [
    `#### Run ${index + 1}`,
    "",
    "| phase | system | requests | req/s | p50 ms | p99 ms | errors | server CPU ms/req | Weft ÷ system |",
    "| ----- | ------ | -------: | ----: | -----: | -----: | -----: | ----------------: | ------------: |",
  ];
  for (const phase of PHASES) {
    const w = phaseOf(weft, phase);
    for (const s of systems) {
      const p = phaseOf(m.get(s), phase);
      if (!p) {
        lines.push(
          `| ${phase} | ${s} | — | — | — | — | ${m.get(s)?.failure ? "failed" : "—"} | — |`,
        );
        continue;
      }
      const ratio = w && p.rps ? fmt(w.rps / p.rps, 2) : "—";
      const errors = p.errors ? `**${fmt(p.errors)}**` : "0";
      const flag = p.incomplete ? " (incomplete)" : "";
      lines.push(
        `| ${phase} | ${s} | ${fmt(p.requests)}${flag} | ${fmt(p.rps)} | ${fmt(p.p50, 1)} | ${
          fmt(p.p99, 1)
        } | ${errors} | ${cpu(p)} | ${s === "weft" ? "1.00" : ratio} |`,
      );
    }
  }
  lines.push("");
  lines.push("| system | wall time s | server peak RSS MiB | groups with wrong member count |");
  lines.push("| ------ | ----------: | ------------------: | -----------------------------: |");
  for (const r of run) {
    lines.push(
      `| ${r.system} | ${fmt(r.wallMs / 1000, 1)} | ${fmt(r.peakRssMiB, 1)} | ${
        r.failure ? `failed: ${r.failure}` : fmt(r.memberMismatches)
      } |`,
    );
  }
  return lines.join("\n");
}

function gapsSection(file: RunsFile): string {
  const lines = [
    "### What the peers cannot do",
    "",
    "Errors are counted, never retried or hidden; the first error body of each is quoted.",
    "",
  ];
  const seen = new Set<string>();
  for (const run of file.runs) {
    for (const r of run) {
      if (!isPeer(r.system)) continue;
      for (const p of r.phases) {
        const key = `${r.system}/${p.phase}`;
        if (!p.errors || seen.has(key)) continue;
        seen.add(key);
        const reason = KNOWN_GAPS[r.system]?.[p.phase];
        lines.push(
          `- **${r.system}, ${p.phase}**: ${fmt(p.errors)} of ${fmt(p.requests)} requests failed${
            reason ? ` — ${reason}` : ""
          }. First: \`${p.errorSamples[0]?.slice(0, 220).replaceAll("`", "'")}\``,
        );
      }
      if (r.memberMismatches && !seen.has(`${r.system}/members`)) {
        seen.add(`${r.system}/members`);
        lines.push(
          `- **${r.system}**: ${r.memberMismatches} group(s) ended with a member count different from the members added.`,
        );
      }
    }
  }
  if (lines.length === 4) {
    lines.push("- Neither peer answered any request of this workload with an error.");
  }
  return lines.join("\n");
}

/** Weft ÷ a system's throughput in one phase, per run. */
function peerRatios(file: RunsFile, phase: string, peer: SystemName): number[] {
  const xs: number[] = [];
  for (const run of file.runs) {
    const m = bySystem(run);
    const w = phaseOf(m.get("weft"), phase);
    const p = phaseOf(m.get(peer), phase);
    if (w && p?.rps) xs.push(w.rps / p.rps);
  }
  return xs;
}

function peerMedian(file: RunsFile, phase: string, peer: SystemName): string {
  const xs = peerRatios(file, phase, peer);
  const errors = file.runs.some((run) => phaseOf(bySystem(run).get(peer), phase)?.errors);
  return xs.length ? `${fmt(median(xs), 2)}${errors ? " (errors)" : ""}` : "—";
}

/** A ratio's median with every run's figure, e.g. `0.78 (0.47, 0.86, 0.78)`; `—` when none. */
function medianCell(xs: number[]): string {
  return xs.length ? `${fmt(median(xs), 2)} (${xs.map((x) => fmt(x, 2)).join(", ")})` : "—";
}

/** The first line of a results section: when, which Weft, how it was run. */
function runLine(file: { date: string; weft?: string; command: string }): string {
  return `Date ${file.date}; Weft ${
    file.weft ?? "(commit not recorded)"
  }; command \`${file.command}\``;
}

/** The targets of a phase against the bare baseline (other phases: reported, no target). */
const BARE_TARGETS: Partial<Record<string, number>> = { create: 0.7, lookup: 0.8 };

function summary(file: RunsFile): string {
  const rs = ratios(file);
  const cell = medianCell;
  const verdict = (xs: number[], target: number) =>
    !xs.length ? "—" : median(xs) >= target ? "met" : "**not met**";
  const lines = [
    "| phase | Weft ÷ same-work, median (runs) | ≥ 0.85 | Weft ÷ bare, median (runs) | target | ceiling: same-work ÷ bare | Weft ÷ fastest peer, median (runs) | every peer ≥ 2 | ÷ better-auth | ÷ scimmy | server CPU per request, Weft ÷ same-work |",
    "| ----- | ------------------------------: | :----: | -------------------------: | :----: | ------------------------: | ---------------------------------: | :-: | ------------: | -------: | ---------------------------------------: |",
  ];
  for (const r of rs) {
    const bare = BARE_TARGETS[r.phase];
    // Every peer ≥ 2, except SCIMMY's in-memory store on create: ≥ 1 there.
    const need = (peer: SystemName) => peer === "scimmy" && r.phase === "create" ? 1 : 2;
    const peerXs = (["better-auth", "scimmy"] as SystemName[]).map((peer) => ({
      need: need(peer),
      xs: peerRatios(file, r.phase, peer),
    })).filter((p) => p.xs.length);
    const peersMet = peerXs.length
      ? peerXs.every((p) => median(p.xs) >= p.need) ? "met" : "**not met**"
      : "—";
    const scimmyCreate = r.phase === "create" ? " (÷ scimmy ≥ 1)" : "";
    const cpuSame = cpuRatio(file, r.phase, "same-work");
    lines.push(
      `| ${r.phase} | ${cell(r.vsSameWork)} | ${verdict(r.vsSameWork, 0.85)} | ${
        cell(r.vsBaseline)
      } | ${bare ? `≥ ${bare}: ${verdict(r.vsBaseline, bare)}` : "report"} | ${
        r.ceiling.length ? fmt(median(r.ceiling), 2) : "—"
      } | ${cell(r.vsPeer)} | ${peersMet}${scimmyCreate} | ${
        peerMedian(file, r.phase, "better-auth")
      } | ${peerMedian(file, r.phase, "scimmy")} | ${
        Number.isNaN(cpuSame) ? "—" : fmt(cpuSame, 2)
      } |`,
    );
  }
  if (rs.some((r) => r.vsLogOff.length)) {
    lines.push(
      "",
      "The SCIM request log's cost, side by side in the same runs: Weft (log on, as shipped) ÷ " +
        "Weft with `WEFT_REQUEST_LOG_DAYS=0`, median (runs): " +
        rs.filter((r) => r.vsLogOff.length).map((r) => `${r.phase} ${cell(r.vsLogOff)}`).join(
          "; ",
        ) + ".",
    );
  }
  const rss = file.runs.flatMap((run) =>
    run.filter((r) => r.system === "weft").map((r) => r.peakRssMiB)
  );
  const base = file.runs.flatMap((run) =>
    run.filter((r) => r.system === "baseline").map((r) => r.peakRssMiB)
  );
  lines.push("");
  lines.push(
    `Server peak RSS over the runs: Weft ${rss.map((x) => fmt(x, 1)).join(", ")} MiB; the KV ` +
      `baseline ${base.map((x) => fmt(x, 1)).join(", ")} MiB.`,
  );
  return lines.join("\n");
}

/** The ratio chart: Weft ÷ baseline (linear) and Weft ÷ fastest peer (log), median and range. */
export function chart(file: RunsFile): string {
  const rs = ratios(file);
  const W = 760, rowH = 34, top = 58, left = 110, panel = 290, gap = 40;
  const H = top + rs.length * rowH + 40;
  const xBase = (v: number) => left + (Math.min(v, 1.5) / 1.5) * panel;
  const lmin = Math.log10(0.5), lmax = Math.log10(50);
  const x2 = left + panel + gap;
  const xPeer = (v: number) =>
    x2 + ((Math.log10(Math.min(Math.max(v, 0.5), 50)) - lmin) / (lmax - lmin)) * panel;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">Weft throughput ratios per phase (median of ${file.runs.length} runs; whiskers: min–max)</text>`,
    `<text x="${left}" y="42">Weft ÷ same-work baseline (target ≥ 0.85)</text>`,
    `<text x="${x2}" y="42">Weft ÷ fastest peer, log scale (target ≥ 2)</text>`,
  ];
  const axisY = top + rs.length * rowH;
  for (const v of [0, 0.5, 1, 1.5]) {
    out.push(
      `<line x1="${xBase(v)}" y1="${top - 6}" x2="${xBase(v)}" y2="${axisY}" stroke="#ddd"/>`,
    );
    out.push(`<text x="${xBase(v)}" y="${axisY + 16}" text-anchor="middle">${v}</text>`);
  }
  for (const v of [0.5, 1, 2, 5, 10, 20, 50]) {
    out.push(
      `<line x1="${xPeer(v)}" y1="${top - 6}" x2="${xPeer(v)}" y2="${axisY}" stroke="#ddd"/>`,
    );
    out.push(`<text x="${xPeer(v)}" y="${axisY + 16}" text-anchor="middle">${v}</text>`);
  }
  out.push(
    `<line x1="${xBase(0.85)}" y1="${top - 6}" x2="${
      xBase(0.85)
    }" y2="${axisY}" stroke="#c00" stroke-dasharray="4 3"/>`,
  );
  out.push(
    `<line x1="${xPeer(2)}" y1="${top - 6}" x2="${
      xPeer(2)
    }" y2="${axisY}" stroke="#c00" stroke-dasharray="4 3"/>`,
  );
  rs.forEach((r, i) => {
    const y = top + i * rowH + 6;
    out.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${r.phase}</text>`);
    const bar = (xs: number[], x: (v: number) => number, x0: number, ok: boolean) => {
      if (!xs.length) return;
      const m = median(xs);
      out.push(
        `<rect x="${x0}" y="${y}" width="${Math.max(1, x(m) - x0)}" height="18" fill="${
          ok ? "#4a7fb5" : "#d08a3a"
        }"/>`,
      );
      out.push(
        `<line x1="${x(Math.min(...xs))}" y1="${y + 9}" x2="${x(Math.max(...xs))}" y2="${
          y + 9
        }" stroke="#222"/>`,
      );
      out.push(`<text x="${x(Math.max(...xs)) + 4}" y="${y + 13}">${fmt(m, 2)}</text>`);
    };
    bar(r.vsSameWork, xBase, xBase(0), median(r.vsSameWork) >= 0.85);
    bar(r.vsPeer, xPeer, xPeer(0.5), median(r.vsPeer) >= 2);
  });
  out.push(
    `<text x="${left}" y="${
      H - 6
    }" fill="#555">blue: target met; orange: not met; red dashes: target</text>`,
  );
  out.push("</svg>");
  // Coordinates to one decimal: the file stays readable and diffs stay small.
  return out.join("\n").replace(/="(-?\d+\.\d)\d*"/g, '="$1"') + "\n";
}

function scalingSection(s: ScalingResult): string {
  // The run's high-water mark: the largest stage figure (older results stored an earlier one).
  const peak = Math.max(s.peakRssMiB, ...Object.values(s.rssAfter ?? {}));
  const verdict = (ok: boolean) => ok ? "met" : "**not met**";
  return [
    "## Scaling runs",
    "",
    `${runLine(s)}; Weft alone on a fresh store, latency probes with one`,
    "client in flight (no queueing), load with eight.",
    "",
    "| check | small | large | ratio (of medians) | target | verdict |",
    "| ----- | ----: | ----: | ----------------: | -----: | :-----: |",
    `| lookup by userName/externalId, p50 ms (${fmt(s.lookup.small.users)} vs ${
      fmt(s.lookup.large.users)
    } users stored) | ${fmt(s.lookup.small.p50, 2)} | ${fmt(s.lookup.large.p50, 2)} | ${
      fmt(s.lookup.ratio, 2)
    } | ≤ 1.5 | ${verdict(s.lookup.ratio <= 1.5)} |`,
    `| lookup, mean ms | ${fmt(s.lookup.small.mean, 2)} | ${fmt(s.lookup.large.mean, 2)} | ${
      fmt(s.lookup.large.mean / s.lookup.small.mean, 2)
    } | — | — |`,
    `| add 100 members, p50 ms (empty group vs ${fmt(s.members.fullSize)}-member group) | ${
      fmt(s.members.empty.p50, 1)
    } | ${fmt(s.members.full.p50, 1)} | ${fmt(s.members.ratio, 2)} | ≤ 1.5 | ${
      verdict(s.members.ratio <= 1.5)
    } |`,
    `| \`GET /Groups/{id}?excludedAttributes=members\`, p50 ms (empty vs ${
      fmt(s.members.fullSize)
    } members) | ${fmt(s.excluded.empty.p50, 2)} | ${fmt(s.excluded.full.p50, 2)} | ${
      fmt(s.excluded.ratio, 2)
    } | ≈ 1 | ${verdict(s.excluded.ratio <= 1.5)} |`,
    `| for contrast: \`GET /Groups/{id}\` with members, p50 ms | ${
      fmt(s.excluded.withMembersEmpty.p50, 2)
    } | ${fmt(s.excluded.withMembersFull.p50, 2)} | ${
      fmt(s.excluded.withMembersFull.p50 / s.excluded.withMembersEmpty.p50, 1)
    } | — | — |`,
    `| paging ${fmt(s.paging.users)} users by 100: mean ms of the first vs last 10 % of pages | ${
      fmt(s.paging.firstMean, 2)
    } | ${fmt(s.paging.lastMean, 2)} | ${fmt(s.paging.ratio, 2)} | flat (≤ 1.5) | ${
      verdict(s.paging.ratio <= 1.5)
    } |`,
    ...(s.tenants
      ? [
        `| lookup p50 ms: the bench tenant vs a tenant drawn from ${
          fmt(s.tenants.tenants)
        } (${s.tenants.usersPerTenant} users each), interleaved | ${
          fmt(s.tenants.single.p50, 2)
        } | ${fmt(s.tenants.spread.p50, 2)} | ${fmt(s.tenants.ratio, 2)} | flat (≤ 1.5) | ${
          verdict(s.tenants.ratio <= 1.5 && s.tenants.lookupErrors === 0)
        } |`,
        `| match + create req/s: one tenant (the large load) vs round-robin over ${
          fmt(s.tenants.tenants)
        } tenants | ${fmt(s.load.rps)} | ${fmt(s.tenants.load.rps)} | ${
          fmt(s.load.rps / s.tenants.load.rps, 2)
        } | flat (≤ 1.5) | ${verdict(s.load.rps / s.tenants.load.rps <= 1.5)} |`,
      ]
      : []),
    `| server peak RSS through the ${fmt(s.lookup.large.users)}-user run${
      s.saml || s.webhooks ? ", every feature on" : ""
    }, MiB | | ${fmt(peak, 1)} | | ≤ 120 | ${verdict(peak <= 120)} |`,
    "",
    ...(s.webhooks || s.saml || s.api
      ? [
        "Every feature on: the SCIM request log and the events feed (as shipped), one webhook " +
        "endpoint subscribed to every event on a loopback receiver from the first user on" +
        (s.webhooks
          ? ` (${fmt(s.webhooks.delivered)} deliveries; the backlog drained ${
            fmt(s.webhooks.drainedMs / 1000, 1)
          } s after the API pages)`
          : "") +
        (s.saml
          ? `, ${fmt(s.saml.signIns)} SAML sign-ins at ${
            fmt(s.saml.signInsPerSecond)
          }/s (${s.saml.errors} errors)`
          : "") +
        (s.api
          ? `, the directory API through every user (${fmt(s.api.users.usersRead)} users, ${
            fmt(s.api.users.pagesPerSecond, 1)
          } pages/s) and every event (${fmt(s.api.events.eventsRead)} events, ${
            fmt(s.api.events.pagesPerSecond, 1)
          } pages/s)`
          : "") +
        ".",
        "",
      ]
      : []),
    ...(s.tenants
      ? [
        `Many tenants: ${
          fmt(s.tenants.tenants)
        } tenants, each with an IdP connection and a token, ` +
        `created on the store in ${fmt(s.tenants.provisionMs / 1000, 1)} s; ${
          fmt(s.tenants.load.requests)
        } requests (match + create, round-robin, every request another tenant's host) at ${
          fmt(s.tenants.load.rps)
        } req/s, p99 ${fmt(s.tenants.load.p99, 1)} ms, ${fmt(s.tenants.load.errors)} errors; ${
          fmt(s.tenants.single.n + s.tenants.spread.n)
        } lookups, ${s.tenants.lookupErrors} wrong.`,
        "",
      ]
      : []),
    `Loading the large directory: ${fmt(s.load.requests)} requests (match + create) at ${
      fmt(s.load.rps)
    } req/s, p99 ${fmt(s.load.p99, 1)} ms, ${fmt(s.load.errors)} errors; filling the big group: ${
      fmt(s.fill.requests)
    } PATCHes at ${fmt(s.fill.rps)} req/s, ${fmt(s.fill.errors)} errors.`,
    "",
    `Per-page time across the ${
      fmt(s.paging.users)
    }-user directory (mean ms per tenth of the pages): ${
      s.paging.deciles.map((d) => fmt(d, 1)).join(", ")
    }.`,
    "",
    ...(s.rssAfter
      ? [
        "Server peak RSS (VmHWM) after each stage, MiB: " +
        Object.entries(s.rssAfter).map(([k, v]) => `${k} ${fmt(v, 1)}`).join("; ") + ".",
      ]
      : []),
  ].join("\n");
}

/** The store operations per request of each phase: Weft, the same-work baseline, the bare one. */
function storeOpsSection(file: RunsFile): string {
  const s = file.storeOps;
  if (!s) return "";
  return [
    "### Store operations per request",
    "",
    `From the store trace (\`bench/store_trace.ts\`; ${fmt(s.trace.users)} users, the same`,
    `phases; trace ${s.trace.key}, ${s.trace.date}): each system served in-process over a`,
    "recording wrapper of a file-backed Deno KV, every operation tagged by the request it was made",
    "for; what background writers and workers did (the request log's group commits, the feed",
    "sequencer, beyond the idle polls) is amortised over the phase's requests. The same-work",
    "baseline (`bench/same_work.ts`) replays Weft's recorded operations, so its column matches",
    "Weft's by construction and is traced to check it; the bare baseline (`bench/baseline.ts`) does",
    "the minimum. Round trips count the sequential steps of a request (operations in flight",
    "together count once). Sizes are rough (strings and 8 bytes a number, not the store's",
    "encoding). The trace has a group per 100 users, so its member PATCHes seldom contend, as in",
    "runs of 10,000 users (10 groups); with one group (N ≤ 1,000) Weft retries commits that the",
    "same-work baseline, replaying the trace, does not.",
    "",
    opsTable(s.counts),
  ].join("\n");
}

/** The directory API's pages per run (Weft only). */
function apiSection(file: RunsFile): string {
  const rows = file.runs.flatMap((run, i) =>
    run.filter((r) => r.api).map((r) => {
      const a = r.api!;
      return `| ${i + 1} | ${fmt(a.users.pagesPerSecond, 1)} | ${fmt(a.users.usersRead)} | ${
        fmt(a.users.p50, 1)
      } | ${fmt(a.users.serverCpuMsPerRequest ?? 0, 1)} | ${fmt(a.events.pagesPerSecond, 1)} | ${
        fmt(a.events.eventsRead)
      } | ${fmt(a.events.p50, 1)} | ${fmt(a.events.serverCpuMsPerRequest ?? 0, 1)} | ${
        a.users.errors + a.events.errors
      } |`;
    })
  );
  if (!rows.length) return "";
  return [
    "### Directory API and events feed pages",
    "",
    "After the replay, one client pages through `GET /api/v1/users?limit=200` from the first page",
    "to the last, then through `GET /api/v1/events?limit=500` until a page comes back empty, as an",
    "application syncing the directory would (`bench/api.ts`).",
    "",
    "| run | user pages/s | users read | p50 ms | server CPU ms/page | event pages/s | events read | p50 ms | server CPU ms/page | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ].join("\n");
}

/** A run's systems by `system@store`. */
function byStore(run: SystemRun[]): Map<string, SystemRun> {
  return new Map(run.map((r) => [`${r.system}@${r.store ?? "file"}`, r]));
}

/** The same runs on KV Connect servers (`--store both`): Weft ÷ the baselines, and the hop. */
function kvConnectSection(file: RunsFile): string {
  const ratio = (phase: string, a: string, b: string) =>
    file.runs.flatMap((run) => {
      const m = byStore(run);
      const x = phaseOf(m.get(a), phase);
      const y = phaseOf(m.get(b), phase);
      return x?.rps && y?.rps ? [x.rps / y.rps] : [];
    });
  const cpuOf = (phase: string, a: string) =>
    median(file.runs.flatMap((run) => {
      const c = phaseOf(byStore(run).get(a), phase)?.serverCpuMsPerRequest;
      return c === undefined ? [] : [c];
    }));
  const cell = medianCell;
  const lines = [
    "## On a KV Connect store",
    "",
    `${runLine(file)}; N = ${
      fmt(file.options.users)
    } users, ${file.options.groups} groups, ${file.options.concurrency} clients.`,
    "",
    "Weft, the same-work baseline and the bare one, each on its own SQLite file and each on a",
    "fresh KV Connect server on loopback (`tests/_kv_connect.ts`: denokv's own SQLite backend behind",
    "the KV Connect protocol over HTTP/2, a process of its own), side by side in each run. The",
    "same-work baseline on KV Connect replays a trace of Weft recorded on KV Connect, where Weft",
    "sizes its commits to the 10 checks that store allows. Server CPU on KV Connect includes the",
    "store server's process.",
    "",
    "| phase | Weft ÷ same-work on KV Connect | Weft ÷ bare on KV Connect | the hop: Weft on KV Connect ÷ on a file | the hop: same-work on KV Connect ÷ on a file | server CPU ms/req, Weft on a file → on KV Connect |",
    "| ----- | -----------------------------: | ------------------------: | --------------------------------------: | -------------------------------------------: | ------------------------------------------------: |",
  ];
  for (const phase of PHASES) {
    lines.push(
      `| ${phase} | ${cell(ratio(phase, "weft@connect", "same-work@connect"))} | ${
        cell(ratio(phase, "weft@connect", "baseline@connect"))
      } | ${cell(ratio(phase, "weft@connect", "weft@file"))} | ${
        cell(ratio(phase, "same-work@connect", "same-work@file"))
      } | ${fmt(cpuOf(phase, "weft@file"), 2)} → ${fmt(cpuOf(phase, "weft@connect"), 2)} |`,
    );
  }
  const extra = (store: string) =>
    file.runs.flatMap((run) => {
      const w = byStore(run).get(`weft@${store}`);
      return w ? [w] : [];
    });
  const file_ = extra("file"), conn = extra("connect");
  const med = (xs: SystemRun[], f: (r: SystemRun) => number | undefined) =>
    fmt(median(xs.flatMap((r) => f(r) ?? [])), 1);
  if (conn.some((r) => r.saml || r.api)) {
    lines.push(
      "",
      `SAML sign-ins per second, on a file / on KV Connect (medians): ${
        med(file_, (r) => r.saml?.signInsPerSecond)
      } / ${med(conn, (r) => r.saml?.signInsPerSecond)}; directory API user pages per second: ${
        med(file_, (r) => r.api?.users.pagesPerSecond)
      } / ${med(conn, (r) => r.api?.users.pagesPerSecond)}; event pages per second: ${
        med(file_, (r) => r.api?.events.pagesPerSecond)
      } / ${med(conn, (r) => r.api?.events.pagesPerSecond)}.`,
    );
  }
  const failures = file.runs.flat().filter((r) => r.failure);
  for (const f of failures) {
    lines.push("", `- ${f.system}@${f.store ?? "file"} failed: ${f.failure}`);
  }
  return lines.join("\n");
}

/** `deno serve --parallel` with 2 workers against 1 (`--systems weft,weft-2`): what a core buys. */
function parallelSection(file: RunsFile): string {
  const rows = PHASES.map((phase) => {
    const per = file.runs.flatMap((run) => {
      const m = bySystem(run);
      const one = phaseOf(m.get("weft"), phase);
      const two = phaseOf(m.get("weft-2"), phase);
      return one?.rps && two?.rps ? [{ one, two }] : [];
    });
    if (!per.length) return "";
    const med = (f: (x: { one: PhaseStats; two: PhaseStats }) => number | undefined) =>
      median(per.flatMap((x) => f(x) ?? []));
    return `| ${phase} | ${fmt(med((x) => x.two.rps / x.one.rps), 2)} (${
      per.map((x) => fmt(x.two.rps / x.one.rps, 2)).join(", ")
    }) | ${fmt(med((x) => x.one.rps))} → ${fmt(med((x) => x.two.rps))} | ${
      fmt(med((x) => x.one.serverCpuMsPerRequest), 2)
    } → ${fmt(med((x) => x.two.serverCpuMsPerRequest), 2)} | ${
      fmt(med((x) => x.one.clientCpuMsPerRequest), 2)
    } → ${fmt(med((x) => x.two.clientCpuMsPerRequest), 2)} |`;
  }).filter(Boolean);
  if (!rows.length) return "";
  return [
    "## One worker or two",
    "",
    `${runLine(file)}; N = ${
      fmt(file.options.users)
    } users, ${file.options.concurrency} clients, ${file.machine.cpus} CPUs.`,
    "",
    "Weft served by `deno serve` (one isolate) and by `deno serve --parallel` with `DENO_JOBS=2`",
    "(two isolates on one port, one store), side by side in each run. The load generator runs on",
    "the same machine: its own CPU per request is what the second worker competes with.",
    "",
    "| phase | 2 workers ÷ 1, median (runs) | req/s, 1 → 2 | server CPU ms/req, 1 → 2 | load generator CPU ms/req, 1 → 2 |",
    "| ----- | ---------------------------: | -----------: | -----------------------: | -------------------------------: |",
    ...rows,
  ].join("\n");
}

/** The `saml` phase of each run: Weft's sign-ins beside node-saml alone (target ≥ 0.7). */
function samlSection(file: RunsFile): string {
  const rows = file.runs.flatMap((run, i) =>
    run.filter((r) => r.saml).map((r) => {
      const s = r.saml!;
      return `| ${i + 1} | ${fmt(s.signIns)} | ${fmt(s.signInsPerSecond)} | ${fmt(s.p99, 1)} | ${
        fmt(s.loginP99, 1)
      } | ${fmt(s.acsP99, 1)} | ${fmt(s.libraryPerSecond)} | ${fmt(s.libraryP99, 1)} | ${
        fmt(s.ratio, 2)
      } | ${fmt(s.serverCpuMsPerSignIn ?? 0, 2)} | ${s.errors} |`;
    })
  );
  if (!rows.length) return "";
  return [
    "### SAML sign-ins",
    "",
    "SP-initiated sign-ins through Weft (login redirect + ACS post, `bench/saml.ts`) beside",
    "node-saml alone verifying the same responses in a loop; target: Weft ≥ 0.7 × the library.",
    "",
    "| run | sign-ins | sign-ins/s | p99 ms | login p99 | ACS p99 | node-saml/s | node-saml p99 | Weft ÷ library | server CPU ms/sign-in | errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** Writes docs/benchmarks.md and docs/benchmarks.svg from whatever result files exist. */
export async function writeReport(results: string, docs: string): Promise<void> {
  const read = async <T>(name: string): Promise<T | null> => {
    try {
      return JSON.parse(await Deno.readTextFile(join(results, name))) as T;
    } catch {
      return null;
    }
  };
  const runs = await read<RunsFile>("runs.json");
  const scaling = await read<ScalingResult>("scaling.json");
  const notes = await Deno.readTextFile(join(results, "..", "notes.md")).catch(() => "");
  const parts: string[] = [
    "# Benchmarks",
    "",
    "<!-- Generated by `deno task bench` (bench/report.ts) from bench/results/*.json and bench/notes.md. -->",
    "",
    "Okta- and Entra-shaped provisioning traffic replayed against Weft, against a bare `Deno.serve`",
    "handler doing only the minimum Deno KV work of each operation (the store's limit,",
    "`bench/baseline.ts`), against the same-work baseline (a bare handler making, per request,",
    "the very Deno KV operations Weft makes, replayed from a trace of Weft's own store calls,",
    "`bench/same_work.ts`: Weft ÷ same-work is what Weft's code costs beyond its store work), and",
    "against two SCIM servers installed from npm at bench time: Better Auth's SCIM plugin on",
    "SQLite and SCIMMY with its Express routers over an in-memory store. `weft-log-off` is Weft",
    "with its SCIM request log off, run beside it for the log's cost on every phase.",
    "Every system gets the same requests in the same run, one system at a time, on a fresh store,",
    "from `bench/load.ts` (8 clients in flight; every phase bounded by a request budget and a",
    "deadline; loopback only). Phases are described in `bench/workloads.ts`.",
    "",
    "Targets: Weft ÷ same-work ≥ 0.85 on every phase; Weft ÷ bare ≥ 0.7 on create and ≥ 0.8 on",
    "lookup (other phases: reported beside the ceiling the same-work baseline sets); Weft ÷ every",
    "peer ≥ 2 on every phase, ≥ 1 against SCIMMY's in-memory store on create; peak RSS ≤ 120 MiB",
    "through the 100,000-user scaling run with every feature on.",
    "",
    "Rerun: `deno task bench` (three runs, N = 10,000), `deno task bench --scaling` (100,000 users,",
    "every feature on, 1,000 tenants), `deno task bench --store both --users 5000` (KV Connect),",
    "`deno task bench --systems weft,weft-2 --users 5000 --out bench/results/parallel.json` (one",
    "worker or two), `deno task bench:smoke` (CI: N = 500, fails on any error beyond a peer's known",
    "gaps).",
    "",
  ];
  if (runs) {
    const m = runs.machine;
    parts.push(
      "## Side by side",
      "",
      `Date ${runs.date}; machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, ` +
        `Deno ${m.deno}, Node ${m.node}; Weft ${
          runs.weft ?? "(commit not recorded)"
        }; command \`${runs.command}\`; N = ${
          fmt(runs.options.users)
        } users, ${runs.options.groups} groups, ${runs.options.batch} members per PATCH, ${runs.options.concurrency} clients.`,
      "",
      "The machine is shared and noisy: ratios are taken within one run (systems side by side, order",
      'rotated between runs) and the median of the runs is reported. "Weft ÷ system" is Weft\'s',
      "requests per second divided by the system's in the same phase and run.",
      "",
      "### Targets",
      "",
      summary(runs),
      "",
      "![Weft's throughput ratios per phase](benchmarks.svg)",
      "",
      gapsSection(runs),
      "",
      samlSection(runs),
      "",
      apiSection(runs),
      "",
      ...(runs.storeOps ? [storeOpsSection(runs), ""] : []),
      "### Every run",
      "",
      ...runs.runs.map((run, i) => runTable(run, i) + "\n"),
    );
    await Deno.writeTextFile(join(docs, "benchmarks.svg"), chart(runs));
  }
  if (scaling) parts.push(scalingSection(scaling), "");
  const kvConnect = await read<RunsFile>("kv-connect.json");
  if (kvConnect) parts.push(kvConnectSection(kvConnect), "");
  const parallel = await read<RunsFile>("parallel.json");
  if (parallel) parts.push(parallelSection(parallel), "");
  if (notes) parts.push(notes.trim(), "");
  await Deno.mkdir(docs, { recursive: true });
  await Deno.writeTextFile(join(docs, "benchmarks.md"), parts.join("\n"));
}
