/**
 * Records the Deno KV work of a system per request of the benchmark's workload, and from Weft's
 * the templates that `bench/same_work.ts` replays (the same-work baseline):
 *
 * ```sh
 * deno run -A --unstable-kv bench/store_trace.ts            # record (if stale) and print the table
 * deno run -A --unstable-kv bench/store_trace.ts --force    # record again
 * deno run -A --unstable-kv bench/store_trace.ts --users 1000
 * deno run -A --unstable-kv bench/store_trace.ts --store connect   # on a KV Connect server
 * ```
 *
 * Each system runs in its own process, in-process behind a `Deno.serve` on loopback, over a
 * recording wrapper of a real file-backed store, and gets the benchmark's own replay
 * (`bench/workloads.ts`, N users, 8 clients). Weft runs as shipped: its `main.ts` is imported with
 * `Deno.openKv` answering with the wrapper, so the write gate, the feed worker, the webhook worker
 * and the request log's group commits all go through it. Every operation is tagged by the request
 * it belongs to (an `AsyncLocalStorage` entered per request): operations started while a request
 * was being answered are that request's (in their order, and grouped into steps of operations that
 * were in flight together); operations of no request, or started after their request's response
 * was returned, are the phase's background work. Each phase ends when its background work is
 * quiet; what the system does per second when idle (polls, heartbeats) is measured before the
 * load and taken out of the phases' background, which is then amortised per request.
 *
 * The file (`bench/.cache/store_trace.json`) is keyed by Weft's commit (`weftVersion`) and a hash
 * of the bench files it depends on; `deno task bench` records it when it is missing or stale.
 * The same-work server and the bare baseline are traced the same way, so the table compares the
 * three on the same terms.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { PHASES, profilingOptions, replay, type WorkloadOptions } from "./workloads.ts";
import { type BenchStore, provisionWeft, ROOT, weftVersion } from "./systems.ts";
import { startKvConnect } from "../tests/_kv_connect.ts";
import {
  addOp,
  classify,
  divide,
  emptyCount,
  emptyList,
  type IdleOp,
  liteSignature,
  type OpCount,
  type OpShape,
  opsTable,
  type PhaseOps,
  signature,
  type StoreTrace,
  type SystemOps,
  type Template,
} from "./trace_format.ts";

/** The systems the tracer can trace. */
export const TRACED = ["weft", "same-work", "baseline"] as const;
/** A traced system. */
export type Traced = typeof TRACED[number];

/** Where `deno task bench` keeps the trace (`--store connect`: {@linkcode tracePathFor}). */
export const TRACE_PATH = join(ROOT, "bench", ".cache", "store_trace.json");

/** The trace of a store kind: Weft sizes its commits to the store (10 checks on KV Connect). */
export function tracePathFor(store: BenchStore): string {
  return store === "connect"
    ? join(ROOT, "bench", ".cache", "store_trace.connect.json")
    : TRACE_PATH;
}

/** Users of the traced workload unless told. */
export const TRACE_USERS = 300;

interface ReqCtx {
  phase: string;
  cls: string;
  done?: number;
}

interface Rec {
  t0: number;
  t1: number;
  shape: OpShape;
  ctx?: ReqCtx;
  phase: string;
  /** Waiting for the store (a list: from its first `next()`). */
  pending: boolean;
}

const utf8 = new TextEncoder();

function partBytes(p: Deno.KvKeyPart): number {
  if (typeof p === "string") return utf8.encode(p).length + 2;
  if (p instanceof Uint8Array) return p.byteLength + 2;
  if (typeof p === "boolean") return 1;
  return 9;
}

function keyBytes(key: Deno.KvKey): number {
  return key.reduce((n: number, p) => n + partBytes(p), 0);
}

function keyId(key: Deno.KvKey): string {
  return JSON.stringify(
    key.map((p) =>
      typeof p === "bigint" ? `${p}n` : p instanceof Uint8Array ? `u8:${p.join(",")}` : p
    ),
  );
}

/** The family of a key: the part after the tenant id (`["t", tenant, family, …]`), else the first. */
export function family(key: Deno.KvKey): string {
  return String(key[0] === "t" ? key[2] : key[0]);
}

/** A value's size, roughly (bytes of its strings, 8 per number), and its number of leaves. */
function measure(v: unknown, depth = 0): [number, number] {
  if (v instanceof Deno.KvU64) return [8, -1];
  if (v === null || v === undefined) return [1, 1];
  switch (typeof v) {
    case "string":
      return [v.length, 1];
    case "number":
    case "bigint":
      return [8, 1];
    case "boolean":
      return [1, 1];
  }
  if (v instanceof Uint8Array) return [v.byteLength, 1];
  if (v instanceof Date) return [8, 1];
  if (depth > 8 || typeof v !== "object") return [8, 1];
  let bytes = 0;
  let fields = 0;
  const entries = Array.isArray(v) ? v.map((x) => ["", x] as const) : Object.entries(v);
  for (const [k, x] of entries) {
    const [b, f] = measure(x, depth + 1);
    bytes += k.length + b;
    fields += Math.max(1, f);
  }
  return [bytes + 2, Math.max(1, fields)];
}

/** Records every store operation made through its wrappers. */
export class Recorder {
  phase = "startup";
  readonly als = new AsyncLocalStorage<ReqCtx>();
  readonly recs: Rec[] = [];
  readonly requests: ReqCtx[] = [];
  readonly phaseMs: Record<string, number> = {};
  #phaseStart = performance.now();
  #seen = new Set<string>();
  readonly distinct = new Map<string, Set<string>>();
  idleSigs = new Set<string>();
  lastBusy = performance.now();
  inFlight = 0;

  /** Ends the current phase and starts `next`. */
  switchPhase(next: string): void {
    const now = performance.now();
    this.phaseMs[this.phase] = (this.phaseMs[this.phase] ?? 0) + now - this.#phaseStart;
    this.phase = next;
    this.#phaseStart = now;
  }

  #background(r: Rec): boolean {
    return !r.ctx || (r.ctx.done !== undefined && r.t0 > r.ctx.done);
  }

  #begin(shape: OpShape): Rec {
    const rec: Rec = {
      t0: performance.now(),
      t1: NaN,
      shape,
      ctx: this.als.getStore(),
      phase: this.phase,
      pending: shape.op !== "list",
    };
    this.recs.push(rec);
    return rec;
  }

  #end(rec: Rec): void {
    rec.t1 = performance.now();
    rec.pending = false;
    if (this.#background(rec) && !this.idleSigs.has(signature(rec.shape))) {
      this.lastBusy = rec.t1;
    }
  }

  #read(key: Deno.KvKey, hit: boolean): void {
    const id = keyId(key);
    if (!hit) return;
    this.#seen.add(id);
    const f = family(key);
    let s = this.distinct.get(f);
    if (!s) this.distinct.set(f, s = new Set());
    if (s.size < 100_000) s.add(id);
  }

  #fresh(key: Deno.KvKey): boolean {
    const id = keyId(key);
    const fresh = !this.#seen.has(id);
    this.#seen.add(id);
    return fresh;
  }

  /** Wraps a store so that every operation is recorded. */
  wrap(kv: Deno.Kv): Deno.Kv {
    // deno-lint-ignore no-this-alias
    const self = this;
    const sized = (key: Deno.KvKey, value: unknown) => {
      const [vb, vf] = measure(value);
      return { fam: family(key), kb: keyBytes(key), vb, vf };
    };
    const wrapAtomic = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
      const shape: OpShape = {
        op: "commit",
        step: 0,
        checks: [],
        sets: [],
        deletes: [],
        sums: [],
        others: 0,
        enqueues: 0,
        ok: false,
      };
      const mutation = (m: Deno.KvMutation) => {
        if (m.type === "set") {
          shape.sets.push({
            ...sized(m.key, m.value),
            fresh: self.#fresh(m.key),
            ...(m.expireIn ? { expireIn: true } : {}),
          });
        } else if (m.type === "delete") {
          shape.deletes.push({ fam: family(m.key), kb: keyBytes(m.key) });
        } else if (m.type === "sum") shape.sums.push({ fam: family(m.key), kb: keyBytes(m.key) });
        else shape.others++;
      };
      const proxy: Deno.AtomicOperation = new Proxy(op, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            switch (prop) {
              case "check":
                for (const c of args as Deno.AtomicCheck[]) {
                  shape.checks.push({
                    fam: family(c.key),
                    kb: keyBytes(c.key),
                    exists: c.versionstamp !== null,
                  });
                }
                break;
              case "set":
                mutation({
                  type: "set",
                  key: args[0] as Deno.KvKey,
                  value: args[1],
                  expireIn: (args[2] as { expireIn?: number } | undefined)?.expireIn,
                });
                break;
              case "delete":
                mutation({ type: "delete", key: args[0] as Deno.KvKey });
                break;
              case "sum":
                mutation({ type: "sum", key: args[0] as Deno.KvKey, value: args[1] as Deno.KvU64 });
                break;
              case "min":
              case "max":
                shape.others++;
                break;
              case "mutate":
                for (const m of args as Deno.KvMutation[]) mutation(m);
                break;
              case "enqueue":
                shape.enqueues++;
                break;
              case "commit": {
                const rec = self.#begin(shape);
                return (value as () => Promise<Deno.KvCommitResult | Deno.KvCommitError>).call(
                  target,
                ).then((r) => {
                  shape.ok = r.ok;
                  self.#end(rec);
                  return r;
                }, (e) => {
                  self.#end(rec);
                  throw e;
                });
              }
            }
            const result = value.apply(target, args);
            return result === target ? proxy : result;
          };
        },
      });
      return proxy;
    };
    const consistency = (o?: { consistency?: Deno.KvConsistencyLevel }) =>
      o?.consistency === "eventual" ? { eventual: true } : {};
    return new Proxy(kv, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        switch (prop) {
          case "get":
            return async (key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
              const shape: OpShape = {
                op: "get",
                step: 0,
                fam: family(key),
                kb: keyBytes(key),
                vb: 0,
                vf: 0,
                hit: false,
                ...consistency(options),
              };
              const rec = self.#begin(shape);
              try {
                const r = await target.get(key, options);
                shape.hit = r.versionstamp !== null;
                if (shape.hit) [shape.vb, shape.vf] = measure(r.value);
                self.#read(key, shape.hit);
                return r;
              } finally {
                self.#end(rec);
              }
            };
          case "getMany":
            return async (
              keys: Deno.KvKey[],
              options?: { consistency?: Deno.KvConsistencyLevel },
            ) => {
              const shape: OpShape = { op: "getMany", step: 0, keys: [], ...consistency(options) };
              const rec = self.#begin(shape);
              try {
                const rs = await target.getMany(keys, options);
                shape.keys = rs.map((r, i) => {
                  const hit = r.versionstamp !== null;
                  self.#read(keys[i], hit);
                  return { ...sized(keys[i], hit ? r.value : undefined), hit };
                });
                for (const k of shape.keys) if (!k.hit) k.vb = k.vf = 0;
                return rs;
              } finally {
                self.#end(rec);
              }
            };
          case "list":
            return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
              const range = selector as {
                prefix?: Deno.KvKey;
                start?: Deno.KvKey;
                end?: Deno.KvKey;
              };
              const first = range.prefix ?? range.start ?? range.end ?? [];
              const shape = {
                op: "list" as const,
                step: 0,
                fam: family(first),
                kb: 0,
                vb: 0,
                vf: 0,
                entries: 0,
                ended: false,
                ...(options?.limit !== undefined ? { limit: options.limit } : {}),
                ...(options?.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
                ...(options?.reverse ? { reverse: true } : {}),
                ...consistency(options),
              };
              const rec = self.#begin(shape);
              let firstDone = false;
              const iter = target.list(selector, options);
              const proxy: Deno.KvListIterator<unknown> = new Proxy(iter, {
                get(it, p) {
                  if (p === Symbol.asyncIterator) return () => proxy;
                  if (p === "next") {
                    return async () => {
                      if (!firstDone) rec.pending = true;
                      const r = await it.next();
                      if (r.done) shape.ended = true;
                      else {
                        const [vb, vf] = measure(r.value.value);
                        const n = shape.entries;
                        shape.kb = (shape.kb * n + keyBytes(r.value.key)) / (n + 1);
                        shape.vb = (shape.vb * n + vb) / (n + 1);
                        shape.vf = vf;
                        shape.entries++;
                        self.#read(r.value.key, true);
                      }
                      if (!firstDone) {
                        firstDone = true;
                        self.#end(rec);
                      }
                      return r;
                    };
                  }
                  const v = Reflect.get(it, p, it);
                  return typeof v === "function" ? v.bind(it) : v;
                },
              });
              return proxy;
            };
          case "atomic":
            return () => wrapAtomic(target.atomic());
          case "set":
            return async (key: Deno.KvKey, v: unknown, options?: { expireIn?: number }) => {
              const shape: OpShape = {
                op: "commit",
                step: 0,
                direct: "set",
                checks: [],
                sets: [{
                  ...sized(key, v),
                  fresh: self.#fresh(key),
                  ...(options?.expireIn ? { expireIn: true } : {}),
                }],
                deletes: [],
                sums: [],
                others: 0,
                enqueues: 0,
                ok: false,
              };
              const rec = self.#begin(shape);
              try {
                const r = await target.set(key, v, options);
                shape.ok = r.ok;
                return r;
              } finally {
                self.#end(rec);
              }
            };
          case "delete":
            return async (key: Deno.KvKey) => {
              const shape: OpShape = {
                op: "commit",
                step: 0,
                direct: "delete",
                checks: [],
                sets: [],
                deletes: [{ fam: family(key), kb: keyBytes(key) }],
                sums: [],
                others: 0,
                enqueues: 0,
                ok: true,
              };
              const rec = self.#begin(shape);
              try {
                return await target.delete(key);
              } finally {
                self.#end(rec);
              }
            };
          case "watch":
            return (keys: Deno.KvKey[], options?: { raw?: boolean }) => {
              self.#end(self.#begin({ op: "watch", step: 0, keys: keys.length }));
              return target.watch(keys, options);
            };
          case "enqueue":
            return (...args: Parameters<Deno.Kv["enqueue"]>) => {
              self.#end(self.#begin({ op: "enqueue", step: 0 }));
              return target.enqueue(...args);
            };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  /** Serves `handler` with every request in its own context, classified and timed. */
  serve(handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>) {
    return async (req: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
      const url = new URL(req.url);
      const body = req.method === "GET" || req.method === "HEAD"
        ? undefined
        : await req.clone().json().catch(() => undefined);
      const ctx: ReqCtx = { phase: this.phase, cls: classify(req.method, url, body) };
      this.requests.push(ctx);
      this.inFlight++;
      try {
        const res = await this.als.run(ctx, () => handler(req, info));
        ctx.done = performance.now();
        const text = await res.clone().text();
        if (emptyList(text)) ctx.cls += ":empty";
        return res;
      } finally {
        ctx.done ??= performance.now();
        this.inFlight--;
        this.lastBusy = performance.now();
      }
    };
  }

  /** Waits until no request is in flight and no background work but idle polls for `quietMs`. */
  async quiet(quietMs = 600, maxMs = 20_000): Promise<void> {
    const until = performance.now() + maxMs;
    while (performance.now() < until) {
      const pending = this.recs.some((r) => r.pending);
      if (!this.inFlight && !pending && performance.now() - this.lastBusy >= quietMs) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Recorded work: requests with their ops (in steps), background ops per phase, idle ops. */
  result(idleSeconds: number): RawTrace {
    const byCtx = new Map<ReqCtx, Rec[]>();
    const background: Record<string, OpShape[]> = {};
    for (const r of this.recs) {
      if (r.ctx && !this.#background(r)) {
        let list = byCtx.get(r.ctx);
        if (!list) byCtx.set(r.ctx, list = []);
        list.push(r);
      } else {
        const phase = r.ctx?.phase ?? r.phase;
        (background[phase] ??= []).push(r.shape);
      }
    }
    const requests = this.requests.map((ctx) => {
      const recs = byCtx.get(ctx) ?? [];
      let step = -1;
      let stepEnd = -Infinity;
      for (const r of recs) {
        const end = Number.isNaN(r.t1) ? r.t0 : r.t1;
        if (r.t0 >= stepEnd) {
          step++;
          stepEnd = end;
        } else stepEnd = Math.max(stepEnd, end);
        r.shape.step = step;
        if (ctx.done !== undefined && end > ctx.done) r.shape.detached = true;
      }
      return { phase: ctx.phase, cls: ctx.cls, ops: recs.map((r) => r.shape) };
    });
    const idle = background.idle ?? [];
    delete background.idle;
    return {
      requests,
      background,
      phaseMs: this.phaseMs,
      idle: { seconds: idleSeconds, ops: idle },
      distinctReads: Object.fromEntries([...this.distinct].map(([f, s]) => [f, s.size])),
    };
  }
}

/** What one traced system did. */
export interface RawTrace {
  requests: { phase: string; cls: string; ops: OpShape[] }[];
  background: Record<string, OpShape[]>;
  phaseMs: Record<string, number>;
  idle: { seconds: number; ops: OpShape[] };
  distinctReads: Record<string, number>;
}

/**
 * The traced workload: the profiling options (8 clients), with a group per 100 users so that, as
 * in the benchmark's runs (10 groups, 8 clients), concurrent member PATCHes seldom touch the
 * same group; with one group the trace would mostly record retried commits.
 */
export function traceOptions(users: number): WorkloadOptions {
  return { ...profilingOptions(users), groups: Math.max(1, Math.ceil(users / 100)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sha256(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(s)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Traces one system in this process (the subprocess {@linkcode ensureStoreTrace} starts). */
async function traceHere(
  system: Traced,
  users: number,
  weftDir: string,
  tracePath: string | undefined,
  store: BenchStore,
): Promise<RawTrace> {
  const dir = await Deno.makeTempDir({ prefix: `weft-trace-${system}-` });
  // On KV Connect every system opens the server's URL (started by the parent process, given as
  // `WEFT_TRACE_KV_URL`); Deno reads the token from the environment.
  const kvUrl = Deno.env.get("WEFT_TRACE_KV_URL");
  if (store === "connect" && !kvUrl) throw new Error("Tracing on KV Connect needs its URL");
  const kvPath = kvUrl ?? join(dir, "trace.kv");
  const rec = new Recorder();
  let handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  let path: string;
  let token: string;
  if (system === "weft") {
    const env: Record<string, string> = {
      ...(kvUrl
        ? { DENO_KV_URL: kvUrl, DENO_KV_ACCESS_TOKEN: Deno.env.get("DENO_KV_ACCESS_TOKEN") ?? "" }
        : { WEFT_KV_PATH: kvPath }),
      WEFT_DEFAULT_TENANT: "bench",
      WEFT_LOG: "warn",
    };
    const provisioned = await provisionWeft(env, weftDir);
    token = provisioned.token;
    path = `/scim/v2/inbound/${provisioned.idp}`;
    for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
    // Weft as shipped: main.ts opens its store through this, so every worker is recorded.
    const openKv = Deno.openKv.bind(Deno);
    Object.defineProperty(Deno, "openKv", {
      value: async (p?: string) => rec.wrap(await openKv(p)),
      configurable: true,
      writable: true,
    });
    const main = await import(pathToFileURL(join(weftDir, "main.ts")).href);
    handler = main.default.fetch;
  } else if (system === "same-work") {
    if (!tracePath) throw new Error("same-work needs --trace");
    const { startSameWork } = await import("./same_work.ts");
    const trace = JSON.parse(await Deno.readTextFile(tracePath)) as StoreTrace;
    token = "sw_" + crypto.randomUUID();
    const sw = await startSameWork(rec.wrap(await Deno.openKv(kvPath)), trace, token);
    handler = sw.handler;
    path = "/scim/v2";
  } else {
    const { baselineHandler } = await import("./baseline.ts");
    const kv = await Deno.openKv(kvPath);
    token = "base_" + crypto.randomUUID();
    // As bench/baseline.ts seeds its token.
    await kv.set(["tok", await sha256(token)], { id: "bench" });
    handler = baselineHandler(rec.wrap(kv));
    path = "/scim/v2";
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    rec.serve(handler),
  );
  const base = `http://127.0.0.1:${server.addr.port}${path}`;
  // Start-up work (bootstrap, the workers' first passes), then what an idle system does.
  await sleep(1500);
  rec.switchPhase("idle");
  const idleMs = 2500;
  await sleep(idleMs);
  rec.idleSigs = new Set(rec.recs.filter((r) => r.phase === "idle").map((r) => signature(r.shape)));
  rec.switchPhase("between");
  // The replay's CPU hook runs before and after each measured phase: it marks the phases, and
  // ends each one when its background work is quiet.
  let calls = 0;
  let ended = "";
  const hook = async () => {
    await rec.quiet();
    const k = calls++;
    ended = rec.phase;
    rec.switchPhase(
      k % 2 === 0 ? PHASES[k / 2] : PHASES[(k - 1) / 2] === "groups" ? "verify" : "between",
    );
    return 0;
  };
  const errors: string[] = [];
  const result = await replay({ base, token }, traceOptions(users), (p) => {
    if (p.phase !== ended) throw new Error(`phase ${p.phase} ended as ${ended}: the hook is off`);
    if (p.errors || p.incomplete) {
      errors.push(`${p.phase}: ${p.errors} errors ${p.errorSamples[0] ?? "(incomplete)"}`);
    }
  }, hook);
  rec.switchPhase("end");
  if (result.memberMismatches) errors.push(`${result.memberMismatches} groups with wrong members`);
  if (errors.length) throw new Error(`${system} failed under the trace: ${errors.join("; ")}`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return rec.result(idleMs / 1000);
}

function sumCount(ops: OpShape[]): OpCount {
  const c = emptyCount();
  for (const s of ops) addOp(c, s);
  return c;
}

/**
 * Removes from each phase's background what the idle system does: every op of an idle op's exact
 * shape, then as many of the same operation and families (a poll that found something) as the
 * idle rate makes in the phase's time.
 */
function withoutIdle(raw: RawTrace): Record<string, OpShape[]> {
  const exact = new Set(raw.idle.ops.map(signature));
  const rate = new Map<string, number>();
  for (const s of raw.idle.ops) rate.set(liteSignature(s), (rate.get(liteSignature(s)) ?? 0) + 1);
  const out: Record<string, OpShape[]> = {};
  for (const [phase, ops] of Object.entries(raw.background)) {
    const seconds = (raw.phaseMs[phase] ?? 0) / 1000;
    const left = new Map(
      [...rate].map(([sig, n]) => [sig, Math.round((n / raw.idle.seconds) * seconds)]),
    );
    const kept = ops.filter((s) => {
      if (!exact.has(signature(s))) return true;
      const sig = liteSignature(s);
      left.set(sig, (left.get(sig) ?? 0) - 1);
      return false;
    });
    out[phase] = kept.filter((s) => {
      const sig = liteSignature(s);
      const n = left.get(sig) ?? 0;
      if (n <= 0) return true;
      left.set(sig, n - 1);
      return false;
    });
  }
  return out;
}

/** Store work per phase and per request. */
export function systemOps(raw: RawTrace): SystemOps {
  const background = withoutIdle(raw);
  const phases: Record<string, PhaseOps> = {};
  const names = new Set([...raw.requests.map((r) => r.phase), ...Object.keys(background)]);
  for (const phase of names) {
    const reqs = raw.requests.filter((r) => r.phase === phase);
    if (!reqs.length) continue;
    const fg = emptyCount();
    for (const r of reqs) {
      for (const s of r.ops) addOp(fg, s);
      fg.steps += r.ops.length ? Math.max(...r.ops.map((s) => s.step)) + 1 : 0;
    }
    phases[phase] = {
      requests: reqs.length,
      foreground: divide(fg, reqs.length),
      background: divide(sumCount(background[phase] ?? []), reqs.length),
    };
  }
  return { phases, idleCallsPerSecond: raw.idle.ops.length / raw.idle.seconds };
}

/** Averages the sizes of ops of the same signature, position by position. */
function averaged(samples: OpShape[][]): OpShape[] {
  const out = structuredClone(samples[0]);
  const n = samples.length;
  const avg = (get: (ops: OpShape[]) => { kb: number; vb?: number } | undefined) => {
    const target = get(out);
    if (!target) return;
    let kb = 0, vb = 0;
    for (const s of samples) {
      const x = get(s)!;
      kb += x.kb;
      vb += x.vb ?? 0;
    }
    target.kb = Math.round(kb / n);
    if (target.vb !== undefined) target.vb = Math.round(vb / n);
  };
  out.forEach((s, i) => {
    if (s.op === "get" || s.op === "list") avg((o) => o[i] as { kb: number; vb: number });
    if (s.op === "getMany") {
      s.keys.forEach((_, j) => avg((o) => (o[i] as typeof s).keys[j]));
    }
    if (s.op === "commit") {
      for (const part of ["checks", "sets", "deletes", "sums"] as const) {
        s[part].forEach((_, j) => avg((o) => (o[i] as typeof s)[part][j]));
      }
    }
  });
  return out;
}

/** The templates of a trace: per request kind, its distinct op sequences with their counts. */
function templates(raw: RawTrace): Record<string, Template> {
  const byCls = new Map<string, { phases: Map<string, number>; bySig: Map<string, OpShape[][]> }>();
  for (const r of raw.requests) {
    let t = byCls.get(r.cls);
    if (!t) byCls.set(r.cls, t = { phases: new Map(), bySig: new Map() });
    t.phases.set(r.phase, (t.phases.get(r.phase) ?? 0) + 1);
    const sig = r.ops.map(signature).join("|");
    let v = t.bySig.get(sig);
    if (!v) t.bySig.set(sig, v = []);
    v.push(r.ops);
  }
  const out: Record<string, Template> = {};
  for (const [cls, t] of byCls) {
    const phase = [...t.phases].sort((a, b) => b[1] - a[1])[0][0];
    const variants = [...t.bySig.values()].map((samples) => ({
      count: samples.length,
      ops: samples[0].length ? averaged(samples) : [],
    })).sort((a, b) => b.count - a.count);
    out[cls] = {
      cls,
      phase,
      requests: variants.reduce((n, v) => n + v.count, 0),
      variants,
    };
  }
  return out;
}

function idleOps(raw: RawTrace): IdleOp[] {
  const bySig = new Map<string, { shape: OpShape; n: number }>();
  for (const s of raw.idle.ops) {
    const sig = signature(s);
    const e = bySig.get(sig);
    if (e) e.n++;
    else bySig.set(sig, { shape: s, n: 1 });
  }
  return [...bySig.values()].map((e) => ({ shape: e.shape, perSecond: e.n / raw.idle.seconds }));
}

const DEPENDS_ON = [
  "store_trace.ts",
  "trace_format.ts",
  "same_work.ts",
  "baseline.ts",
  "workloads.ts",
  "load.ts",
];

/** The key a trace of this Weft checkout and these bench files must carry. */
export async function traceKey(
  weftDir: string,
  users: number,
  store: BenchStore = "file",
): Promise<string> {
  let text = String(users);
  for (const f of DEPENDS_ON) text += await Deno.readTextFile(join(ROOT, "bench", f));
  const key = `${await weftVersion(weftDir)}:${(await sha256(text)).slice(0, 12)}`;
  return store === "file" ? key : `${key}:${store}`;
}

/**
 * Traces one system in a process of its own. On KV Connect this process starts a fresh server
 * for it and hands the subprocess its URL (`WEFT_TRACE_KV_URL`) and token: a server started
 * inside the traced process stopped answering once the load began.
 */
async function traceInSubprocess(
  system: Traced,
  users: number,
  weftDir: string,
  tracePath: string,
  store: BenchStore,
): Promise<RawTrace> {
  const out = await Deno.makeTempFile({ prefix: `weft-trace-${system}-`, suffix: ".json" });
  const kvc = store === "connect"
    ? await startKvConnect({ token: `kvc_${crypto.randomUUID()}` })
    : undefined;
  const config = system === "weft" ? join(weftDir, "deno.json") : join(ROOT, "deno.json");
  try {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        "--config",
        config,
        join(ROOT, "bench", "store_trace.ts"),
        "--system",
        system,
        "--users",
        String(users),
        "--weft-dir",
        weftDir,
        "--trace",
        tracePath,
        "--raw",
        out,
        "--store",
        store,
      ],
      cwd: system === "weft" ? weftDir : ROOT,
      env: kvc ? { WEFT_TRACE_KV_URL: kvc.url, DENO_KV_ACCESS_TOKEN: kvc.token } : {},
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const res = await cmd.output();
    if (!res.success) {
      const err = new TextDecoder().decode(res.stderr).trim().split("\n").slice(-8).join("\n");
      throw new Error(`tracing ${system} failed:\n${err}`);
    }
    return JSON.parse(await Deno.readTextFile(out)) as RawTrace;
  } finally {
    await Deno.remove(out).catch(() => {});
    await kvc?.close();
  }
}

/** Options of {@linkcode ensureStoreTrace}. */
export interface TraceOptions {
  weftDir?: string;
  users?: number;
  path?: string;
  force?: boolean;
  log?: (line: string) => void;
  /** The store the systems are traced on (default `file`). */
  store?: BenchStore;
}

/**
 * The store trace of the Weft checkout: read from `path` when its key matches (and Weft has no
 * uncommitted changes), else recorded (Weft, then the same-work server over Weft's templates,
 * then the bare baseline) and written there.
 */
export async function ensureStoreTrace(o: TraceOptions = {}): Promise<StoreTrace> {
  const weftDir = o.weftDir ?? ROOT;
  const users = o.users ?? TRACE_USERS;
  const store = o.store ?? "file";
  const path = o.path ?? tracePathFor(store);
  const log = o.log ?? (() => {});
  const key = await traceKey(weftDir, users, store);
  if (!o.force && !key.includes("+dirty")) {
    try {
      const old = JSON.parse(await Deno.readTextFile(path)) as StoreTrace;
      if (old.key === key) return old;
    } catch {
      // missing or unreadable: record it
    }
  }
  const started = performance.now();
  log(`store trace: recording ${users} users' workload (Weft ${key.split(":")[0]}, ${store})`);
  const weft = await traceInSubprocess("weft", users, weftDir, path, store);
  const trace: StoreTrace = {
    key,
    weft: key.split(":")[0],
    date: new Date().toISOString(),
    users,
    templates: templates(weft),
    background: Object.fromEntries(
      Object.entries(withoutIdle(weft)).map(([phase, ops]) => [phase, {
        requests: weft.requests.filter((r) => r.phase === phase).length,
        ops,
      }]),
    ),
    idle: idleOps(weft),
    distinctReads: weft.distinctReads,
    counts: { weft: systemOps(weft) },
  };
  // The same-work server replays the templates from a partial file; the trace is written
  // where it is kept only once complete.
  const partial = await Deno.makeTempFile({ prefix: "weft-store-trace-", suffix: ".json" });
  try {
    await Deno.writeTextFile(partial, JSON.stringify(trace));
    const sameWork = await traceInSubprocess("same-work", users, weftDir, partial, store);
    trace.counts["same-work"] = systemOps(sameWork);
    trace.counts["same-work"].untemplated = sameWork.requests.filter((r) =>
      !(r.cls in trace.templates)
    ).length;
    trace.counts.baseline = systemOps(
      await traceInSubprocess("baseline", users, weftDir, partial, store),
    );
  } finally {
    await Deno.remove(partial).catch(() => {});
  }
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(trace) + "\n");
  log(`store trace: recorded in ${((performance.now() - started) / 1000).toFixed(1)} s → ${path}`);
  return trace;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      system: { type: "string" },
      users: { type: "string" },
      "weft-dir": { type: "string" },
      trace: { type: "string" },
      raw: { type: "string" },
      force: { type: "boolean" },
      store: { type: "string" },
    },
  });
  const store: BenchStore = values.store === "connect" ? "connect" : "file";
  const users = Number(values.users ?? TRACE_USERS);
  const weftDir = values["weft-dir"] ?? ROOT;
  if (values.system) {
    const raw = await traceHere(values.system as Traced, users, weftDir, values.trace, store);
    await Deno.writeTextFile(values.raw!, JSON.stringify(raw));
    Deno.exit(0);
  }
  // deno-lint-ignore no-console
  const log = (line: string) => console.log(line);
  const trace = await ensureStoreTrace({
    weftDir,
    users,
    path: values.trace,
    force: values.force,
    log,
    store,
  });
  log(`Store operations per request (trace of ${trace.users} users, Weft ${trace.weft}):\n`);
  log(opsTable(trace.counts));
}
