/**
 * The store's limit: a bare `Deno.serve` handler over Deno KV that does, per request, only the
 * minimum KV work of the operation the benchmark sends, with no SCIM processing beyond what the
 * responses need. Weft's throughput is compared with this in the same run.
 *
 * - every request: one token lookup (SHA-256 of the bearer secret, one `get`);
 * - create: one atomic with two uniqueness checks (userName, externalId), the record, the two
 *   index entries, a counter and one event;
 * - lookup by userName or externalId: index `get` + record `get`;
 * - group create: one atomic with a name check, the record, its index entry and one event;
 * - member batch: one atomic with two entries per member (both directions) and one event;
 * - deactivate / update: checked read-modify-write of the record plus one event;
 * - paging: one `list` of `count` records from where the previous page ended (kept in memory),
 *   plus the counter.
 *
 * Run: `deno run -A --unstable-kv bench/baseline.ts` with `BASELINE_PORT`, `BASELINE_KV` and
 * `BASELINE_TOKEN`; it listens on 127.0.0.1 only.
 * @module
 */

import { error, json, list } from "./scim_answers.ts";

type Rec = Record<string, unknown> & { id: string };

const enc = new TextEncoder();

async function sha256(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

const K = {
  token: (h: string) => ["tok", h],
  user: (id: string) => ["u", id],
  users: () => ["u"],
  byName: (n: string) => ["u_name", n],
  byExt: (e: string) => ["u_ext", e],
  group: (id: string) => ["g", id],
  groupByName: (n: string) => ["g_name", n],
  member: (g: string, u: string) => ["gm", g, u],
  userGroup: (u: string, g: string) => ["ug", u, g],
  count: () => ["count", "users"],
  event: () => ["ev", crypto.randomUUID()],
};

/** `attr eq "value"` from a filter query parameter. */
function eqFilter(filter: string): [string, string] | null {
  const m = /^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(filter);
  return m ? [m[1].toLowerCase(), m[2]] : null;
}

function event(op: Deno.AtomicOperation, type: string, target: string): void {
  op.set(K.event(), { type, target, at: new Date().toISOString() });
}

/** Applies the few PATCH shapes the benchmark sends (a real server validates much more). */
function applyPatch(rec: Rec, ops: { op: string; path?: string; value?: unknown }[]): void {
  for (const o of ops) {
    if (!o.path && o.value && typeof o.value === "object") {
      for (const [k, v] of Object.entries(o.value)) if (k !== "id") rec[k] = v;
    } else if (o.path?.toLowerCase() === "active") {
      rec.active = String(o.value).toLowerCase() === "true";
    } else if (o.path?.startsWith("emails[")) {
      rec.emails = [{ ...((rec.emails as Record<string, unknown>[])?.[0] ?? {}), value: o.value }];
    } else if (o.path?.includes(".")) {
      const [a, b] = o.path.split(".");
      rec[a] = { ...(rec[a] as Record<string, unknown>), [b]: o.value };
    } else if (o.path) rec[o.path] = o.value;
  }
}

/** Builds the handler over a KV store. */
export function baselineHandler(kv: Deno.Kv): (req: Request) => Promise<Response> {
  // Where the next index page starts, by start index: the in-memory equivalent of a cursor.
  const anchors = new Map<number, Deno.KvKey>();

  async function authorised(req: Request): Promise<boolean> {
    const h = req.headers.get("authorization") ?? "";
    if (!h.startsWith("Bearer ")) return false;
    return (await kv.get(K.token(await sha256(h.slice(7))))).value !== null;
  }

  async function createUser(body: Rec): Promise<Response> {
    const id = crypto.randomUUID();
    const name = String(body.userName).toLowerCase();
    const ext = String(body.externalId);
    const rec: Rec = { ...body, id };
    delete rec.password;
    const op = kv.atomic()
      .check({ key: K.byName(name), versionstamp: null })
      .check({ key: K.byExt(ext), versionstamp: null })
      .set(K.user(id), rec)
      .set(K.byName(name), id)
      .set(K.byExt(ext), id)
      .sum(K.count(), 1n);
    event(op, "user_created", id);
    const res = await op.commit();
    return res.ok ? json(rec, 201) : error(409, "userName or externalId is taken");
  }

  async function findUsers(filter: string): Promise<Response> {
    const eq = eqFilter(filter);
    if (!eq) return error(400, "Only eq filters");
    const [attr, value] = eq;
    const index = attr === "username" ? K.byName(value.toLowerCase()) : K.byExt(value);
    const id = (await kv.get<string>(index)).value;
    if (!id) return list([], 0);
    const rec = (await kv.get<Rec>(K.user(id))).value;
    return list(rec ? [rec] : [], rec ? 1 : 0);
  }

  async function page(startIndex: number, count: number): Promise<Response> {
    const total = (await kv.get<Deno.KvU64>(K.count())).value?.value ?? 0n;
    const anchor = anchors.get(startIndex);
    const out: Rec[] = [];
    let skip = anchor ? 0 : startIndex - 1;
    let next: Deno.KvKey | undefined;
    const selector = anchor ? { prefix: K.users(), start: anchor } : { prefix: K.users() };
    for await (const e of kv.list<Rec>(selector, { limit: skip + count + 1, batchSize: 500 })) {
      if (skip > 0) {
        skip--;
        continue;
      }
      if (out.length < count) out.push(e.value);
      else next = e.key;
    }
    anchors.delete(startIndex);
    if (next) anchors.set(startIndex + count, next);
    return list(out, Number(total), startIndex);
  }

  async function updateUser(id: string, ops: { op: string; path?: string; value?: unknown }[]) {
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await kv.get<Rec>(K.user(id));
      if (!entry.value) return error(404, "not found");
      const rec = structuredClone(entry.value);
      applyPatch(rec, ops);
      const op = kv.atomic().check(entry).set(K.user(id), rec);
      event(op, "user_updated", id);
      if ((await op.commit()).ok) return json(rec);
    }
    return error(503, "contention");
  }

  async function createGroup(body: Rec): Promise<Response> {
    const id = crypto.randomUUID();
    const name = String(body.displayName).toLowerCase();
    const rec = { id, displayName: body.displayName };
    const op = kv.atomic()
      .check({ key: K.groupByName(name), versionstamp: null })
      .set(K.group(id), rec)
      .set(K.groupByName(name), id);
    event(op, "group_created", id);
    const res = await op.commit();
    return res.ok ? json({ ...rec, members: [] }, 201) : error(409, "displayName is taken");
  }

  async function patchGroup(id: string, ops: { op: string; path?: string; value?: unknown }[]) {
    const op = kv.atomic();
    let n = 0;
    for (const o of ops) {
      if (o.path?.toLowerCase() !== "members" || !Array.isArray(o.value)) continue;
      for (const m of o.value as { value: string; display?: string }[]) {
        op.set(K.member(id, m.value), { display: m.display });
        op.set(K.userGroup(m.value, id), null);
        n++;
      }
    }
    event(op, "group_members_added", id);
    await op.commit();
    return n ? new Response(null, { status: 204 }) : error(400, "no members");
  }

  async function getGroup(id: string, withMembers: boolean): Promise<Response> {
    const rec = (await kv.get<Rec>(K.group(id))).value;
    if (!rec) return error(404, "not found");
    if (!withMembers) return json(rec);
    const members = [];
    for await (const e of kv.list<{ display?: string }>({ prefix: ["gm", id] })) {
      members.push({ value: e.key[2], display: e.value?.display });
    }
    return json({ ...rec, members });
  }

  return async (req: Request): Promise<Response> => {
    if (!(await authorised(req))) return error(401, "bad token");
    const url = new URL(req.url);
    const parts = url.pathname.split("/").filter(Boolean); // scim, v2, Users, id
    const [kind, id] = [parts[2], parts[3]];
    const body = req.body ? await req.json() : undefined;
    if (kind === "Users") {
      if (req.method === "GET" && !id) {
        const filter = url.searchParams.get("filter");
        if (filter) return await findUsers(filter);
        return await page(
          Number(url.searchParams.get("startIndex") ?? 1),
          Number(url.searchParams.get("count") ?? 100),
        );
      }
      if (req.method === "GET" && id) {
        const rec = (await kv.get<Rec>(K.user(id))).value;
        return rec ? json(rec) : error(404, "not found");
      }
      if (req.method === "POST") return await createUser(body);
      if (req.method === "PATCH" && id) return await updateUser(id, body.Operations);
    }
    if (kind === "Groups") {
      if (req.method === "POST") return await createGroup(body);
      if (req.method === "PATCH" && id) return await patchGroup(id, body.Operations);
      if (req.method === "GET" && id) {
        const excluded = url.searchParams.get("excludedAttributes") ?? "";
        return await getGroup(id, !/\bmembers\b/i.test(excluded));
      }
    }
    return error(404, "no such endpoint");
  };
}

if (import.meta.main) {
  const port = Number(Deno.env.get("BASELINE_PORT") ?? 9100);
  const kv = await Deno.openKv(Deno.env.get("BASELINE_KV") ?? ":memory:");
  const token = Deno.env.get("BASELINE_TOKEN") ?? "baseline-token";
  await kv.set(K.token(await sha256(token)), { id: "bench" });
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, baselineHandler(kv));
}
