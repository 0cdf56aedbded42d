/**
 * The format of a store trace (`bench/store_trace.ts` writes it, `bench/same_work.ts` replays
 * it): the shapes of the Deno KV operations a system made per request of each kind, and per
 * request of each phase in the background, plus the request classes both sides agree on.
 *
 * An operation's shape keeps what costs the store work — the operation, the family of each key
 * (the part after the tenant id: `idp_users`, `events`, …), whether a read found a value, how
 * many entries a list read, the checks, sets, deletes and sums of a commit, and the sizes of keys
 * and values — and never a key or a value itself.
 * @module
 */
import { PHASES } from "./workloads.ts";

/** Sizes of one key and its value: key bytes, value bytes, value fields (-1: a `Deno.KvU64`). */
export interface Sized {
  fam: string;
  kb: number;
  vb: number;
  vf: number;
}

interface OpBase {
  /** The request's sequential step: ops of one step were in flight together. */
  step: number;
  /** Still in flight when the response was returned (not awaited by the request). */
  detached?: boolean;
  eventual?: boolean;
}

/** `kv.get`. */
export interface GetOp extends OpBase, Sized {
  op: "get";
  hit: boolean;
}

/** `kv.getMany`. */
export interface GetManyOp extends OpBase {
  op: "getMany";
  keys: (Sized & { hit: boolean })[];
}

/** `kv.list`: the sizes are of one entry on average. */
export interface ListOp extends OpBase, Sized {
  op: "list";
  entries: number;
  limit?: number;
  batchSize?: number;
  reverse?: boolean;
  /** The iteration reached the end of the selection (rather than being stopped). */
  ended: boolean;
}

/** An atomic commit, or `kv.set` / `kv.delete` (`direct`). */
export interface CommitOp extends OpBase {
  op: "commit";
  direct?: "set" | "delete";
  /** `exists`: checked against a versionstamp (the key was read), not against absence. */
  checks: { fam: string; kb: number; exists: boolean }[];
  /** `fresh`: a key the trace had not seen before (an insert rather than an overwrite). */
  sets: (Sized & { fresh: boolean; expireIn?: boolean })[];
  deletes: { fam: string; kb: number }[];
  sums: { fam: string; kb: number }[];
  /** `min` / `max` mutations. */
  others: number;
  enqueues: number;
  ok: boolean;
}

/** `kv.watch` (a stream: counted, not replayed per request). */
export interface WatchOp extends OpBase {
  op: "watch";
  keys: number;
}

/** `kv.enqueue` outside an atomic operation. */
export interface EnqueueOp extends OpBase {
  op: "enqueue";
}

/** One store operation's shape. */
export type OpShape = GetOp | GetManyOp | ListOp | CommitOp | WatchOp | EnqueueOp;

/** Store work, summed or per request. */
export interface OpCount {
  /** Store calls: get + getMany + list + commit (+ watch, enqueue). */
  calls: number;
  /** Sequential round trips (steps); requests only. */
  steps: number;
  get: number;
  getMany: number;
  getManyKeys: number;
  list: number;
  listed: number;
  commits: number;
  checks: number;
  sets: number;
  deletes: number;
  sums: number;
  mutations: number;
  /** Value bytes written (sets), roughly (a JSON-like size, not the store's encoding). */
  bytesWritten: number;
  /** Value bytes read (gets, getMany, list entries), roughly. */
  bytesRead: number;
  watch: number;
  enqueue: number;
}

/** Store work of one phase, per request of the phase. */
export interface PhaseOps {
  requests: number;
  /** Work done while answering, per request. */
  foreground: OpCount;
  /** Work of background writers and workers caused by the phase, amortised per request. */
  background: OpCount;
}

/** A system's store work per phase, and what it does per second when idle. */
export interface SystemOps {
  phases: Record<string, PhaseOps>;
  /** Time-driven background work (polls, heartbeats): calls per second when idle. */
  idleCallsPerSecond: number;
  /** Requests of kinds the same-work server had no template for (0 for the others). */
  untemplated?: number;
}

/** A request kind's recorded store work: distinct op sequences and how often each occurred. */
export interface Template {
  cls: string;
  /** The phase most of these requests belonged to (their background is credited to it). */
  phase: string;
  requests: number;
  variants: { count: number; ops: OpShape[] }[];
}

/** A time-driven background op of an idle system and its rate. */
export interface IdleOp {
  shape: OpShape;
  perSecond: number;
}

/** bench/.cache/store_trace.json. */
export interface StoreTrace {
  /** Weft's commit and a hash of the bench files the trace depends on. */
  key: string;
  weft: string;
  date: string;
  users: number;
  /** Per request kind (see {@linkcode classify}). */
  templates: Record<string, Template>;
  /** Per phase: background ops beyond the idle ones, and the phase's requests. */
  background: Record<string, { requests: number; ops: OpShape[] }>;
  idle: IdleOp[];
  /** Distinct keys read per family in the trace (pool sizes of the replay). */
  distinctReads: Record<string, number>;
  /** Store work per phase of each system, traced the same way. */
  counts: Record<string, SystemOps>;
}

/** The empty count. */
export function emptyCount(): OpCount {
  return {
    calls: 0,
    steps: 0,
    get: 0,
    getMany: 0,
    getManyKeys: 0,
    list: 0,
    listed: 0,
    commits: 0,
    checks: 0,
    sets: 0,
    deletes: 0,
    sums: 0,
    mutations: 0,
    bytesWritten: 0,
    bytesRead: 0,
    watch: 0,
    enqueue: 0,
  };
}

/** Adds one op to a count. */
export function addOp(c: OpCount, s: OpShape): void {
  c.calls++;
  switch (s.op) {
    case "get":
      c.get++;
      if (s.hit) c.bytesRead += s.vb;
      break;
    case "getMany":
      c.getMany++;
      c.getManyKeys += s.keys.length;
      for (const k of s.keys) if (k.hit) c.bytesRead += k.vb;
      break;
    case "list":
      c.list++;
      c.listed += s.entries;
      c.bytesRead += s.entries * s.vb;
      break;
    case "commit":
      c.commits++;
      c.checks += s.checks.length;
      c.sets += s.sets.length;
      c.deletes += s.deletes.length;
      c.sums += s.sums.length;
      c.mutations += s.sets.length + s.deletes.length + s.sums.length + s.others + s.enqueues;
      for (const x of s.sets) c.bytesWritten += x.vb;
      break;
    case "watch":
      c.watch++;
      break;
    case "enqueue":
      c.enqueue++;
      break;
  }
}

/** `c` divided by `n`. */
export function divide(c: OpCount, n: number): OpCount {
  const out = emptyCount();
  if (!n) return out;
  for (const k of Object.keys(c) as (keyof OpCount)[]) out[k] = c[k] / n;
  return out;
}

/** The shape without its sizes: what makes two requests' store work the same sequence. */
export function signature(s: OpShape): string {
  return JSON.stringify(s, (k, v) => (k === "kb" || k === "vb" || k === "vf" ? undefined : v));
}

/** A coarse signature (operation and families), to match polls whose results vary. */
export function liteSignature(s: OpShape): string {
  switch (s.op) {
    case "get":
    case "list":
      return `${s.op}:${s.fam}`;
    case "getMany":
      return `getMany:${s.keys.map((k) => k.fam).join(",")}`;
    case "commit":
      return `commit:${
        [...s.checks, ...s.sets, ...s.deletes, ...s.sums].map((k) => k.fam).sort().join(",")
      }`;
    default:
      return s.op;
  }
}

/**
 * The kind of a SCIM request, from its method, path and body alone (the tracer and the
 * same-work server agree on it): `users-post`, `users-filter-username`, `users-page`,
 * `users-patch-value-active` (Okta's pathless deactivation), `users-patch-active` (Entra's),
 * `users-patch-attrs`, `groups-post`, `groups-patch`, `groups-get`, `groups-get-nomembers`, …
 * A list response with no results adds `:empty` (the match before a create).
 */
export function classify(method: string, url: URL, body: unknown): string {
  const segs = url.pathname.split("/").filter(Boolean);
  const at = segs.findIndex((s) => s === "Users" || s === "Groups");
  if (at < 0) return `${method.toLowerCase()}-other`;
  const resource = segs[at].toLowerCase();
  const id = segs[at + 1];
  const m = method.toUpperCase();
  if (m === "GET" && !id) {
    const filter = url.searchParams.get("filter");
    if (filter) {
      const attr = /^\s*([\w.:]+)\s+eq\s/i.exec(filter)?.[1]?.toLowerCase() ?? "other";
      return `${resource}-filter-${attr}`;
    }
    return `${resource}-page`;
  }
  if (m === "GET") {
    const excluded = url.searchParams.get("excludedAttributes") ?? "";
    return `${resource}-get${/\bmembers\b/i.test(excluded) ? "-nomembers" : ""}`;
  }
  if (m === "PATCH") {
    if (resource === "groups") return "groups-patch";
    const ops = (body as { Operations?: { path?: string; value?: unknown }[] } | undefined)
      ?.Operations ?? [];
    if (ops.some((o) => o.path?.toLowerCase() === "active")) return "users-patch-active";
    const pathless = ops.length > 0 && ops.every((o) => !o.path);
    if (
      pathless &&
      ops.every((o) =>
        o.value !== null && typeof o.value === "object" &&
        Object.keys(o.value).every((k) => k.toLowerCase() === "active")
      )
    ) return "users-patch-value-active";
    return "users-patch-attrs";
  }
  return `${resource}-${m.toLowerCase()}`;
}

/** Whether a response body is a SCIM list with no results. */
export function emptyList(text: string): boolean {
  return /"totalResults"\s*:\s*0\b/.test(text);
}

/** The systems of {@linkcode opsTable} and their names in a store trace. */
const COLUMNS: [string, string][] = [["Weft", "weft"], ["same-work", "same-work"], [
  "bare",
  "baseline",
]];

function n2(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return "—";
  return x.toFixed(2).replace(/\.00$/, "").replace(/(\.\d)0$/, "$1");
}

/** Rows of the store-operations table: phase, metric, then one value per system. */
export function opsRows(counts: Record<string, SystemOps>): string[][] {
  const rows: string[][] = [];
  const metric = (name: string, f: (p: PhaseOps) => string) => (phase: string) =>
    rows.push([
      phase,
      name,
      ...COLUMNS.map(([, s]) => {
        const p = counts[s]?.phases[phase];
        return p ? f(p) : "—";
      }),
    ]);
  const total = (p: PhaseOps, k: keyof OpCount) => p.foreground[k] + p.background[k];
  const pair = (p: PhaseOps, a: keyof OpCount, b: keyof OpCount) =>
    `${n2(total(p, a))} (${n2(total(p, b))})`;
  for (const phase of PHASES) {
    metric("store calls", (p) => n2(total(p, "calls")))(phase);
    metric("of which background", (p) => n2(p.background.calls))(phase);
    metric("sequential round trips", (p) => n2(p.foreground.steps))(phase);
    metric("get", (p) => n2(total(p, "get")))(phase);
    metric("getMany (keys)", (p) => pair(p, "getMany", "getManyKeys"))(phase);
    metric("list (entries)", (p) => pair(p, "list", "listed"))(phase);
    metric("commits (checks)", (p) => pair(p, "commits", "checks"))(phase);
    metric("mutations", (p) => n2(total(p, "mutations")))(phase);
    metric("KB written", (p) => n2(total(p, "bytesWritten") / 1000))(phase);
  }
  return rows;
}

/** The store-operations table as Markdown. */
export function opsTable(counts: Record<string, SystemOps>): string {
  return [
    `| phase | per request | ${COLUMNS.map(([c]) => c).join(" | ")} |`,
    `| ----- | ----------- | ${COLUMNS.map(() => "--:").join(" | ")} |`,
    ...opsRows(counts).map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}
