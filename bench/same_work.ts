/**
 * The same-work baseline: a bare `Deno.serve` handler that makes, per request, the Deno KV
 * operations Weft makes for a request of that kind — the same gets, `getMany` sizes, lists and
 * the entries they read, commits with as many checks, sets, deletes and sums, values of about the
 * recorded sizes, in the same sequential steps (operations Weft had in flight together are issued
 * together) — and Weft's background work (its request log's group commits, the feed sequencer,
 * the workers' polls) amortised per request or per second, with no SCIM logic. Weft's throughput
 * divided by this one's is what Weft's own code costs beyond its store work.
 *
 * What it replays comes from a trace of Weft's own store calls (`bench/store_trace.ts`), so it
 * cannot drift from the product: a request's kind (`classify` in `bench/trace_format.ts`: method,
 * path and a glance at the body) picks the kind's recorded op sequences, in their recorded
 * proportions (a smooth weighted round robin over the distinct sequences). Keys are synthetic and
 * deterministic: reads that found a value in Weft read seeded records of the family (pools
 * written at start-up, sized as Weft's distinct reads, at most 1024), reads that missed read
 * absent keys, lists read a seeded prefix holding exactly the entries Weft's list read, checks
 * are on absent keys (a commit Weft saw fail fails on a seeded one), inserts go to new keys and
 * overwrites to the family's seeded records. Background ops run from a 50 ms timer, as many per
 * request served as Weft's phase did; idle polls run at Weft's idle rate.
 *
 * The answers are the smallest the load generator accepts (ids, `totalResults`, members, the
 * echoed values it checks), from a few in-memory maps.
 *
 * Run: `deno run -A --unstable-kv bench/same_work.ts` with `SAME_WORK_PORT`, `SAME_WORK_KV`,
 * `SAME_WORK_TOKEN` and `SAME_WORK_TRACE` (a `bench/.cache/store_trace.json`); 127.0.0.1 only.
 * @module
 */
import {
  classify,
  type CommitOp,
  type OpShape,
  type StoreTrace,
  type Template,
} from "./trace_format.ts";
import { error, json, list } from "./scim_answers.ts";

const utf8 = new TextEncoder();
const DAY_MS = 86_400_000;
const POOL_MAX = 1024;
const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";

function partBytes(p: Deno.KvKeyPart): number {
  if (typeof p === "string") return utf8.encode(p).length + 2;
  return 9;
}

/** `base` with a last part that brings the key to about `kb` bytes. */
function padded(base: Deno.KvKeyPart[], kb: number): Deno.KvKey {
  const have = base.reduce((n: number, p) => n + partBytes(p), 0) + 2;
  return [...base, "k".repeat(Math.max(0, Math.round(kb) - have))];
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const values = new Map<string, unknown>();

/** A value of about `vb` bytes in `vf` fields (-1: a `Deno.KvU64`). */
function valueOf(vb: number, vf: number): unknown {
  if (vf === -1) return new Deno.KvU64(1n);
  const id = `${Math.round(vb)}:${vf}`;
  let v = values.get(id);
  if (v === undefined) {
    if (vf <= 1) v = "v".repeat(Math.max(0, Math.round(vb)));
    else {
      // Measured as the tracer measures: names and strings, plus 2.
      const o: Record<string, string> = {};
      let left = Math.max(0, Math.round(vb) - 2);
      for (let i = 0; i < vf; i++) left -= `f${i}`.length;
      const each = Math.max(0, Math.floor(left / vf));
      for (let i = 0; i < vf; i++) {
        o[`f${i}`] = "v".repeat(i === 0 ? Math.max(0, left - each * (vf - 1)) : each);
      }
      v = o;
    }
    values.set(id, v);
  }
  return v;
}

interface Pool {
  size: number;
  kb: number;
  vb: number;
  vf: number;
}

/** Every op of a trace, wherever it is replayed. */
function allOps(trace: StoreTrace): OpShape[] {
  return [
    ...Object.values(trace.templates).flatMap((t) => t.variants.flatMap((v) => v.ops)),
    ...Object.values(trace.background).flatMap((b) => b.ops),
    ...trace.idle.map((i) => i.shape),
  ];
}

/** The seeded records reads hit: one pool per family, one prefix per list size. */
function poolsOf(trace: StoreTrace) {
  const acc = new Map<string, { n: number; kb: number; vb: number; vf: number }>();
  const lists = new Map<string, { entries: number; kb: number; vb: number; vf: number }>();
  const note = (fam: string, kb: number, vb: number, vf: number) => {
    const a = acc.get(fam) ?? { n: 0, kb: 0, vb: 0, vf };
    a.n++;
    a.kb += kb;
    a.vb += vb;
    if (vf === -1 || a.vf !== -1) a.vf = Math.max(a.vf, vf);
    acc.set(fam, a);
  };
  for (const op of allOps(trace)) {
    if (op.op === "get" && op.hit) note(op.fam, op.kb, op.vb, op.vf);
    if (op.op === "getMany") { for (const k of op.keys) if (k.hit) note(k.fam, k.kb, k.vb, k.vf); }
    if (op.op === "commit") {
      // Overwrites and failing checks land on the pool of their family.
      for (const s of op.sets) if (!s.fresh) note(s.fam, s.kb, s.vb, s.vf);
      if (!op.ok && op.checks[0]) note(op.checks[0].fam, op.checks[0].kb, 8, 1);
    }
    if (op.op === "list") {
      const id = listId(op.fam, op.entries, op.ended);
      if (!lists.has(id)) {
        lists.set(id, {
          entries: op.entries + (op.ended ? 0 : 1),
          kb: op.kb,
          vb: op.vb,
          vf: op.vf,
        });
      }
    }
  }
  const pools = new Map<string, Pool>();
  for (const [fam, a] of acc) {
    pools.set(fam, {
      size: Math.max(1, Math.min(POOL_MAX, trace.distinctReads[fam] ?? 1)),
      kb: a.kb / a.n,
      vb: a.vb / a.n,
      vf: a.vf,
    });
  }
  return { pools, lists };
}

function listId(fam: string, entries: number, ended: boolean): string {
  return `${fam}:${entries}:${ended ? "end" : "more"}`;
}

/** A running same-work server's handler. */
export interface SameWork {
  handler(req: Request): Promise<Response>;
  close(): void;
}

interface UserRec {
  id: string;
  userName: string;
  externalId?: string;
  active: boolean;
}

type PatchOps = { op?: string; path?: string; value?: unknown }[];

/** Seeds the store's pools and returns the handler; `close` stops the background timers. */
export async function startSameWork(
  kv: Deno.Kv,
  trace: StoreTrace,
  token: string,
): Promise<SameWork> {
  const { pools, lists } = poolsOf(trace);
  const poolKey = (fam: string, i: number): Deno.KvKey => {
    const p = pools.get(fam)!;
    return padded(["t", "sw", fam, "p", i % p.size], p.kb);
  };
  const listKey = (id: string, i: number): Deno.KvKey => {
    const fam = id.split(":")[0];
    return padded(["t", "sw", fam, "l", id, i], lists.get(id)!.kb);
  };

  // Seeding: every pool record and every list prefix, in atomic batches.
  let op = kv.atomic();
  let mutations = 0;
  let bytes = 0;
  const seed = async (key: Deno.KvKey, vb: number, vf: number) => {
    if (mutations >= 500 || bytes + vb > 400_000) {
      await op.commit();
      op = kv.atomic();
      mutations = bytes = 0;
    }
    op.set(key, valueOf(vb, vf));
    mutations++;
    bytes += vb + 100;
  };
  for (const [fam, p] of pools) {
    for (let i = 0; i < p.size; i++) await seed(poolKey(fam, i), p.vb, p.vf);
  }
  for (const [id, l] of lists) {
    for (let i = 0; i < l.entries; i++) await seed(listKey(id, i), l.vb, l.vf);
  }
  await op.commit();

  let seq = 0;
  const consistency = (s: OpShape) => s.eventual ? { consistency: "eventual" as const } : undefined;

  async function commit(s: CommitOp, subject: string, n: number, j: number): Promise<void> {
    const key = (kind: string, fam: string, kb: number, i: number) =>
      padded(["t", "sw", fam, kind, subject, n, j, i], kb);
    const setKey = (x: CommitOp["sets"][number], i: number) =>
      x.fresh || !pools.has(x.fam)
        ? padded(["t", "sw", x.fam, "w", n, j, i], x.kb)
        : poolKey(x.fam, hash(`${subject}:${j}:${i}`));
    if (s.direct === "set") {
      const x = s.sets[0];
      await kv.set(setKey(x, 0), valueOf(x.vb, x.vf), x.expireIn ? { expireIn: DAY_MS } : {});
      return;
    }
    if (s.direct === "delete") {
      await kv.delete(key("d", s.deletes[0].fam, s.deletes[0].kb, 0));
      return;
    }
    const a = kv.atomic();
    s.checks.forEach((c, i) => {
      // A commit Weft saw fail fails here too: its first check is on a seeded record.
      const k = !s.ok && i === 0 ? poolKey(c.fam, n) : key("c", c.fam, c.kb, i);
      a.check({ key: k, versionstamp: null });
    });
    s.sets.forEach((x, i) =>
      a.set(setKey(x, i), valueOf(x.vb, x.vf), x.expireIn ? { expireIn: DAY_MS } : undefined)
    );
    s.deletes.forEach((x, i) => a.delete(key("d", x.fam, x.kb, i)));
    s.sums.forEach((x, i) => a.sum(padded(["t", "sw", x.fam, "s", i], x.kb), 1n));
    for (let i = 0; i < s.others; i++) a.max(["t", "sw", "max", i], 1n);
    await a.commit();
  }

  /** Replays one op; `j` is its index in its sequence. */
  async function run(s: OpShape, subject: string, n: number, j: number): Promise<void> {
    const miss = (fam: string, kb: number, i: number) => padded(["t", "sw", fam, "m", n, j, i], kb);
    const pick = (fam: string, i: number) => poolKey(fam, hash(`${subject}:${j}:${i}`));
    switch (s.op) {
      case "get":
        await kv.get(s.hit ? pick(s.fam, 0) : miss(s.fam, s.kb, 0), consistency(s));
        return;
      case "getMany":
        await kv.getMany(
          s.keys.map((k, i) => k.hit ? pick(k.fam, i) : miss(k.fam, k.kb, i)),
          consistency(s),
        );
        return;
      case "list": {
        const id = listId(s.fam, s.entries, s.ended);
        let read = 0;
        if (!s.ended && s.entries === 0) return;
        for await (
          const _ of kv.list({ prefix: ["t", "sw", s.fam, "l", id] }, {
            limit: s.limit,
            batchSize: s.batchSize,
            reverse: s.reverse,
            consistency: s.eventual ? "eventual" : undefined,
          })
        ) {
          if (++read >= s.entries && !s.ended) break;
        }
        return;
      }
      case "commit":
        return await commit(s, subject, n, j);
      default:
        // watch and enqueue: start-up work, not replayed per request.
        return;
    }
  }

  /** Smooth weighted round robin over a template's variants: their recorded proportions. */
  const credits = new Map<Template, number[]>();
  function variant(t: Template): OpShape[] {
    let c = credits.get(t);
    if (!c) credits.set(t, c = t.variants.map(() => 0));
    let best = 0;
    for (let i = 0; i < c.length; i++) {
      c[i] += t.variants[i].count;
      if (c[i] > c[best]) best = i;
    }
    c[best] -= t.requests;
    return t.variants[best].ops;
  }

  // Background work: a phase's ops, so many per request of the phase, from a 50 ms timer.
  const owed = new Map<string, number>();
  const cursor = new Map<string, number>();
  let draining = false;
  const background = setInterval(async () => {
    if (draining) return;
    draining = true;
    try {
      for (const [phase, credit] of owed) {
        const ops = trace.background[phase]?.ops ?? [];
        let k = Math.floor(credit + 1e-6);
        if (!k || !ops.length) continue;
        owed.set(phase, credit - k);
        while (k-- > 0) {
          const at = cursor.get(phase) ?? 0;
          cursor.set(phase, at + 1);
          await run(ops[at % ops.length], "bg", ++seq, 0).catch(() => {});
        }
      }
    } finally {
      draining = false;
    }
  }, 50);
  // Time-driven work (polls, heartbeats) at the rate Weft does it when idle.
  const timers = trace.idle.filter((i) => i.perSecond > 0).map((i) =>
    setInterval(() => run(i.shape, "idle", ++seq, 0).catch(() => {}), 1000 / i.perSecond)
  );

  async function replay(cls: string, subject: string): Promise<void> {
    const t = trace.templates[cls];
    if (!t) return;
    const bg = trace.background[t.phase];
    if (bg?.requests) owed.set(t.phase, (owed.get(t.phase) ?? 0) + bg.ops.length / bg.requests);
    const ops = variant(t);
    const n = ++seq;
    let i = 0;
    while (i < ops.length) {
      const step = ops[i].step;
      const waits: Promise<void>[] = [];
      for (; i < ops.length && ops[i].step === step; i++) {
        const p = run(ops[i], subject, n, i);
        if (ops[i].detached) p.catch(() => {});
        else waits.push(p);
      }
      await Promise.all(waits);
    }
  }

  // What the answers need.
  const users = new Map<string, UserRec>();
  const byName = new Map<string, UserRec>();
  const byExt = new Map<string, UserRec>();
  const order: UserRec[] = [];
  const groups = new Map<string, { displayName: string; members: Set<string> }>();
  const userOut = (u: UserRec) => ({
    schemas: [CORE_USER],
    id: u.id,
    userName: u.userName,
    externalId: u.externalId,
    active: u.active,
  });
  const groupOut = (id: string, withMembers: boolean) => {
    const g = groups.get(id)!;
    return {
      schemas: [CORE_GROUP],
      id,
      displayName: g.displayName,
      ...(withMembers ? { members: [...g.members].map((value) => ({ value })) } : {}),
    };
  };

  function answer(
    cls: string,
    method: string,
    url: URL,
    resource: string,
    id: string | undefined,
    body: Record<string, unknown> | undefined,
  ): [string, string, () => Response] {
    const none = (): [
      string,
      string,
      () => Response,
    ] => [cls, id ?? "-", () => error(404, "not found")];
    if (resource === "Users") {
      if (method === "GET" && !id) {
        const filter = url.searchParams.get("filter");
        if (filter) {
          const m = /^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(filter);
          const attr = m?.[1].toLowerCase();
          const u = attr === "username"
            ? byName.get(m![2].toLowerCase())
            : attr === "externalid"
            ? byExt.get(m![2])
            : undefined;
          return [
            u ? cls : `${cls}:empty`,
            m?.[2] ?? "-",
            () => list(u ? [userOut(u)] : [], u ? 1 : 0),
          ];
        }
        const start = Math.max(1, Number(url.searchParams.get("startIndex") ?? 1));
        const count = Math.max(0, Number(url.searchParams.get("count") ?? 100));
        const page = order.slice(start - 1, start - 1 + count);
        return [
          page.length ? cls : `${cls}:empty`,
          String(start),
          () => list(page.map(userOut), order.length, start),
        ];
      }
      if (method === "POST" && body) {
        const userName = String(body.userName ?? "");
        if (byName.has(userName.toLowerCase())) {
          return [cls, userName, () => error(409, "userName is taken")];
        }
        const u: UserRec = {
          id: crypto.randomUUID(),
          userName,
          externalId: typeof body.externalId === "string" ? body.externalId : undefined,
          active: body.active !== false,
        };
        users.set(u.id, u);
        byName.set(userName.toLowerCase(), u);
        if (u.externalId) byExt.set(u.externalId, u);
        order.push(u);
        return [cls, userName, () => json(userOut(u), 201)];
      }
      const u = id ? users.get(id) : undefined;
      if (!u) return none();
      if (method === "GET") return [cls, u.id, () => json(userOut(u))];
      if (method === "PATCH" && body) {
        const extra: Record<string, unknown> = {};
        for (const o of (body.Operations as PatchOps | undefined) ?? []) {
          const v = o.value as Record<string, unknown> | string | boolean | undefined;
          if (o.path?.toLowerCase() === "active") u.active = String(v).toLowerCase() === "true";
          else if (!o.path && v && typeof v === "object" && "active" in v) {
            u.active = String(v.active).toLowerCase() === "true";
          } else if (o.path?.toLowerCase().startsWith("emails")) {
            extra.emails = [{ value: v, type: "work" }];
          }
        }
        return [cls, u.id, () => json({ ...userOut(u), ...extra })];
      }
      return none();
    }
    if (resource === "Groups") {
      if (method === "POST" && body) {
        const gid = crypto.randomUUID();
        groups.set(gid, { displayName: String(body.displayName ?? ""), members: new Set() });
        return [cls, String(body.displayName), () => json(groupOut(gid, true), 201)];
      }
      const g = id ? groups.get(id) : undefined;
      if (!g || !id) return none();
      if (method === "GET") {
        const excluded = url.searchParams.get("excludedAttributes") ?? "";
        return [cls, id, () => json(groupOut(id, !/\bmembers\b/i.test(excluded)))];
      }
      if (method === "PATCH" && body) {
        for (const o of (body.Operations as PatchOps | undefined) ?? []) {
          if (o.path?.toLowerCase() !== "members" || !Array.isArray(o.value)) continue;
          for (const m of o.value as { value: string }[]) {
            if (o.op?.toLowerCase() === "remove") g.members.delete(m.value);
            else g.members.add(m.value);
          }
        }
        return [cls, id, () => new Response(null, { status: 204 })];
      }
    }
    return none();
  }

  const bearer = `Bearer ${token}`;
  return {
    async handler(req: Request): Promise<Response> {
      if (req.headers.get("authorization") !== bearer) return error(401, "bad token");
      const url = new URL(req.url);
      const body = req.body ? await req.json().catch(() => undefined) : undefined;
      const segs = url.pathname.split("/").filter(Boolean);
      const at = segs.findIndex((s) => s === "Users" || s === "Groups");
      const [cls, subject, respond] = answer(
        classify(req.method, url, body),
        req.method,
        url,
        segs[at] ?? "",
        segs[at + 1],
        body,
      );
      await replay(cls, subject);
      return respond();
    },
    close() {
      clearInterval(background);
      for (const t of timers) clearInterval(t);
    },
  };
}

if (import.meta.main) {
  const port = Number(Deno.env.get("SAME_WORK_PORT") ?? 9101);
  const tracePath = Deno.env.get("SAME_WORK_TRACE");
  if (!tracePath) throw new Error("Set SAME_WORK_TRACE to a store trace (bench/store_trace.ts)");
  const trace = JSON.parse(await Deno.readTextFile(tracePath)) as StoreTrace;
  const kv = await Deno.openKv(Deno.env.get("SAME_WORK_KV") ?? ":memory:");
  const sw = await startSameWork(kv, trace, Deno.env.get("SAME_WORK_TOKEN") ?? "same-work");
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, sw.handler);
}
