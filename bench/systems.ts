/**
 * The systems under test, each started fresh (new store) on a free loopback port: Weft itself
 * (`deno serve main.ts`, as in production), the KV baseline, and the two npm peers. Each gives
 * the generator a SCIM base URL and token, and reports its server's peak RSS (`VmHWM`).
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Target } from "./load.ts";
import { type KvConnectServer, startKvConnect } from "../tests/_kv_connect.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A running system. */
export interface Running extends Target {
  name: SystemName;
  pid: number;
  /** Peak resident set size of the server process in MiB (from /proc). */
  peakRssMiB(): Promise<number>;
  /** CPU time (user + system) the server process has used so far, in milliseconds. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
  /** Weft only: runs its operator CLI on the running server's store. */
  weftCli?: (...args: string[]) => Promise<string>;
  /** Weft only: the server's origin (`http://127.0.0.1:<port>`). */
  origin?: string;
  /** Weft on a file only: its store's SQLite file (other processes may open it too). */
  kvPath?: string;
  /** The store the system was given: `file` (embedded SQLite) or `connect` (KV Connect). */
  store: BenchStore;
  /** The KV Connect server's CPU time so far (ms), when the system runs on one. */
  storeCpuMs?: () => Promise<number>;
}

/** Where a system keeps its data: its own SQLite file, or a KV Connect server on loopback. */
export type BenchStore = "file" | "connect";

/**
 * Every system the harness knows: `weft-log-off` is Weft with its SCIM request log off
 * (`WEFT_REQUEST_LOG_DAYS=0`) and `weft-feed-off` Weft with its events feed off
 * (`WEFT_EVENTS_FEED=off`: no outbox notes, no sequencing), for measuring each one's cost side
 * by side, and `weft-2` Weft served by `deno serve --parallel` with 2 workers (what one more
 * core buys); `weft-log-off` runs by default (the log's cost on every phase), the other two only
 * when named with `--systems`. `same-work` is the same-work baseline
 * (`bench/same_work.ts`): Weft's own store operations per request, replayed from a trace of
 * them, with no SCIM logic; `baseline` the bare one (`bench/baseline.ts`): the minimum store
 * work of each operation.
 */
export const SYSTEMS = [
  "weft",
  "weft-log-off",
  "weft-feed-off",
  "weft-2",
  "same-work",
  "baseline",
  "better-auth",
  "scimmy",
] as const;
/** The systems a run compares when none are named. */
export const DEFAULT_SYSTEMS: readonly SystemName[] = [
  "weft",
  "weft-log-off",
  "same-work",
  "baseline",
  "better-auth",
  "scimmy",
];
/** A system name. */
export type SystemName = typeof SYSTEMS[number];

/** Whether a system is a peer (its errors can be capability gaps rather than failures). */
export function isPeer(name: SystemName): boolean {
  return name === "better-auth" || name === "scimmy";
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Peak RSS of a process in MiB, from `VmHWM` in /proc/<pid>/status (0 if unreadable). */
export async function peakRss(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) of a process in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
export async function cpuTime(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

function randomToken(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

async function waitReady(url: string, child: Deno.ChildProcess, what: string): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 300; i++) {
    if (exited) throw new Error(`${what} exited before it was ready`);
    const ok = await fetch(url).then((r) => r.body?.cancel().then(() => true) ?? true, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready in 30 s`);
}

/**
 * `WEFT_BENCH_PIN=<load cpu>:<server cpu>` (e.g. `0:1`): the harness and its load generator run
 * on one CPU and each server on another, so that the two do not take each other's time and
 * side-by-side figures move less between runs. Each server then has one core, its store's
 * threads included.
 */
export function pinning(): { load: string; server: string } | undefined {
  const m = /^(\d+):(\d+)$/.exec(Deno.env.get("WEFT_BENCH_PIN") ?? "");
  return m ? { load: m[1], server: m[2] } : undefined;
}

/** Pins this process (every thread) to the load CPU of {@linkcode pinning}, when set. */
export async function pinSelf(): Promise<void> {
  const pin = pinning();
  if (!pin) return;
  const out = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", pin.load, String(Deno.pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`taskset: ${new TextDecoder().decode(out.stderr).trim()}`);
}

/** Spawns a server whose output goes to a log file in `dir`. */
async function spawn(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  dir: string,
): Promise<Deno.ChildProcess> {
  const pin = pinning();
  const child = new Deno.Command(pin ? "taskset" : cmd, {
    args: pin ? ["-c", pin.server, cmd, ...args] : args,
    env,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await Deno.open(join(dir, "server.log"), { write: true, create: true, append: true });
  const err = await Deno.open(join(dir, "server.log"), { write: true, create: true, append: true });
  child.stdout.pipeTo(out.writable).catch(() => {});
  child.stderr.pipeTo(err.writable).catch(() => {});
  return child;
}

function running(
  name: SystemName,
  child: Deno.ChildProcess,
  target: Target,
  dir: string,
  keep: boolean,
  kvc?: KvConnectServer,
): Running {
  return {
    name,
    ...target,
    pid: child.pid,
    store: kvc ? "connect" : "file",
    ...(kvc ? { storeCpuMs: () => cpuTime(kvc.pid) } : {}),
    peakRssMiB: () => peakRss(child.pid),
    cpuMs: () => cpuTime(child.pid),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await child.status;
      clearTimeout(timer);
      await kvc?.close();
      if (!keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Options for starting a system. */
export interface StartOptions {
  /** Folder with the installed npm peers (see `peers/install.ts`). */
  peersDir?: string;
  /** Keep the temp folder (store and server log) after stopping. */
  keep?: boolean;
  /** The Weft checkout to serve (default: this repository's working tree). */
  weftDir?: string;
  /** V8 flags for the Weft server process (`DENO_V8_FLAGS`), e.g. to study its memory. */
  weftV8Flags?: string;
  /** The store trace the same-work baseline replays (default: `bench/.cache/store_trace.json`). */
  sameWorkTrace?: string;
  /**
   * `connect`: Weft, the same-work baseline and the bare one get a fresh KV Connect server on
   * loopback (`tests/_kv_connect.ts`, denokv's SQLite backend) instead of their own file.
   */
  store?: BenchStore;
  /** More environment for the Weft server and its CLI (e.g. `WEFT_WEBHOOK_ALLOW_PRIVATE`). */
  weftEnv?: Record<string, string>;
}

/** The commit of a Weft checkout, with `+dirty` when its lib/, routes/ or main.ts have changes. */
export async function weftVersion(dir: string = ROOT): Promise<string> {
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: dir, stdout: "piped", stderr: "null" })
      .output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  const sha = (await git("rev-parse", "--short", "HEAD")) || "unknown";
  const dirty = await git("status", "--porcelain", "--", "lib", "routes", "main.ts", "deno.json");
  return dirty ? `${sha}+dirty` : sha;
}

/** The `--v8-flags=…` of the checkout's `deno task start`, so the bench serves Weft as shipped. */
export async function startV8Flags(dir: string): Promise<string[]> {
  try {
    const config = JSON.parse(await Deno.readTextFile(join(dir, "deno.json")));
    const start = String(config?.tasks?.start ?? "");
    return start.match(/--v8-flags=\S+/g) ?? [];
  } catch {
    return [];
  }
}

/**
 * Creates the bench tenant, an Okta IdP and a token in the Weft store `env` names, with Weft's
 * own CLI; returns the IdP id and the token.
 */
export async function provisionWeft(
  env: Record<string, string>,
  weftDir: string = ROOT,
): Promise<{ idp: string; token: string }> {
  const cli = (...args: string[]) =>
    run(Deno.execPath(), ["run", "-A", "--unstable-kv", "cli.ts", ...args], env, weftDir);
  await cli("tenant", "create", "bench");
  const idp = /inbound\/([\w-]+)/.exec(
    await cli("idp", "create", "--tenant", "bench", "--name", "Okta", "--kind", "okta"),
  )?.[1];
  if (!idp) throw new Error("Cannot read the IdP id from the CLI output");
  const token = /weft_scim_[\w-]+/.exec(
    await cli("token", "create", "--tenant", "bench", "--idp", idp, "--name", "bench"),
  )?.[0];
  if (!token) throw new Error("Cannot read the token from the CLI output");
  return { idp, token };
}

/** Starts one system on a fresh store. */
export async function startSystem(name: SystemName, options: StartOptions = {}): Promise<Running> {
  const dir = await Deno.makeTempDir({ prefix: `weft-bench-${name}-` });
  const port = freePort();
  const keep = options.keep ?? false;
  const deno = Deno.execPath();
  // Peers keep their own stores; the KV systems get a KV Connect server when asked.
  const kvc = options.store === "connect" && !isPeer(name)
    ? await startKvConnect({ path: join(dir, "kv-connect.sqlite3"), token: randomToken("kvc_") })
    : undefined;
  /** The store of a KV system: its file, or the KV Connect server's URL (and token). */
  const kvStore = (file: string): { url: string; env: Record<string, string> } =>
    kvc
      ? { url: kvc.url, env: { DENO_KV_ACCESS_TOKEN: kvc.token } }
      : { url: join(dir, file), env: {} };
  if (name === "weft" || name === "weft-log-off" || name === "weft-feed-off" || name === "weft-2") {
    const store = kvStore("weft.kv");
    const env: Record<string, string> = {
      ...(kvc ? { DENO_KV_URL: store.url } : { WEFT_KV_PATH: store.url }),
      ...store.env,
      WEFT_DEFAULT_TENANT: "bench",
      WEFT_LOG: "warn",
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      ...options.weftEnv,
    };
    if (name === "weft-log-off") env.WEFT_REQUEST_LOG_DAYS = "0";
    if (name === "weft-feed-off") env.WEFT_EVENTS_FEED = "off";
    // Two isolates answering on one port, each with its own workers, on one store.
    const parallel = name === "weft-2" ? ["--parallel"] : [];
    const weftDir = options.weftDir ?? ROOT;
    const { idp, token } = await provisionWeft(env, weftDir);
    const serveEnv = options.weftV8Flags ? { ...env, DENO_V8_FLAGS: options.weftV8Flags } : env;
    const child = await spawn(
      deno,
      ["serve", ...parallel, ...await startV8Flags(weftDir), "-A", "--unstable-kv", "main.ts"],
      name === "weft-2" ? { ...serveEnv, DENO_JOBS: "2" } : serveEnv,
      weftDir,
      dir,
    );
    await waitReady(`http://127.0.0.1:${port}/healthz`, child, "Weft");
    const base = `http://127.0.0.1:${port}/scim/v2/inbound/${idp}`;
    return {
      ...running(name, child, { base, token }, dir, keep, kvc),
      origin: `http://127.0.0.1:${port}`,
      ...(kvc ? {} : { kvPath: store.url }),
      weftCli: (...args: string[]) =>
        run(deno, ["run", "-A", "--unstable-kv", "cli.ts", ...args], env, weftDir),
    };
  }
  if (name === "baseline") {
    const token = randomToken("base_");
    const store = kvStore("baseline.kv");
    const env = {
      BASELINE_PORT: String(port),
      BASELINE_KV: store.url,
      BASELINE_TOKEN: token,
      ...store.env,
    };
    const script = join(ROOT, "bench", "baseline.ts");
    const child = await spawn(deno, ["run", "-A", "--unstable-kv", script], env, ROOT, dir);
    const base = `http://127.0.0.1:${port}/scim/v2`;
    await waitReady(`${base}/Groups/none`, child, "the baseline");
    return running(name, child, { base, token }, dir, keep, kvc);
  }
  if (name === "same-work") {
    const trace = options.sameWorkTrace ?? join(ROOT, "bench", ".cache", "store_trace.json");
    const token = randomToken("same_");
    const store = kvStore("same-work.kv");
    const env = {
      SAME_WORK_PORT: String(port),
      SAME_WORK_KV: store.url,
      SAME_WORK_TOKEN: token,
      SAME_WORK_TRACE: trace,
      ...store.env,
    };
    const script = join(ROOT, "bench", "same_work.ts");
    const child = await spawn(deno, ["run", "-A", "--unstable-kv", script], env, ROOT, dir);
    const base = `http://127.0.0.1:${port}/scim/v2`;
    await waitReady(`${base}/Groups/none`, child, "the same-work baseline");
    return running(name, child, { base, token }, dir, keep, kvc);
  }
  if (!options.peersDir) throw new Error(`Cannot start ${name}: the peers are not installed`);
  const token = randomToken("peer_");
  const env: Record<string, string> = {
    PORT: String(port),
    TOKEN: token,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    NODE_ENV: "production",
  };
  if (name === "better-auth") {
    env.DB = join(dir, "better-auth.sqlite");
    env.SECRET = randomToken("secret_");
    const child = await spawn("node", ["better_auth.mjs"], env, options.peersDir, dir);
    const base = `http://127.0.0.1:${port}/api/auth/scim/v2`;
    await waitReady(`${base}/ServiceProviderConfig`, child, "Better Auth");
    return running(name, child, { base, token }, dir, keep);
  }
  const child = await spawn("node", ["scimmy.mjs"], env, options.peersDir, dir);
  const base = `http://127.0.0.1:${port}/scim/v2`;
  await waitReady(`${base}/ServiceProviderConfig`, child, "SCIMMY");
  return running(name, child, { base, token }, dir, keep);
}
