/**
 * A KV Connect server for tests, on loopback: denokv's own SQLite backend (the native addon that
 * `npm:@deno/kv` loads, `@deno/kv-linux-x64-gnu` here) behind the KV Connect protocol, spoken
 * over HTTP/2 in clear text. Deno's KV Connect client speaks HTTP/2 with prior knowledge on
 * `http:` URLs; `Deno.serve` (hyper) answers it on the same port as HTTP/1.1. A `node:http2`
 * server was tried first and dropped: Deno's nghttp2 binding aborts the whole process
 * (`find_stream_on_goaway_func` assertion) when a client that closed its store sends GOAWAY.
 *
 * The protocol pieces (denokv's `proto/kv-connect.md`, `proto/schema/datapath.proto`):
 * - metadata exchange: `POST /` (or `POST /<name>` for a named database) with
 *   `Authorization: Bearer <access token>` and `{"supportedVersions": [...]}`; answers version 3
 *   (or 2), the database id, one strongly consistent endpoint, the token and its expiry;
 * - data path under `<endpoint>/`: `snapshot_read`, `atomic_write` and `watch`, each checked for
 *   the bearer token, `x-denokv-version` (2 or 3) and `x-denokv-database-id`.
 *
 * No protobuf code lives here: the addon's `snapshotRead`, `atomicWrite` and `startWatch` take the
 * request message as bytes and return the answer as bytes, decoded, validated against denokv's
 * limits and encoded by denokv itself (prost). The only framing written here is `watch`'s stream:
 * each `WatchOutput` prefixed by its length as a little-endian u32, and a zero length as a
 * keep-alive every 5 s, as the denokv server sends.
 *
 * The server runs in its own process (this file is its entry point), so a test can kill it, and
 * the test's own sanitizers see one child process rather than every connection. It exits when
 * its standard input closes, so it never outlives the test process that started it.
 *
 * ```ts
 * await using kvc = await startKvConnect();
 * const kv = await openKvConnect(kvc);
 * ```
 * @module
 */
import { createRequire } from "node:module";
import { timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { openStore } from "../lib/store/open.ts";

/** The token every server of this test process uses unless told otherwise (see `openKvConnect`). */
export const TEST_TOKEN = `weft-test-kv-connect-${Deno.pid}`;

/** Options of {@linkcode startKvConnect}. */
export interface KvConnectOptions {
  /** SQLite file of the default database (`/`); a file in a fresh temporary folder when absent. */
  path?: string;
  /** Access token clients must present (at least 12 characters, as denokv asks). */
  token?: string;
}

/** A running KV Connect server. */
export interface KvConnectServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the default database, for `DENO_KV_URL` or `Deno.openKv`. */
  url: string;
  /** The access token (`DENO_KV_ACCESS_TOKEN`). */
  token: string;
  /** The default database's SQLite file. */
  path: string;
  /** The server's process id (for its CPU time and memory). */
  pid: number;
  /** The URL of another database on the same server, created on first use (name: `[\w-]+`). */
  database(name: string): string;
  /** The environment a KV Connect client process needs: `DENO_KV_URL`, `DENO_KV_ACCESS_TOKEN`. */
  env(url?: string): { DENO_KV_URL: string; DENO_KV_ACCESS_TOKEN: string };
  /** Requests answered so far, by endpoint (`metadata`, `snapshot_read`, `atomic_write`, …). */
  stats(): Promise<Record<string, number>>;
  /** Sends a signal (SIGKILL by default) and waits for the process to end. */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Stops the server (SIGTERM) and removes the temporary folder it was given, if any. */
  close(): Promise<void>;
}

/** Starts a KV Connect server in its own process and waits until it listens. */
export async function startKvConnect(options: KvConnectOptions = {}): Promise<KvConnectServer> {
  const token = options.token ?? TEST_TOKEN;
  if (token.length < 12) throw new Error("Cannot start KV Connect: the token needs 12 characters");
  const tempDir = options.path ? undefined : await Deno.makeTempDir({ prefix: "weft-kvc-" });
  const path = options.path ?? join(tempDir!, "kv.sqlite3");
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      new URL(import.meta.url).pathname,
      path,
    ],
    env: { KV_CONNECT_TOKEN: token, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Only the first line is read (the port), so no read stays pending across tests.
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    first += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  const port = Number(/^listening (\d+)/.exec(first)?.[1]);
  if (!port) {
    await proc.status;
    throw new Error(`Cannot start KV Connect on ${path}: ${first || "the server exited"}`);
  }
  // The server lives until it is closed or this process ends (its stdin closes then); until it is
  // stopped it does not hold this process open.
  proc.unref();
  const stdin = proc.stdin.getWriter();
  let ended = false;
  const status = proc.status.then(() => {
    ended = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (signal: Deno.Signal) => {
    proc.ref();
    if (!ended) {
      try {
        proc.kill(signal);
      } catch {
        // already gone
      }
    }
    await status;
    await stdin.close().catch(() => {});
    await proc.stdout.cancel().catch(() => {});
  };
  const server: KvConnectServer = {
    url,
    token,
    path,
    pid: proc.pid,
    database(name) {
      if (!/^[\w-]{1,200}$/.test(name)) throw new Error(`Cannot name a database "${name}"`);
      return `${url}/${name}`;
    },
    env: (u = url) => ({ DENO_KV_URL: u, DENO_KV_ACCESS_TOKEN: token }),
    async stats() {
      const res = await fetch(`${url}/_stats`, { headers: { authorization: `Bearer ${token}` } });
      return await res.json();
    },
    kill: (signal = "SIGKILL") => stop(signal),
    async close() {
      await stop("SIGTERM");
      if (tempDir) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}

/**
 * Opens a KV Connect URL from this process with Weft's opener (`Deno.openKv`, and the store's
 * limits recorded). Deno reads the access token from the process-wide `DENO_KV_ACCESS_TOKEN`, so
 * every server a test process opens itself shares {@linkcode TEST_TOKEN}.
 */
export async function openKvConnect(
  server: Pick<KvConnectServer, "url" | "token">,
  url = server.url,
): Promise<Deno.Kv> {
  const current = Deno.env.get("DENO_KV_ACCESS_TOKEN");
  if (current !== undefined && current !== server.token) {
    throw new Error("Cannot open KV Connect: DENO_KV_ACCESS_TOKEN holds another server's token");
  }
  Deno.env.set("DENO_KV_ACCESS_TOKEN", server.token);
  return await openStore(url);
}

/** `WEFT_TEST_KV=connect`: the HTTP and reliability harnesses run on KV Connect stores. */
export const KV_CONNECT_MODE = Deno.env.get("WEFT_TEST_KV") === "connect";

let shared: Promise<KvConnectServer> | undefined;
let sharedServer: KvConnectServer | undefined;

/**
 * One server for the whole test module (a database per store it is asked for). Harness modules
 * await it at load in `WEFT_TEST_KV=connect` mode, before any test runs: a process started inside
 * a test and outliving it would trip that test's resource sanitizer.
 */
export function sharedKvConnect(): Promise<KvConnectServer> {
  shared ??= startKvConnect().then((s) => sharedServer = s);
  return shared;
}

function sharedOrThrow(): KvConnectServer {
  if (!sharedServer) {
    throw new Error("Cannot use KV Connect: await sharedKvConnect() when the harness loads");
  }
  return sharedServer;
}

/** The shared server's database standing for a store location (a file path or a name). */
function databaseFor(location: string): string {
  const name = location.replace(/[^\w-]+/g, "_").slice(-200);
  return sharedOrThrow().database(name);
}

/**
 * Opens the store a test means by `location` (a KV file path, or `:memory:` for a fresh one):
 * the file itself, or in `WEFT_TEST_KV=connect` mode a database of the shared KV Connect server,
 * through Weft's opener (so the store's limits are those Weft sees in production).
 */
export async function openTestKv(location: string): Promise<Deno.Kv> {
  if (!KV_CONNECT_MODE) return await Deno.openKv(location);
  const name = location === ":memory:" ? `mem-${crypto.randomUUID()}` : location;
  const server = sharedOrThrow();
  return await openKvConnect(server, databaseFor(name));
}

/**
 * The environment a Weft process (`deno serve main.ts`, the CLI) needs to use the store a test
 * means by a KV file path: nothing beyond `WEFT_KV_PATH` on files, `DENO_KV_URL` and
 * `DENO_KV_ACCESS_TOKEN` of the matching KV Connect database in `WEFT_TEST_KV=connect` mode.
 */
export function testKvEnv(path: string): Record<string, string> {
  if (!KV_CONNECT_MODE) return {};
  return sharedOrThrow().env(databaseFor(path));
}

// ---------------------------------------------------------------------------------------------
// The server (this file run as a program: `deno run -A tests/_kv_connect.ts <sqlite file>`)
// ---------------------------------------------------------------------------------------------

/** The addon's functions this server uses (`@deno/kv`'s `NapiInterface`). */
interface DenoKvAddon {
  open(path: string, inMemory: boolean | null, debug: boolean): number;
  close(db: number, debug: boolean): void;
  snapshotRead(db: number, request: Uint8Array, debug: boolean): Promise<Uint8Array<ArrayBuffer>>;
  atomicWrite(db: number, request: Uint8Array, debug: boolean): Promise<Uint8Array<ArrayBuffer>>;
  startWatch(db: number, request: Uint8Array, debug: boolean): Promise<number>;
  dequeueNextWatchMessage(
    db: number,
    watch: number,
    debug: boolean,
  ): Promise<Uint8Array | undefined>;
  endWatch(db: number, watch: number, debug: boolean): void;
}

/** The `@deno/kv` addon package of each platform (its optional dependencies). */
const ADDONS: Record<string, string> = {
  "linux-x86_64": "@deno/kv-linux-x64-gnu",
  "linux-aarch64": "@deno/kv-linux-arm64-gnu",
  "darwin-x86_64": "@deno/kv-darwin-x64",
  "darwin-aarch64": "@deno/kv-darwin-arm64",
  "windows-x86_64": "@deno/kv-win32-x64-msvc",
};

async function loadAddon(): Promise<DenoKvAddon> {
  const name = ADDONS[`${Deno.build.os}-${Deno.build.arch}`];
  if (!name) {
    throw new Error(`Cannot load denokv's addon: no @deno/kv build for ${Deno.build.target}`);
  }
  // `@deno/kv` brings its platform's addon as an optional dependency: importing it installs both,
  // and the addon is required (native addons load only through require()) from inside `@deno/kv`,
  // where its dependency resolves.
  await import("@deno/kv");
  const entry = createRequire(import.meta.url).resolve("@deno/kv");
  return createRequire(entry)(name) as DenoKvAddon;
}

/** A database the server knows: its id, and its open handle while it is in use. */
interface Database {
  id: string;
  path: string;
  handle?: number;
  busy: number;
  lastUsed: number;
}

const DEBUG = !!Deno.env.get("KV_CONNECT_DEBUG");
/** A named database is closed after this long without requests (reopened on the next). */
const IDLE_CLOSE_MS = 5_000;
/** Metadata is valid this long (denokv: a day); Deno's client refreshes it every minute anyway. */
const METADATA_TTL_MS = 24 * 60 * 60 * 1000;
/** A zero-length frame on a watch stream every this often tells the client the server is alive. */
const WATCH_PING_MS = 5_000;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function text(status: number, message: string): Response {
  return new Response(message, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function checkToken(given: string | null, token: string): void {
  const m = /^bearer (.+)$/i.exec(given ?? "");
  if (!m) throw new HttpError(401, "Malformed authorization header.");
  const a = new TextEncoder().encode(m[1]);
  const b = new TextEncoder().encode(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new HttpError(401, "Invalid access token.");
  }
}

/**
 * Maps an addon error to an HTTP answer, as the denokv server does: a request the backend refuses
 * (a limit, a bad message, a type mismatch) is 400, which ends the client's call with the message;
 * a store that is busy or closing is 503, which Deno's client retries.
 */
function addonError(error: unknown): HttpError {
  const message = (error instanceof Error ? error.message : String(error)).split("\n")[0];
  return new HttpError(/closed|locked|busy/i.test(message) ? 503 : 400, message);
}

/** A `WatchOutput` (or an empty keep-alive) prefixed by its length, a little-endian u32. */
function frame(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length, true);
  out.set(bytes, 4);
  return out;
}

/** Runs the server on `path` (the default database) until SIGTERM or the end of standard input. */
async function serve(path: string, token: string): Promise<void> {
  const addon = await loadAddon();
  const dir = path.replace(/[^/]*$/, "") || ".";
  const databases = new Map<string, Database>();
  const stats: Record<string, number> = {};
  const count = (what: string) => stats[what] = (stats[what] ?? 0) + 1;

  function database(name: string): Database {
    let db = databases.get(name);
    if (!db) {
      db = {
        id: crypto.randomUUID(),
        path: name ? join(dir, `${name}.sqlite3`) : path,
        busy: 0,
        lastUsed: Date.now(),
      };
      databases.set(name, db);
    }
    return db;
  }

  function use(db: Database): number {
    try {
      db.handle ??= addon.open(db.path, false, false);
    } catch (error) {
      throw addonError(error);
    }
    db.busy++;
    db.lastUsed = Date.now();
    return db.handle;
  }

  function release(db: Database): void {
    db.busy--;
    db.lastUsed = Date.now();
  }

  // Named databases (one per test app) are closed when idle, so a long test file does not keep
  // a SQLite connection and a denokv worker thread per database it ever used.
  const idle = setInterval(() => {
    for (const [name, db] of databases) {
      const unused = db.busy === 0 && Date.now() - db.lastUsed > IDLE_CLOSE_MS;
      if (name && db.handle !== undefined && unused) {
        addon.close(db.handle, false);
        db.handle = undefined;
      }
    }
  }, 1_000);

  async function metadata(name: string, req: Request): Promise<Response> {
    const body = await req.text();
    if (!body) throw new HttpError(400, "The server requires at least protocol version 2.");
    let versions: unknown;
    try {
      versions = (JSON.parse(body) as { supportedVersions?: unknown }).supportedVersions;
    } catch {
      throw new HttpError(400, "The metadata exchange request is not JSON.");
    }
    if (!Array.isArray(versions)) throw new HttpError(400, "supportedVersions must be an array.");
    const version = versions.includes(3) ? 3 : versions.includes(2) ? 2 : 0;
    if (!version) throw new HttpError(400, "The server requires protocol version 2 or 3.");
    checkToken(req.headers.get("authorization"), token);
    count("metadata");
    return Response.json({
      version,
      databaseId: database(name).id,
      endpoints: [{ url: `${name ? `/${name}` : ""}/v2`, consistency: "strong" }],
      token,
      expiresAt: new Date(Date.now() + METADATA_TTL_MS).toISOString(),
    });
  }

  function dataPath(name: string, req: Request): Database {
    const version = req.headers.get("x-denokv-version");
    if (version !== "2" && version !== "3") {
      throw new HttpError(400, "Expected protocol version 2 or 3.");
    }
    checkToken(req.headers.get("authorization"), token);
    const db = databases.get(name);
    if (!db || req.headers.get("x-denokv-database-id") !== db.id) {
      throw new HttpError(400, "Invalid database id.");
    }
    return db;
  }

  async function watch(db: Database, handle: number, body: Uint8Array): Promise<Response> {
    let watchId: number;
    try {
      watchId = await addon.startWatch(handle, body, false);
    } catch (error) {
      release(db);
      throw addonError(error);
    }
    let open = true;
    let ping: ReturnType<typeof setInterval> | undefined;
    const end = () => {
      if (!open) return;
      open = false;
      clearInterval(ping);
      addon.endWatch(handle, watchId, false);
      release(db);
    };
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        ping = setInterval(() => controller.enqueue(frame(new Uint8Array())), WATCH_PING_MS);
      },
      async pull(controller) {
        const next = await addon.dequeueNextWatchMessage(handle, watchId, false).catch(() =>
          undefined
        );
        if (!open) {
          // Cancelled while waiting: the addon put the watch back when this change came.
          addon.endWatch(handle, watchId, false);
          return;
        }
        if (next === undefined) {
          end();
          controller.close();
        } else controller.enqueue(frame(next));
      },
      cancel: end,
    });
    return new Response(stream, { headers: { "content-type": "application/octet-stream" } });
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    // deno-lint-ignore no-console
    if (DEBUG) console.error("kv connect:", req.method, url.pathname);
    if (url.pathname === "/_stats") {
      checkToken(req.headers.get("authorization"), token);
      return Response.json(stats);
    }
    const m = /^(?:\/([\w-]{1,200}))?(?:\/v2\/(snapshot_read|atomic_write|watch))?\/?$/.exec(
      url.pathname,
    );
    if (!m) throw new HttpError(404, "Resource not found.");
    if (req.method !== "POST") throw new HttpError(405, "Method not allowed.");
    const name = m[1] ?? "";
    const op = m[2];
    if (!op) return await metadata(name, req);
    const db = dataPath(name, req);
    const body = new Uint8Array(await req.arrayBuffer());
    const h = use(db);
    count(op);
    if (op === "watch") return await watch(db, h, body);
    try {
      const out = op === "snapshot_read"
        ? await addon.snapshotRead(h, body, false)
        : await addon.atomicWrite(h, body, false);
      return new Response(out, { headers: { "content-type": "application/x-protobuf" } });
    } catch (error) {
      throw addonError(error);
    } finally {
      release(db);
    }
  }

  // Deno.serve answers HTTP/1.1 and, on a cleartext connection that opens with the HTTP/2
  // preface, HTTP/2: Deno's KV Connect client speaks the latter (prior knowledge) on `http:`.
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (req) => {
    try {
      return await handle(req);
    } catch (error) {
      const e = error instanceof HttpError ? error : new HttpError(500, String(error));
      if (e.status >= 500) count("errors");
      return text(e.status, e.message);
    }
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(idle);
    await server.shutdown().catch(() => {});
    for (const db of databases.values()) {
      if (db.handle !== undefined) addon.close(db.handle, false);
      db.handle = undefined;
    }
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  await Deno.stdout.write(new TextEncoder().encode(`listening ${server.addr.port}\n`));
  // The parent's end of stdin closes when it exits or closes this server: stop then.
  for await (const _ of Deno.stdin.readable) {
    // nothing is sent on stdin; it only tells that the parent is alive
  }
  await stop();
}

if (import.meta.main) {
  const token = Deno.env.get("KV_CONNECT_TOKEN") ?? "";
  const path = Deno.args[0];
  if (!path || token.length < 12) {
    // deno-lint-ignore no-console
    console.error("usage: KV_CONNECT_TOKEN=<12+ chars> deno run -A tests/_kv_connect.ts <file>");
    Deno.exit(2);
  }
  await serve(path, token);
}
