/**
 * The webhook delivery worker: polls the due index of every tenant with endpoints (every
 * `pollMs`, and at once when this process adds deliveries), leases each due delivery (so several
 * instances on one store never run the same attempt at once), checks the URL against the SSRF
 * guard again, sends, and records the attempt with its next retry (`schedule.ts`).
 *
 * A slow or dead endpoint cannot hold up the rest: attempts run with a timeout, at most
 * `perEndpoint` at once per endpoint and `concurrency` in all, off the request path (SCIM
 * requests only commit deliveries; they never wait for one). Deno KV queues are not used: KV
 * Connect stores do not support them.
 *
 * The store work is shared: an endpoint's due deliveries are claimed together (one atomic
 * operation for the first attempts of feed events), the attempts that end together are recorded
 * together, and scans reuse the list of endpoints read within the poll interval (each batch
 * reads its endpoint's record, so an edit, a rotation or a disable applies from the next). While the
 * instance is answering requests (`busy`), deliveries yield: an endpoint claims its next batch
 * only `busyPauseMs` after the previous one, so a burst of provisioning keeps its speed and its
 * deliveries lag behind it, draining at full speed once it ends.
 * @module
 */
import type { Logger } from "../log.ts";
import {
  claimDeliveries,
  type ClaimedDelivery,
  finishAttempts,
  type FinishResult,
  listDue,
  onDeliveriesAdded,
} from "../store/webhook_deliveries.ts";
import {
  getEndpointRecord,
  listEndpointRecords,
  listWebhookTenants,
  rebuildWebhookTenants,
  type WebhookEndpoint,
} from "../store/webhooks.ts";
import { type AttemptOptions, runClaimed } from "./attempt.ts";
import { AUTO_DISABLE_AFTER_MS } from "./schedule.ts";

/** Options of {@linkcode startWebhookWorker}. */
export interface WorkerOptions {
  log: Logger;
  allowPrivate: boolean;
  timeoutMs: number;
  /** How often the due index is read (ms; default 500). */
  pollMs?: number;
  /** Attempts at once in this instance (default 32). */
  concurrency?: number;
  /** Attempts at once per endpoint in this instance (default 8). */
  perEndpoint?: number;
  /** How long a claimed attempt is leased (default: the timeout + 30 s). */
  leaseMs?: number;
  /** The clock of the schedule (tests move it; signatures carry the real time). */
  now?: () => number;
  /** Jitter source (tests fix it). */
  random?: () => number;
  /** DNS resolution for the SSRF guard (tests). */
  resolve?: (host: string) => Promise<string[]>;
  /** This instance's name in leases (default: a random id). */
  holder?: string;
  /** How long endpoint failures last before it is disabled (default 5 days). */
  disableAfterMs?: number;
  /**
   * Whether this instance is answering requests now. While it is, deliveries yield to them: an
   * endpoint's next batch of claims waits `busyPauseMs` after the previous one, so a burst of
   * provisioning is not slowed by its own webhooks (the backlog drains at full speed after).
   */
  busy?: () => boolean;
  /** The wait between an endpoint's batches while busy (ms; default 50). */
  busyPauseMs?: number;
}

/** A running worker. */
export interface WebhookWorker {
  /** Reads the due index now and starts the attempts due (the poll's own step). */
  tick(): Promise<void>;
  /** Resolves once no attempt is in flight (tests). */
  idle(): Promise<void>;
  /** Asks for a read of the due index soon (deliveries were just added). */
  nudge(): void;
  /** Attempts in flight. */
  inFlight(): number;
  /** Stops polling and waits for the attempts in flight (at most their timeout). */
  stop(): Promise<void>;
}

/** Starts the worker on `kv`. */
export function startWebhookWorker(kv: Deno.Kv, options: WorkerOptions): WebhookWorker {
  const pollMs = options.pollMs ?? 500;
  const concurrency = options.concurrency ?? 32;
  const perEndpoint = options.perEndpoint ?? 8;
  const leaseMs = options.leaseMs ?? options.timeoutMs + 30_000;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const holder = options.holder ?? crypto.randomUUID();
  const disableAfterMs = options.disableAfterMs ?? AUTO_DISABLE_AFTER_MS;
  const busy = options.busy ?? (() => false);
  const busyPauseMs = options.busyPauseMs ?? 50;
  /** While busy: when each endpoint may claim its next batch (performance.now()). */
  const paced = new Map<string, number>();
  const log = options.log;
  // Attempts that end while a record of others is being committed are recorded together, in
  // one atomic operation (a group commit): under load one commit records many attempts.
  let finishing: { claimed: ClaimedDelivery; result: FinishResult; done: (ok: boolean) => void }[] =
    [];
  let recording: Promise<void> | null = null;
  const recordFinishes = async () => {
    while (finishing.length) {
      const taken = finishing;
      finishing = [];
      try {
        const ok = await finishAttempts(kv, taken);
        taken.forEach((t, i) => t.done(ok[i]));
      } catch (error) {
        log.log("warn", "webhooks: attempts could not be recorded; they run again", {
          error: String(error),
        });
        taken.forEach((t) => t.done(false));
      }
    }
    recording = null;
  };
  const finish = (claimed: ClaimedDelivery, result: FinishResult) =>
    new Promise<boolean>((done) => {
      finishing.push({ claimed, result, done });
      recording ??= recordFinishes();
    });

  const attemptOptions: AttemptOptions = {
    log,
    allowPrivate: options.allowPrivate,
    timeoutMs: options.timeoutMs,
    leaseMs,
    holder,
    now,
    random,
    resolve: options.resolve,
    disableAfterMs,
    finish,
  };

  // The tenants with endpoints and their endpoints, as last read: scans reuse the list for up to
  // a poll interval, then read it again (each batch reads its endpoint's record itself).
  let known: { at: number; endpoints: WebhookEndpoint[] } | null = null;
  const endpointsNow = async (fresh: boolean): Promise<WebhookEndpoint[]> => {
    if (!fresh && known && performance.now() - known.at < pollMs) return known.endpoints;
    const endpoints: WebhookEndpoint[] = [];
    for (const tenantId of await listWebhookTenants(kv)) {
      endpoints.push(...await listEndpointRecords(kv, tenantId));
    }
    known = { at: performance.now(), endpoints };
    return endpoints;
  };

  const running = new Map<string, Promise<unknown>>();
  const byEndpoint = new Map<string, number>();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticking: Promise<void> | null = null;
  let again = false;

  // Whether the next scan must read the endpoints again (a nudge, an explicit tick, the start).
  let freshScan = true;
  // The next scan: the earliest that anything asked for.
  let timerAt = Infinity;
  const schedule = (ms: number, fresh = true) => {
    if (stopped) return;
    freshScan ||= fresh;
    const at = performance.now() + ms;
    if (at >= timerAt) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(loop, ms);
  };

  async function loop() {
    timerAt = Infinity;
    await tick();
    // The poll: endpoints read longer than a poll interval ago are read again by the scan.
    schedule(pollMs, false);
  }

  function tick(): Promise<void> {
    if (ticking) {
      again = true;
      return ticking;
    }
    ticking = (async () => {
      do {
        again = false;
        const fresh = freshScan;
        freshScan = false;
        try {
          await scan(fresh);
        } catch (error) {
          log.log("warn", "webhooks: cannot read the due deliveries; retrying", {
            error: String(error),
          });
        }
      } while (again && !stopped && running.size < concurrency);
    })().finally(() => ticking = null);
    return ticking;
  }

  async function scan(fresh: boolean): Promise<void> {
    if (stopped) return;
    for (const endpoint of await endpointsNow(fresh)) {
      const endpointKey = `${endpoint.tenantId}/${endpoint.id}`;
      const free = Math.min(
        concurrency - running.size,
        perEndpoint - (byEndpoint.get(endpointKey) ?? 0),
      );
      if (stopped || running.size >= concurrency) return;
      if (free <= 0) continue;
      const wait = (paced.get(endpointKey) ?? 0) - performance.now();
      if (wait > 0 && busy()) {
        schedule(Math.ceil(wait), false);
        continue;
      }
      const due = (await listDue(kv, endpoint.tenantId, endpoint.id, now(), free))
        .filter((item) => !running.has(`${endpointKey}/${item.eventId}`));
      if (!due.length) continue;
      // The endpoint as it is now (URL, secrets, enabled), read once per batch: an edit, a
      // rotation or a disable applies from the next batch on.
      const current = fresh
        ? endpoint
        : await getEndpointRecord(kv, endpoint.tenantId, endpoint.id);
      if (!current) continue;
      const claimed = await claimDeliveries(kv, due, { holder, leaseMs, now: now() });
      if (claimed.length) paced.set(endpointKey, performance.now() + busyPauseMs);
      for (const c of claimed) start(c, endpointKey, current);
    }
  }

  function start(claimed: ClaimedDelivery, endpointKey: string, endpoint: WebhookEndpoint): void {
    const d = claimed.delivery;
    const id = `${endpointKey}/${d.eventId}`;
    byEndpoint.set(endpointKey, (byEndpoint.get(endpointKey) ?? 0) + 1);
    const p = runClaimed(kv, claimed, attemptOptions, endpoint).catch((error) => {
      log.log("warn", "webhooks: an attempt could not be recorded; it runs again", {
        tenantId: d.tenantId,
        endpointId: d.endpointId,
        eventId: d.eventId,
        error: String(error),
      });
    }).finally(() => {
      running.delete(id);
      const n = (byEndpoint.get(endpointKey) ?? 1) - 1;
      if (n) byEndpoint.set(endpointKey, n);
      else byEndpoint.delete(endpointKey);
      // Slots are free: look for more once half of the endpoint's are (claims come in batches;
      // attempts ending together share one scan), and at once when the worker is idle.
      if (!stopped && (n <= perEndpoint / 2 || running.size === 0)) schedule(1, false);
    });
    running.set(id, p);
  }

  // Deliveries committed here: their endpoints were read within a poll interval (a new one's
  // first deliveries wait at most for the poll).
  const unsubscribe = onDeliveriesAdded(() => schedule(0, false));
  // A store restored tenant by tenant may lack the registry of tenants with endpoints.
  rebuildWebhookTenants(kv).catch((error) =>
    log.log("warn", "webhooks: cannot rebuild the list of tenants with endpoints", {
      error: String(error),
    })
  ).finally(() => schedule(0));

  return {
    tick: () => {
      freshScan = true;
      return tick();
    },
    nudge: () => schedule(0),
    inFlight: () => running.size,
    async idle() {
      while (running.size || ticking) await Promise.allSettled([...running.values(), ticking]);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
      const wait = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, options.timeoutMs + 1_000);
        Promise.allSettled([...running.values(), ticking]).then(() => {
          clearTimeout(t);
          resolve();
        });
      });
      await wait;
    },
  };
}
