/**
 * Scaling runs (Weft alone): does the cost of an operation grow with the size of what is stored?
 *
 * 1. Load 1,000 users, probe lookups by userName and externalId (one client: pure latency).
 * 2. Load up to `large` users (default 100,000) through the same server, probe the same way.
 * 3. Page through the whole directory by 100 and compare the first and last tenth of the pages.
 * 4. Fill one group with 50,000 members; then, alternating, add 100 members to it and to a new
 *    empty group, and read both with `excludedAttributes=members`.
 * 5. Every feature on, as a production tenant runs: the SCIM request log and the events feed (on
 *    by default), one webhook endpoint subscribed to every event on a loopback receiver that
 *    answers 204 (from before the first user on), then SAML sign-ins (`bench/saml.ts`) and the
 *    directory API's pages through the whole directory and its events (`bench/api.ts`).
 * 6. Many tenants (`bench/tenants.ts`): 1,000 tenants of 100 users each beside the big one; the
 *    lookup latency of a tenant drawn from all of them against the bench tenant's.
 * 7. The server's peak RSS through all of it.
 * @module
 */
import { type Client, type PhaseStats, quantile, runPhase, type Target } from "./load.ts";
import { type Machine, machineInfo, median } from "./report.ts";
import { startSystem, type SystemName, weftVersion } from "./systems.ts";
import { samlPhase, type SamlStats } from "./saml.ts";
import { apiPhase, type ApiStats } from "./api.ts";
import { tenantsStage } from "./tenants.ts";
import {
  createPhase,
  groupName,
  lookupPhase,
  memberPatch,
  pagePhase,
  type ReplayState,
  userName,
  type WorkloadOptions,
} from "./workloads.ts";

/** Latency summary in milliseconds. */
export interface Latency {
  p50: number;
  p99: number;
  mean: number;
  n: number;
}

/** bench/results/scaling.json. */
export interface ScalingResult {
  date: string;
  machine: Machine;
  command: string;
  /** The Weft commit measured (`+dirty`: with uncommitted changes). */
  weft?: string;
  /** `DENO_V8_FLAGS` of the Weft server, if any. */
  v8Flags?: string;
  /** The system measured, when not Weft. */
  system?: string;
  lookup: {
    small: Latency & { users: number };
    large: Latency & { users: number };
    /** p50 at large ÷ p50 at small. */
    ratio: number;
  };
  members: { fullSize: number; empty: Latency; full: Latency; ratio: number };
  excluded: {
    empty: Latency;
    full: Latency;
    ratio: number;
    withMembersEmpty: Latency;
    withMembersFull: Latency;
  };
  paging: {
    users: number;
    firstMean: number;
    lastMean: number;
    ratio: number;
    deciles: number[];
  };
  load: Omit<PhaseStats, "errorSamples" | "errorsByStatus">;
  fill: Omit<PhaseStats, "errorSamples" | "errorsByStatus">;
  /** Peak RSS through the whole 100,000-user run, whole-group reads included (MiB). */
  peakRssMiB: number;
  /** Webhook deliveries the receiver got (every event of the run, at least once), when on. */
  webhooks?: { delivered: number; drainedMs: number };
  /** SAML sign-ins against the large directory. */
  saml?: SamlStats;
  /** The directory API's pages through the large directory and its events. */
  api?: ApiStats;
  /** Many tenants beside the big one. */
  tenants?: {
    tenants: number;
    usersPerTenant: number;
    provisionMs: number;
    load: { requests: number; rps: number; p50: number; p99: number; errors: number };
    single: Latency;
    spread: Latency;
    /** p50 of lookups spread over every tenant ÷ p50 in the bench tenant, interleaved. */
    ratio: number;
    lookupErrors: number;
  };
  /** Peak RSS after each stage, in order (MiB); the last includes reading the big group whole. */
  rssAfter: Record<string, number>;
}

function latency(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  return {
    // The median (even counts average the middle two), so ratios of p50s are ratios of medians.
    p50: median(s),
    p99: quantile(s, 0.99),
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    n: s.length,
  };
}

function brief(
  p: PhaseStats & { client?: Client },
): Omit<PhaseStats, "errorSamples" | "errorsByStatus"> {
  const { errorSamples: _s, errorsByStatus: _b, client: _c, ...rest } = p;
  return rest;
}

/** `count` distinct user indexes spread evenly over `[0, users)`. */
function spread(users: number, count: number): number[] {
  const step = users / count;
  return Array.from({ length: count }, (_, k) => Math.floor(k * step + step / 2));
}

async function probeLookups(
  target: Target,
  o: WorkloadOptions,
  users: number[],
  log: (s: string) => void,
): Promise<Latency> {
  const p = await lookupPhase(target, { ...o, concurrency: 1 }, users, "probe");
  if (p.errors) log(`  lookup probe errors: ${p.errorSamples[0]}`);
  return latency(p.client.latencies);
}

async function send(c: Client, method: "GET" | "POST" | "PATCH", path: string, body?: unknown) {
  const res = await c.send({ method, path, body });
  if (res.error) {
    throw new Error(`${method} ${path} failed: ${res.status} ${res.text.slice(0, 200)}`);
  }
  return res;
}

/** Runs the scaling checks against a fresh Weft. */
export async function runScaling(options: {
  concurrency: number;
  phaseTimeoutMs: number;
  large: number;
  weftDir?: string;
  weftV8Flags?: string;
  /** The system to scale (default Weft; the baseline shows what the store alone does). */
  system?: SystemName;
  /** Tenants of the many-tenants stage (0: none; Weft only). */
  tenants?: number;
  log: (line: string) => void;
}): Promise<ScalingResult> {
  const { log } = options;
  const small = Math.min(1000, options.large);
  const fullSize = Math.min(50_000, Math.floor(options.large / 2));
  const rounds = 40;
  const o: WorkloadOptions = {
    users: small,
    groups: 1,
    batch: 100,
    concurrency: options.concurrency,
    phaseTimeoutMs: options.phaseTimeoutMs,
  };
  const receiver = countingReceiver();
  const sys = await startSystem(options.system ?? "weft", {
    weftDir: options.weftDir,
    weftV8Flags: options.weftV8Flags,
    // The receiver is on loopback, which Weft refuses as a webhook target unless allowed.
    weftEnv: { WEFT_WEBHOOK_ALLOW_PRIVATE: "true" },
  });
  try {
    if (sys.weftCli) {
      await sys.weftCli(
        "webhook",
        "create",
        "--tenant",
        "bench",
        "--url",
        receiver.url,
        "--events",
        "*",
      );
    }
    const state: ReplayState = { userIds: [], groupIds: [] };
    log(`scaling: loading ${small} users`);
    await createPhase(sys, o, state);
    const rssAfter: Record<string, number> = {};
    const checkpoint = async (stage: string) => {
      rssAfter[stage] = await sys.peakRssMiB();
      log(`  peak RSS after ${stage}: ${rssAfter[stage].toFixed(1)} MiB`);
    };
    await checkpoint(`loading ${small} users`);
    const probeCount = Math.min(1000, small);
    const smallLookup = await probeLookups(sys, o, spread(small, probeCount), log);
    log(`  lookup at ${small}: p50 ${smallLookup.p50.toFixed(2)} ms`);

    log(`scaling: loading up to ${options.large} users`);
    const load = await createPhase(sys, { ...o, users: options.large }, state, small);
    log(`  ${load.requests} requests, ${load.rps.toFixed(0)} req/s, ${load.errors} errors`);
    const largeLookup = await probeLookups(sys, o, spread(options.large, probeCount), log);
    log(`  lookup at ${options.large}: p50 ${largeLookup.p50.toFixed(2)} ms`);
    await checkpoint(`loading ${options.large} users and lookups`);

    log(`scaling: paging ${options.large} users`);
    const page = await pagePhase(sys, o, options.large, "page");
    const perPage = [...page.client.tagged].sort((a, b) => a[0] - b[0]).map(([, ms]) => ms);
    const tenth = Math.max(1, Math.floor(perPage.length / 10));
    const deciles = Array.from(
      { length: 10 },
      (_, d) => {
        const slice = perPage.slice(d * tenth, d === 9 ? undefined : (d + 1) * tenth);
        return slice.reduce((a, b) => a + b, 0) / Math.max(1, slice.length);
      },
    );
    const firstMean = deciles[0];
    const lastMean = deciles[9];
    log(`  pages: first tenth ${firstMean.toFixed(1)} ms, last tenth ${lastMean.toFixed(1)} ms`);
    await checkpoint("paging the whole directory");

    log(`scaling: filling a group with ${fullSize} members`);
    const ids = state.userIds;
    const big: { id?: string } = {};
    const setup = await runPhase("setup", sys, [async (c: Client) => {
      const res = await send(c, "POST", "/Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: groupName(0),
        members: [],
      });
      big.id = JSON.parse(res.text).id;
    }], { concurrency: 1, maxRequests: 1, timeoutMs: 60_000 });
    if (!big.id) throw new Error(`Cannot create the big group: ${setup.errorSamples[0]}`);
    const batches = Array.from({ length: Math.ceil(fullSize / 100) }, (_, b) => b);
    const fill = await runPhase(
      "fill",
      sys,
      batches.map((b) => async (c: Client) => {
        const members = [];
        for (let i = b * 100; i < Math.min(fullSize, (b + 1) * 100); i++) {
          members.push({ value: ids[i]!, display: userName(i) });
        }
        await send(c, "PATCH", `/Groups/${big.id}`, memberPatch(big.id!, groupName(0), members));
      }),
      {
        concurrency: options.concurrency,
        maxRequests: batches.length + 5,
        timeoutMs: options.phaseTimeoutMs,
      },
    );
    log(`  ${fill.requests} PATCHes, ${fill.rps.toFixed(0)} req/s, ${fill.errors} errors`);
    await checkpoint(`filling a ${fullSize}-member group`);

    // Alternate: add 100 new members to the big group, then 100 others to a fresh empty group.
    log("scaling: adding 100 members to the big group vs empty groups; excludedAttributes reads");
    const addFull: number[] = [];
    const addEmpty: number[] = [];
    const exFull: number[] = [];
    const exEmpty: number[] = [];
    const withFull: number[] = [];
    const withEmpty: number[] = [];
    let next = fullSize;
    const take = () => {
      const members = [];
      for (let k = 0; k < 100; k++, next++) {
        members.push({
          value: ids[next % options.large]!,
          display: userName(next % options.large),
        });
      }
      return members;
    };
    const probe = await runPhase(
      "members",
      sys,
      Array.from({ length: rounds }, (_, r) => async (c: Client) => {
        const created = await send(c, "POST", "/Groups", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
          displayName: groupName(1 + r),
          members: [],
        });
        const emptyId = JSON.parse(created.text).id as string;
        const exPath = (id: string) => `/Groups/${id}?excludedAttributes=members`;
        for (let k = 0; k < 5; k++) {
          exEmpty.push((await send(c, "GET", exPath(emptyId))).ms);
          exFull.push((await send(c, "GET", exPath(big.id!))).ms);
        }
        if (r < 3) withEmpty.push((await send(c, "GET", `/Groups/${emptyId}`)).ms);
        const first = r % 2 === 0;
        const order: [string, number[]][] = first
          ? [[big.id!, addFull], [emptyId, addEmpty]]
          : [[emptyId, addEmpty], [big.id!, addFull]];
        for (const [id, into] of order) {
          const name = id === big.id ? groupName(0) : groupName(1 + r);
          into.push((await send(c, "PATCH", `/Groups/${id}`, memberPatch(id, name, take()))).ms);
        }
      }),
      { concurrency: 1, maxRequests: rounds * 20, timeoutMs: options.phaseTimeoutMs },
    );
    if (probe.errors || probe.failedTasks) {
      throw new Error(`The member probes failed: ${probe.errorSamples[0]}`);
    }
    const members = {
      fullSize,
      empty: latency(addEmpty),
      full: latency(addFull),
      ratio: median(addFull) / median(addEmpty),
    };
    log(
      `  add 100: empty ${members.empty.p50.toFixed(1)} ms, full ${members.full.p50.toFixed(1)} ms`,
    );
    await checkpoint("adding members and excludedAttributes reads");
    // Last, as it builds a 50,000-member response: GET of the big group with its members.
    const whole = await runPhase(
      "whole",
      sys,
      [0, 1, 2].map(() => async (c: Client) => {
        withFull.push((await send(c, "GET", `/Groups/${big.id}`)).ms);
      }),
      { concurrency: 1, maxRequests: 3, timeoutMs: options.phaseTimeoutMs },
    );
    if (whole.errors) throw new Error(`Cannot read the big group: ${whole.errorSamples[0]}`);
    await checkpoint(`reading the ${fullSize}-member group whole (3 times)`);

    let saml: SamlStats | undefined;
    let api: ApiStats | undefined;
    let tenants: ScalingResult["tenants"];
    let webhooks: ScalingResult["webhooks"];
    if (sys.weftCli) {
      log(`scaling: SAML sign-ins against ${options.large} users`);
      saml = await samlPhase(sys, { ...o, users: options.large });
      log(
        `  ${saml.signIns} sign-ins, ${saml.signInsPerSecond.toFixed(0)}/s, ${saml.errors} errors`,
      );
      await checkpoint("SAML sign-ins");
      log("scaling: the directory API's pages (users, then events)");
      api = await apiPhase(sys, { ...o, users: options.large });
      log(
        `  ${api.users.usersRead} users in ${api.users.requests} pages, ${api.events.eventsRead} events in ${api.events.requests} pages`,
      );
      await checkpoint("reading the directory and its events through the API");
      const drainStart = performance.now();
      const expected = api.events.eventsRead;
      while (receiver.count() < expected && performance.now() - drainStart < 600_000) {
        await new Promise((r) => setTimeout(r, 200));
      }
      webhooks = { delivered: receiver.count(), drainedMs: performance.now() - drainStart };
      log(`  webhooks: ${webhooks.delivered} of ${expected} events delivered`);
      await checkpoint("webhook deliveries drained");
      if (options.tenants) {
        log(`scaling: ${options.tenants} tenants of 100 users beside the big one`);
        const t = await tenantsStage(sys, {
          count: options.tenants,
          perTenant: 100,
          benchUsers: options.large,
          probes: 1000,
          concurrency: options.concurrency,
          timeoutMs: options.phaseTimeoutMs,
          log,
        });
        const single = latency(t.single);
        const spread = latency(t.spread);
        tenants = {
          tenants: t.tenants,
          usersPerTenant: t.usersPerTenant,
          provisionMs: t.provisionMs,
          load: t.load,
          single,
          spread,
          ratio: spread.p50 / single.p50,
          lookupErrors: t.lookupErrors,
        };
        log(
          `  lookups: bench tenant p50 ${single.p50.toFixed(2)} ms, any of ${t.tenants} p50 ${
            spread.p50.toFixed(2)
          } ms (${t.lookupErrors} errors)`,
        );
        await checkpoint(`${options.tenants} tenants of 100 users`);
      }
    }
    // The process's high-water mark after the last stage: the peak of the whole run.
    const peakRssMiB = Math.max(...Object.values(rssAfter));
    return {
      date: new Date().toISOString(),
      machine: await machineInfo(),
      command: `deno task bench ${Deno.args.join(" ")}`.trim(),
      weft: await weftVersion(options.weftDir),
      v8Flags: options.weftV8Flags,
      system: options.system,
      lookup: {
        small: { ...smallLookup, users: small },
        large: { ...largeLookup, users: options.large },
        ratio: largeLookup.p50 / smallLookup.p50,
      },
      members,
      excluded: {
        empty: latency(exEmpty),
        full: latency(exFull),
        ratio: median(exFull) / median(exEmpty),
        withMembersEmpty: latency(withEmpty),
        withMembersFull: latency(withFull),
      },
      paging: {
        users: options.large,
        firstMean,
        lastMean,
        ratio: lastMean / firstMean,
        deciles,
      },
      load: brief(load),
      fill: brief(fill),
      peakRssMiB,
      rssAfter,
      ...(webhooks ? { webhooks } : {}),
      ...(saml ? { saml } : {}),
      ...(api ? { api } : {}),
      ...(tenants ? { tenants } : {}),
    };
  } finally {
    await sys.stop();
    await receiver.close();
  }
}

/** A loopback webhook receiver that answers 204 and counts what it got (keeping nothing). */
function countingReceiver(): { url: string; count(): number; close(): Promise<void> } {
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    n++;
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks`,
    count: () => n,
    close: () => server.shutdown(),
  };
}
