/**
 * Where the SCIM request log's cost goes, per benchmark phase: the pieces of logging one request,
 * timed on the requests and answers of that phase (`bench/request_log_cost.ts` measures the
 * whole):
 *
 * ```sh
 * deno run -A --unstable-kv bench/request_log_pieces.ts [--phases lookup,page] [--json]
 * ```
 *
 * For each phase it sends one block of the phase's requests through the log-on app (on a
 * file-backed store), keeps the raw request and response bodies, reads back the entries the log
 * wrote, and then times, in CPU µs per request (every thread, `process.cpuUsage()`):
 *
 * - `reread`: the middleware's `c.req.text()` after the handler read the body as bytes, which
 *   Hono answers by building a `Response` over the cached bytes and reading it (writes only);
 * - `redact`: `redactBody` of the request and the response text;
 * - `cap`: `capBody` of both;
 * - `enqueue`: `logScimRequest` (the entry's id, expiry and UTF-8 sizing in `prepare`);
 * - `commit`: `flushRequestLog` after the block's entries were handed over: the group commit,
 *   with the V8 serialisation of every value and SQLite's work on the KV thread;
 * - `serialize`: of that, the V8 serialisation of the entries alone (`node:v8`, the same
 *   serializer KV values use), for scale.
 *
 * `isolated` is the whole middleware, on minus off, around a handler that only replays the
 * phase's recorded answers: what the pieces leave of it is the rest of the middleware (`new URL`,
 * header and parameter reads, the `Date`, regexes) and the garbage collection the entries cause.
 * The cost measured in the real app (`request_log_cost.ts`) can exceed it: there the log's
 * garbage and the store's growth also slow the app's own work.
 * @module
 */
import process from "node:process";
import { serialize } from "node:v8";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { createApp } from "../routes/mod.ts";
import {
  capBody,
  flushRequestLog,
  getRequestLog,
  listRequestLog,
  logScimRequest,
  type NewRequestLogEntry,
} from "../lib/store/request_log.ts";
import { redactBody } from "../lib/scim/redact.ts";
import { scimRequestLog } from "../lib/http/scim_request_log.ts";
import { readJsonBody, scimJson } from "../lib/http/scim.ts";
import type { ScimEnv } from "../lib/http/env.ts";
import { Hono } from "hono";
import {
  type Arm,
  BASE_USERS,
  type Context,
  createUsers,
  makeArm,
  phases,
  send,
} from "./request_log_cost.ts";

/** Bodies this small stay inside the entry (`INLINE_BYTES` of lib/store/request_log.ts). */
const INLINE_BYTES = 16 * 1024;

/** CPU µs per request of each piece, for one phase. */
export interface Pieces {
  phase: string;
  requests: number;
  /** Mean bytes of the request and response bodies as sent and answered. */
  requestBytes: number;
  responseBytes: number;
  reread: number;
  redact: number;
  cap: number;
  enqueue: number;
  commit: number;
  serialize: number;
  /** The pieces added up (serialize is part of commit). */
  sum: number;
  /**
   * The whole middleware, log on minus log off, around a handler that only replays the phase's
   * recorded answers (median over rounds of interleaved blocks, flush included).
   */
  isolated: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function cpuNow(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/**
 * CPU µs per call of `run` divided by `per`: the least of 7 repeats of at least 30 ms each (a
 * collection that lands in one repeat is left out; `isolated` counts what collections cost).
 */
async function timed(per: number, run: () => unknown): Promise<number> {
  const reps: number[] = [];
  for (let k = 0; k < 7; k++) {
    const start = cpuNow();
    let n = 0;
    let used = 0;
    do {
      await run();
      n++;
      used = cpuNow() - start;
    } while (used < 30_000);
    reps.push(used / n / per);
  }
  return Math.min(...reps);
}

async function piecesOf(
  kv: Deno.Kv,
  arm: Arm,
  ctx: Context,
  def: ReturnType<typeof phases>[number],
  round: number,
): Promise<Pieces> {
  // Two blocks to warm up, then the block whose bodies are timed.
  for (let r = 0; r < 3; r++) {
    await def.prepare?.(arm, ctx, def.block);
    const calls = def.calls(arm, round + r, def.block);
    const raw: { request: string; response: string; path: string }[] = [];
    for (const call of calls) {
      raw.push({
        request: call.body ?? "",
        response: await send(arm.app, arm, call),
        path: call.path,
      });
    }
    await flushRequestLog(kv);
    if (r < 2) continue;
    const listed = await listRequestLog(kv, arm.tenantId, arm.idpId, { limit: calls.length });
    const entries: NewRequestLogEntry[] = [];
    for (const e of listed.entries.reverse()) {
      const whole = (await getRequestLog(kv, arm.tenantId, arm.idpId, e.id))!;
      const { id: _id, expiresAt: _expires, bodyParts: _parts, ...entry } = whole;
      entries.push(entry);
    }
    const n = raw.length;
    const utf8 = new TextEncoder();
    const requestBytes = raw.map((x) => utf8.encode(x.request));
    const reread = await timed(n, async () => {
      for (const bytes of requestBytes) {
        if (!bytes.length) continue;
        await new Response(bytes.slice().buffer, {
          headers: { "Content-Type": "application/scim+json" },
        }).text();
      }
    });
    const redacted = raw.map((x) => [redactBody(x.request), redactBody(x.response)]);
    const redact = await timed(n, () => {
      for (const x of raw) {
        redactBody(x.request);
        redactBody(x.response);
      }
    });
    const cap = await timed(n, () => {
      for (const [a, b] of redacted) {
        capBody(a);
        capBody(b);
      }
    });
    // What the writer stores: the entry, and its bodies apart as bytes when they are large.
    const stored = entries.map((e) => {
      const bodies = [utf8.encode(e.requestBody ?? ""), utf8.encode(e.responseBody ?? "")];
      if (bodies[0].length + bodies[1].length <= INLINE_BYTES) return [e];
      const { requestBody: _q, responseBody: _r, ...rest } = e;
      return [rest, ...bodies.filter((b) => b.length)];
    });
    const serializeUs = await timed(n, () => {
      for (const values of stored) for (const v of values) serialize(v);
    });
    // The writer's own cost: hand the block's entries over, then commit them in one flush.
    const scratch = `pieces-${def.name}`;
    const enqueueUs: number[] = [];
    const commitUs: number[] = [];
    for (let k = 0; k < 15; k++) {
      const t0 = cpuNow();
      for (const e of entries) {
        logScimRequest(kv, scratch, { ...e, at: new Date().toISOString() }, 7);
      }
      const t1 = cpuNow();
      await flushRequestLog(kv);
      const t2 = cpuNow();
      if (k >= 3) {
        enqueueUs.push((t1 - t0) / n);
        commitUs.push((t2 - t1) / n);
      }
    }
    const enqueue = median(enqueueUs);
    const commit = median(commitUs);
    const isolated = await isolatedCost(kv, arm, raw, calls.map((c) => c.method));
    return {
      phase: def.name,
      requests: n,
      requestBytes: Math.round(raw.reduce((a, x) => a + x.request.length, 0) / n),
      responseBytes: Math.round(raw.reduce((a, x) => a + x.response.length, 0) / n),
      reread,
      redact,
      cap,
      enqueue,
      commit,
      serialize: serializeUs,
      sum: reread + redact + cap + enqueue + commit,
      isolated,
    };
  }
  throw new Error("unreachable");
}

/**
 * The middleware alone: two minimal SCIM apps (log on, log off) whose handler answers each
 * recorded request with its recorded response, timed in alternating blocks like the real run.
 */
async function isolatedCost(
  kv: Deno.Kv,
  arm: Arm,
  raw: { request: string; response: string; path: string }[],
  methods: string[],
): Promise<number> {
  const answers = raw.map((x) => x.response ? JSON.parse(x.response) : null);
  const deps = { kv } as unknown as ScimEnv["Variables"]["deps"];
  const tenant = { id: arm.tenantId } as unknown as ScimEnv["Variables"]["tenant"];
  const idp = { id: arm.idpId } as unknown as ScimEnv["Variables"]["idp"];
  const token = { id: "tok", name: "bench" } as unknown as ScimEnv["Variables"]["token"];
  const build = (days: number) => {
    const sub = new Hono<ScimEnv>();
    sub.use("*", scimRequestLog(days));
    sub.use("*", async (c, next) => {
      c.set("idp", idp);
      c.set("token", token);
      await next();
    });
    sub.all("*", async (c) => {
      const i = Number(c.req.header("x-i"));
      if (c.req.method !== "GET") await readJsonBody(c);
      return scimJson(answers[i], methods[i] === "POST" ? 201 : 200);
    });
    const root = new Hono<ScimEnv>();
    root.use("*", async (c, next) => {
      c.set("deps", deps);
      c.set("tenant", tenant);
      c.set("requestId", crypto.randomUUID());
      c.set("clientIp", "127.0.0.1");
      await next();
    });
    root.route("/scim/v2/inbound/:idp", sub);
    return root;
  };
  const apps = [build(7), build(0)];
  const block = async (app: Hono<ScimEnv>) => {
    const t0 = cpuNow();
    for (let i = 0; i < raw.length; i++) {
      const res = await app.fetch(
        new Request(arm.base + raw[i].path, {
          method: methods[i],
          headers: {
            "x-i": String(i),
            "user-agent": "Okta SCIM Client 1.0",
            ...(raw[i].request ? { "content-type": "application/scim+json" } : {}),
          },
          body: raw[i].request || undefined,
        }),
      );
      await res.text();
    }
    await flushRequestLog(kv);
    return (cpuNow() - t0) / raw.length;
  };
  const deltas: number[] = [];
  for (let r = 0; r < 60; r++) {
    const order = r & 1 ? [1, 0] : [0, 1];
    const us: number[] = [];
    for (const k of order) us[k] = await block(apps[k]);
    if (r >= 10) deltas.push(us[0] - us[1]);
  }
  return median(deltas);
}

/** Times the pieces for each phase (all, or those named). */
export async function measurePieces(only?: string[]): Promise<Pieces[]> {
  const dir = await Deno.makeTempDir({ prefix: "weft-rlog-pieces-" });
  const path = join(dir, "weft.kv");
  const kv = await Deno.openKv(path);
  try {
    const base = loadConfig({ WEFT_KV_PATH: path, WEFT_LOG: "off" });
    const log = createLogger("off");
    const onApp = createApp({ kv, config: { ...base, requestLogDays: 7 }, log });
    const offApp = createApp({ kv, config: { ...base, requestLogDays: 0 }, log });
    const arm = await makeArm(kv, "on", onApp);
    arm.base_users = await createUsers(offApp, arm, BASE_USERS);
    const out: Pieces[] = [];
    for (const def of phases()) {
      if (only && !only.includes(def.name)) continue;
      out.push(await piecesOf(kv, arm, { offApp }, def, 0));
    }
    return out;
  } finally {
    await flushRequestLog(kv);
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function table(rows: Pieces[]): string {
  const f = (x: number) => x.toFixed(1);
  return [
    "| phase | bytes in / out | reread | redact | cap | enqueue | commit (of which serialize) | sum µs/req | isolated middleware µs/req |",
    "| ----- | -------------: | -----: | -----: | --: | ------: | ---------------------------: | ---------: | -------------------------: |",
    ...rows.map((r) =>
      `| ${r.phase} | ${r.requestBytes} / ${r.responseBytes} | ${f(r.reread)} | ${f(r.redact)} | ${
        f(r.cap)
      } | ${f(r.enqueue)} | ${f(r.commit)} (${f(r.serialize)}) | ${f(r.sum)} | ${f(r.isolated)} |`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { phases: { type: "string" }, json: { type: "boolean" } },
  });
  const rows = await measurePieces(values.phases?.split(","));
  // deno-lint-ignore no-console
  console.log(values.json ? JSON.stringify(rows, null, 2) : table(rows));
}
