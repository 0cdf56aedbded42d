/**
 * The load generator: a bounded pool of clients replaying tasks against one loopback target.
 *
 * A task is an async function that sends one or more requests through {@linkcode Client.send}
 * (match-before-create is a GET then a POST in one task). `concurrency` tasks are in flight at
 * once. Every phase is bounded twice: by a request budget and by a deadline; reaching either
 * stops the phase and marks it incomplete, so no load ever runs unbounded. Targets must be on
 * the loopback interface.
 * @module
 */

/** One request of a workload, relative to the target's SCIM base URL. */
export interface BenchRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path and query after the SCIM base, starting with `/`. */
  path: string;
  body?: unknown;
  /** Another tenant's base URL and token than the phase's (sent through the phase's proxy). */
  target?: Target;
}

/** What a request returned. */
export interface BenchResponse {
  status: number;
  text: string;
  ms: number;
  /** Whether the request counted as an error (status ≥ 400, transport failure or failed check). */
  error: boolean;
}

/** A system under test as the generator sees it. */
export interface Target {
  /** SCIM base URL without a trailing slash, e.g. `http://127.0.0.1:9000/scim/v2`. */
  base: string;
  token: string;
  /**
   * A loopback server to send every request through as an HTTP proxy, so a request can name any
   * host (`http://t1.localhost/…`: tenants by subdomain) while it still goes to 127.0.0.1.
   */
  proxy?: string;
}

/** One proxying HTTP client per proxy URL (the bench's own process lives as long as its runs). */
const proxyClients = new Map<string, Deno.HttpClient>();
function proxyClient(url: string): Deno.HttpClient {
  let client = proxyClients.get(url);
  if (!client) proxyClients.set(url, client = Deno.createHttpClient({ proxy: { url } }));
  return client;
}

/** Per-phase measurements. */
export interface PhaseStats {
  phase: string;
  requests: number;
  errors: number;
  /** Wall time of the phase in milliseconds. */
  wallMs: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  /** Up to five distinct error samples: status and the start of the body. */
  errorSamples: string[];
  /** Error count per HTTP status (0 = transport failure, -1 = failed response check). */
  errorsByStatus: Record<string, number>;
  /** True when the phase ran out of its budget or deadline before finishing its tasks. */
  incomplete: boolean;
  /** Tasks that threw (a dependent request could not continue). */
  failedTasks: number;
  /** CPU time the server process used during the phase, per request, in ms (when known). */
  serverCpuMsPerRequest?: number;
  /** CPU time the load generator (this process) used during the phase, per request, in ms. */
  clientCpuMsPerRequest?: number;
}

/** Phase limits. */
export interface PhaseLimits {
  concurrency: number;
  /** Most requests the phase may send. */
  maxRequests: number;
  /** Deadline in milliseconds from the phase start. */
  timeoutMs: number;
}

/** Thrown inside a task when the phase's budget or deadline is reached. */
export class BudgetExhausted extends Error {
  constructor(what: string) {
    super(`Phase stopped: ${what}`);
    this.name = "BudgetExhausted";
  }
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Refuses any target that is not on this machine's loopback interface. */
export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (!LOOPBACK.has(host) && !/^127\.\d+\.\d+\.\d+$/.test(host)) {
    throw new Error(`Refusing to send load to "${host}": benchmark targets must be loopback`);
  }
}

/** The client one phase's tasks share: sends requests and records their latency. */
export class Client {
  readonly latencies: number[] = [];
  /** Latencies tagged by the task (e.g. page number), for shape analysis. */
  readonly tagged: [number, number][] = [];
  errors = 0;
  readonly errorSamples: string[] = [];
  readonly errorsByStatus: Record<string, number> = {};
  private sent = 0;
  private readonly deadline: number;
  private readonly headers: Headers;
  private readonly controller = new AbortController();
  private stopped: string | null = null;

  constructor(private readonly target: Target, private readonly limits: PhaseLimits) {
    assertLoopback(target.proxy ?? target.base);
    this.deadline = performance.now() + limits.timeoutMs;
    this.headers = new Headers({
      authorization: `Bearer ${target.token}`,
      accept: "application/scim+json",
      "user-agent": "weft-bench",
    });
  }

  /** Why the phase stopped early, if it did. */
  get stopReason(): string | null {
    return this.stopped;
  }

  /** Stops further requests (in-flight ones are aborted). */
  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = reason;
    this.controller.abort();
  }

  /** Counts an error found by a response check (right status, wrong content). */
  fail(res: BenchResponse, why: string): void {
    if (res.error) return;
    res.error = true;
    this.recordError(-1, `${why}: ${res.text.slice(0, 160)}`);
  }

  private recordError(status: number, sample: string): void {
    this.errors++;
    this.errorsByStatus[status] = (this.errorsByStatus[status] ?? 0) + 1;
    if (this.errorSamples.length < 5 && !this.errorSamples.some((s) => s === sample)) {
      this.errorSamples.push(sample);
    }
  }

  /** Sends one request; `tag` records its latency with a number (e.g. the page index). */
  async send(req: BenchRequest, tag?: number): Promise<BenchResponse> {
    if (this.stopped) throw new BudgetExhausted(this.stopped);
    if (this.sent >= this.limits.maxRequests) {
      this.stop(`request budget of ${this.limits.maxRequests} reached`);
      throw new BudgetExhausted(this.stopped!);
    }
    if (performance.now() > this.deadline) {
      this.stop(`deadline of ${Math.round(this.limits.timeoutMs / 1000)} s reached`);
      throw new BudgetExhausted(this.stopped!);
    }
    this.sent++;
    if (req.target && !this.target.proxy) assertLoopback(req.target.base);
    const headers = new Headers(this.headers);
    if (req.target) headers.set("authorization", `Bearer ${req.target.token}`);
    let body: string | undefined;
    if (req.body !== undefined) {
      headers.set("content-type", "application/scim+json");
      body = JSON.stringify(req.body);
    }
    const started = performance.now();
    let status = 0;
    let text = "";
    try {
      const res = await fetch((req.target ?? this.target).base + req.path, {
        method: req.method,
        headers,
        body,
        signal: this.controller.signal,
        ...(this.target.proxy ? { client: proxyClient(this.target.proxy) } : {}),
      });
      status = res.status;
      text = await res.text();
    } catch (error) {
      if (this.stopped) throw new BudgetExhausted(this.stopped);
      text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    const ms = performance.now() - started;
    this.latencies.push(ms);
    if (tag !== undefined) this.tagged.push([tag, ms]);
    const error = status === 0 || status >= 400;
    if (error) {
      this.recordError(
        status,
        `${req.method} ${req.path.split("?")[0]} → ${status} ${text.slice(0, 200)}`,
      );
    }
    return { status, text, ms, error };
  }
}

/** The q-quantile (0..1) of sorted numbers. */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/**
 * Runs `tasks` with `limits.concurrency` in flight and returns the phase's statistics. Tasks are
 * created lazily from the iterable, so a phase never holds more than its in-flight work.
 */
export async function runPhase(
  phase: string,
  target: Target,
  tasks: Iterable<(client: Client) => Promise<void>>,
  limits: PhaseLimits,
): Promise<PhaseStats & { client: Client }> {
  const client = new Client(target, limits);
  const iterator = tasks[Symbol.iterator]();
  let failedTasks = 0;
  let unfinished = false;
  const started = performance.now();
  const worker = async () => {
    while (!client.stopReason) {
      const next = iterator.next();
      if (next.done) return;
      try {
        await next.value(client);
      } catch (error) {
        if (error instanceof BudgetExhausted) {
          unfinished = true;
          return;
        }
        failedTasks++;
      }
    }
    if (!iterator.next().done) unfinished = true;
  };
  await Promise.all(Array.from({ length: Math.max(1, limits.concurrency) }, worker));
  const wallMs = performance.now() - started;
  const sorted = [...client.latencies].sort((a, b) => a - b);
  const requests = sorted.length;
  return {
    phase,
    requests,
    errors: client.errors,
    wallMs,
    rps: requests ? requests / (wallMs / 1000) : 0,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean: requests ? sorted.reduce((a, b) => a + b, 0) / requests : 0,
    errorSamples: client.errorSamples,
    errorsByStatus: client.errorsByStatus,
    incomplete: unfinished || client.stopReason !== null,
    failedTasks,
    client,
  };
}
