/**
 * Reliability harness: real Weft servers on loopback (`deno serve`, optionally `--parallel`, or
 * several processes on one SQLite KV file), provisioning straight on the store, an HTTP client
 * that records every answer, a whole-store invariant checker and KV snapshots.
 *
 * Every load is bounded and aimed at 127.0.0.1 only; every spawned server is killed by
 * {@linkcode withServers} / {@linkcode Server.stop} in a `finally`.
 *
 * With `WEFT_TEST_KV=connect` a KV file path names a database of a KV Connect server instead
 * (`../_kv_connect.ts`): provisioning, inspection, the CLI and every server use that store.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createIdp, createTenant, createToken } from "../../lib/store/tenants.ts";
import type { Idp, IdpKind, Tenant } from "../../lib/store/types.ts";
import { keys } from "../../lib/store/keys.ts";
import { checkInvariants } from "../../lib/store/invariants.ts";
import { KV_CONNECT_MODE, openTestKv, sharedKvConnect, testKvEnv } from "../_kv_connect.ts";
import { flushRequestLog } from "../../lib/store/request_log.ts";

if (KV_CONNECT_MODE) await sharedKvConnect();

export { KV_CONNECT_MODE };

/** The repository root (where `main.ts` lives). */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `WEFT_SOAK=1` (the `soak` task) multiplies sizes and rounds. */
export const SOAK = Deno.env.get("WEFT_SOAK") === "1";

/** Picks the CI size or the soak size. */
export function sized<T>(ci: T, soak: T): T {
  return SOAK ? soak : ci;
}

/** A free TCP port on loopback. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A seeded PRNG (mulberry32), so a failing random schedule can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Prints a measurement line (seeds, counts) into the test output. */
export function report(line: string): void {
  // deno-lint-ignore no-console
  console.log(line);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Provisioning
// ---------------------------------------------------------------------------------------------

/** An IdP connection with a token, as a SCIM client sees it. */
export interface IdpAccess {
  idp: Idp;
  token: string;
  tokenId: string;
}

/** A provisioned tenant. */
export interface Provisioned {
  tenant: Tenant;
  idps: IdpAccess[];
}

/** Creates a tenant with IdP connections and one token each, directly on the KV file. */
export async function provision(
  kvPath: string,
  subdomain: string,
  idps: { name: string; kind: IdpKind }[] = [{ name: "Okta", kind: "okta" }],
): Promise<Provisioned> {
  const kv = await openTestKv(kvPath);
  try {
    return await provisionKv(kv, subdomain, idps);
  } finally {
    kv.close();
  }
}

/** Creates a tenant with IdP connections and one token each on an open store. */
export async function provisionKv(
  kv: Deno.Kv,
  subdomain: string,
  idps: { name: string; kind: IdpKind }[] = [{ name: "Okta", kind: "okta" }],
): Promise<Provisioned> {
  const tenant = await createTenant(kv, { subdomain, actor: "reliability-test" });
  const out: IdpAccess[] = [];
  for (const spec of idps) {
    const idp = await createIdp(kv, tenant.id, { ...spec, actor: "reliability-test" });
    const { secret, token } = await createToken(kv, tenant.id, idp.id, {
      name: "reliability",
      createdBy: "reliability-test",
    });
    out.push({ idp, token: secret, tokenId: token.id });
  }
  return { tenant, idps: out };
}

/** Runs the operator CLI on a KV file (as an operator would, in its own process). */
export async function cli(kvPath: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", "cli.ts", ...args],
    cwd: ROOT,
    env: { WEFT_KV_PATH: kvPath, WEFT_LOG: "off", ...testKvEnv(kvPath) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`cli ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** What a CLI run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the run (ms). */
  ms: number;
}

/** Runs the operator CLI on a KV file and returns its exit code and output (never throws). */
export async function runCli(
  kvPath: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", "cli.ts", ...args],
    cwd: ROOT,
    env: { WEFT_KV_PATH: kvPath, WEFT_LOG: "off", NO_COLOR: "1", ...testKvEnv(kvPath), ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
    ms: performance.now() - started,
  };
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/** Options for one server process. */
export interface ServerOptions {
  kvPath: string;
  /** Subdomain served on 127.0.0.1 (`WEFT_DEFAULT_TENANT`). */
  tenant: string;
  /** `deno serve --parallel` with this many workers (`DENO_JOBS`). */
  parallel?: number;
  logLevel?: "debug" | "info" | "warn" | "error" | "off";
  env?: Record<string, string>;
  /** Start from an empty environment (PATH and HOME kept) instead of this process's. */
  clearEnv?: boolean;
  /** How long to wait for `/healthz` (ms). */
  readyTimeout?: number;
  /** Do not throw when the server never becomes healthy (the caller inspects it). */
  allowNotReady?: boolean;
}

/** A running server process. */
export interface Server {
  port: number;
  origin: string;
  proc: Deno.ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** Whether the process has exited. */
  exited(): boolean;
  /** Sends a signal and waits for the process and its output streams to end. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** SIGTERM, then SIGKILL after a grace period; idempotent. */
  stop(): Promise<void>;
}

function drain(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  return stream.pipeTo(
    new WritableStream({
      write(chunk) {
        sink.push(decoder.decode(chunk, { stream: true }));
      },
    }),
  ).catch(() => {});
}

/** Starts `deno serve main.ts` on a free loopback port and waits until `/healthz` answers. */
export async function startServer(options: ServerOptions): Promise<Server> {
  const port = freePort();
  const args = ["serve", "-A", "--unstable-kv"];
  if (options.parallel) args.push("--parallel");
  args.push("main.ts");
  const env: Record<string, string> = {
    DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
    WEFT_KV_PATH: options.kvPath,
    WEFT_DEFAULT_TENANT: options.tenant,
    WEFT_LOG: options.logLevel ?? "warn",
    NO_COLOR: "1",
    ...(options.parallel ? { DENO_JOBS: String(options.parallel) } : {}),
    // A caller that names its own KV Connect store gets none of the harness's.
    ...(options.env?.DENO_KV_URL ? {} : testKvEnv(options.kvPath)),
    ...(options.clearEnv
      ? { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/" }
      : {}),
    ...options.env,
  };
  const proc = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    clearEnv: options.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const err: string[] = [];
  const out: string[] = [];
  const streams = Promise.all([drain(proc.stderr, err), drain(proc.stdout, out)]);
  let done = false;
  const status = proc.status.then((s) => {
    done = true;
    return s;
  });
  const server: Server = {
    port,
    origin: `http://127.0.0.1:${port}`,
    proc,
    stderr: () => err.join(""),
    stdout: () => out.join(""),
    exited: () => done,
    async kill(signal: Deno.Signal = "SIGKILL") {
      if (!done) {
        try {
          proc.kill(signal);
        } catch {
          // already gone
        }
      }
      const s = await status;
      await streams;
      return s;
    },
    async stop() {
      if (!done) {
        try {
          proc.kill("SIGTERM");
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            proc.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, 3000);
        await status;
        clearTimeout(timer);
      }
      await streams;
    },
  };
  const deadline = Date.now() + (options.readyTimeout ?? 30_000);
  // --parallel: every worker must be listening, so require several healthy answers in a row.
  let healthy = 0;
  while (Date.now() < deadline && !done) {
    const ok = await fetch(`${server.origin}/healthz`).then(
      async (r) => {
        await r.body?.cancel();
        return r.ok;
      },
      () => false,
    );
    healthy = ok ? healthy + 1 : 0;
    if (healthy >= (options.parallel ? 5 : 1)) return server;
    await sleep(ok ? 20 : 100);
  }
  if (options.allowNotReady) return server;
  await server.stop();
  throw new Error(
    `Server on ${server.origin} did not become healthy (exited: ${done}).\nstderr:\n${
      server.stderr().slice(-4000)
    }`,
  );
}

/** Runs `fn` with servers that are always stopped afterwards, even when `fn` throws. */
export async function withServers<T>(
  specs: ServerOptions[],
  fn: (servers: Server[]) => Promise<T>,
): Promise<T> {
  const servers: Server[] = [];
  try {
    for (const spec of specs) servers.push(await startServer(spec));
    return await fn(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** A temporary directory removed afterwards (immutable flags cleared first). */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "weft-rel-" });
  try {
    return await fn(dir);
  } finally {
    await new Deno.Command("chattr", { args: ["-R", "-i", dir], stdout: "null", stderr: "null" })
      .output().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/** One recorded exchange. */
export interface Exchange {
  method: string;
  url: string;
  status: number | "error";
  /** Response text (first 2,000 characters) or the network error. */
  text: string;
  requestId: string;
}

/** A SCIM client over real HTTP that records every answer (round-robin over several origins). */
export class ScimClient {
  readonly log: Exchange[] = [];
  #next = 0;
  constructor(
    readonly origins: string[],
    readonly idpId: string,
    readonly token: string,
    readonly label = "c",
  ) {}

  /** The SCIM base for an origin (round-robin when not given). */
  base(origin?: string): string {
    const o = origin ?? this.origins[this.#next++ % this.origins.length];
    return `${o}/scim/v2/inbound/${this.idpId}`;
  }

  /** Sends a request; JSON bodies are serialised; a network failure is recorded, not thrown. */
  async send(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number | "error"; json: Record<string, unknown>; headers: Headers }> {
    const url = path.startsWith("http") ? path : this.base() + path;
    const requestId = `${this.label}-${crypto.randomUUID()}`;
    const init: RequestInit = {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        "x-request-id": requestId,
        ...(body !== undefined ? { "content-type": "application/scim+json" } : {}),
        ...headers,
      },
    };
    if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
    try {
      const res = await fetch(url, init);
      const text = await res.text();
      this.log.push({ method, url, status: res.status, text: text.slice(0, 2000), requestId });
      let json: Record<string, unknown> = {};
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        json = { _raw: text };
      }
      return { status: res.status, json, headers: res.headers };
    } catch (error) {
      this.log.push({ method, url, status: "error", text: String(error), requestId });
      return { status: "error", json: {}, headers: new Headers() };
    }
  }

  /** The exchange recorded for the last request. */
  last(): Exchange {
    return this.log[this.log.length - 1];
  }

  /** Every 5xx answer so far. */
  serverErrors(): Exchange[] {
    return this.log.filter((e) => typeof e.status === "number" && e.status >= 500);
  }
}

/** Runs `n` tasks with at most `limit` in flight. */
export async function pool<T>(
  n: number,
  limit: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await task(i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** A user body with unique userName / externalId / email, tagged for the test that made it. */
export function userBody(tag: string, i: number, extra: Record<string, unknown> = {}) {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: `${tag}.${i}@example.test`,
    externalId: `ext-${tag}-${i}`,
    name: { givenName: "Rel", familyName: `${tag}${i}` },
    emails: [{ value: `${tag}.${i}@example.test`, type: "work", primary: true }],
    active: true,
    ...extra,
  };
}

export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/** Describes 5xx answers for an assertion message. */
export function describe5xx(errors: Exchange[]): string {
  return errors.slice(0, 5).map((e) =>
    `${e.method} ${e.url} → ${e.status}: ${e.text.slice(0, 300)}`
  )
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// Store inspection
// ---------------------------------------------------------------------------------------------

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Deno.KvU64) return `u64:${v.value}`;
  if (v instanceof Uint8Array) return `bytes:${Array.from(v).join(",")}`;
  return v;
}

/**
 * Key kinds of the SCIM request log: every SCIM request (reads too) adds to it, so comparisons of
 * "the store is unchanged" leave them out.
 */
export const REQUEST_LOG_KINDS = [
  "scim_requests",
  "scim_request_bodies",
  "scim_request_errors",
  "scim_requests_by_user",
  "scim_requests_by_request_id",
];

/** Every KV entry as `key → value` JSON lines, except keys whose part at index 2 is excluded. */
export async function snapshotKv(
  kv: Deno.Kv,
  excludeKinds: string[] = [],
): Promise<Map<string, string>> {
  // The request log's batch writer holds entries for a moment: a snapshot sees them written.
  await flushRequestLog(kv);
  const out = new Map<string, string>();
  for await (const e of kv.list({ prefix: [] })) {
    if (e.key[0] === "t" && excludeKinds.includes(String(e.key[2]))) continue;
    out.set(JSON.stringify(e.key, replacer), JSON.stringify(e.value, replacer));
  }
  return out;
}

/** Differences between two snapshots (added, removed, changed keys), at most `limit` lines. */
export function diffSnapshots(
  a: Map<string, string>,
  b: Map<string, string>,
  limit = 20,
): string[] {
  const out: string[] = [];
  for (const [k, v] of b) {
    if (!a.has(k)) out.push(`+ ${k} = ${v.slice(0, 200)}`);
    else if (a.get(k) !== v) out.push(`~ ${k}: ${a.get(k)!.slice(0, 100)} → ${v.slice(0, 100)}`);
  }
  for (const k of a.keys()) if (!b.has(k)) out.push(`- ${k}`);
  return out.slice(0, limit);
}

/**
 * The whole-store invariant checker (`lib/store/invariants.ts`): each IdP user row has its unique
 * and email index entries and canonical record, no index entry dangles, counters equal row counts,
 * memberships exist both ways, no journal is pending, every user and group has an event.
 */
export { checkInvariants };

/** Reads every event of a tenant (oldest first). */
export async function allEvents(
  kv: Deno.Kv,
  tenantId: string,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of kv.list<Record<string, unknown>>({ prefix: keys.events(tenantId) })) {
    out.push(e.value);
  }
  return out;
}

/** Opens a KV file (or the KV Connect store standing for it), runs `fn`, closes it. */
export async function withKv<T>(path: string, fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await openTestKv(path);
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

/** `join` re-exported for test files. */
export { join };
