/**
 * Stopping an instance gracefully. On SIGTERM `deno serve` stops accepting connections and lets
 * the requests it has finish, with no time limit; Weft adds what a supervisor expects around
 * that: `/readyz` answers `503` at once (a load balancer stops sending), the requests in flight are
 * counted down, then the stop hooks run (the write gate's heartbeat is removed, leases are
 * released, the store is closed) — and if the requests have not finished within the grace
 * period (`WEFT_SHUTDOWN_GRACE_SECONDS`), the process exits anyway with status 1.
 * @module
 */
import type { Logger } from "../log.ts";

/** A request handler as `deno serve` calls it. */
export type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** An instance's life: requests in flight and what to do when it stops. */
export interface Lifecycle {
  /** Wraps the handler: counts requests, and answers `/readyz` with 503 while stopping. */
  wrap(handler: () => Handler): Handler;
  /** Adds a hook run once the requests in flight have finished (last added, first run). */
  onStop(hook: () => Promise<void> | void): void;
  /** Starts stopping (what SIGTERM does); resolves when the hooks have run. */
  stop(): Promise<void>;
  /** Whether the instance is stopping. */
  stopping(): boolean;
  /** Requests being answered now. */
  inFlight(): number;
}

/** Options of {@linkcode createLifecycle}. */
export interface LifecycleOptions {
  graceMs: number;
  log: Logger;
  /** Called when the grace period ends with requests still running (default: exit 1). */
  onGraceExceeded?: (inFlight: number) => void;
}

/** Creates the lifecycle; {@linkcode listenForSigterm} connects it to the signal. */
export function createLifecycle(options: LifecycleOptions): Lifecycle {
  const hooks: (() => Promise<void> | void)[] = [];
  let inFlight = 0;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let drained: () => void = () => {};
  const exceeded = options.onGraceExceeded ?? (() => Deno.exit(1));

  const runHooks = async () => {
    for (const hook of hooks.reverse()) {
      try {
        await hook();
      } catch (error) {
        options.log.log("error", "a stop hook failed", { error: String(error) });
      }
    }
  };

  return {
    wrap(handler) {
      return async function serveCounted(request, info) {
        if (stopping && new URL(request.url).pathname === "/readyz") {
          return Response.json({ ok: false, detail: "This instance is stopping" }, { status: 503 });
        }
        inFlight++;
        try {
          return await handler()(request, info);
        } finally {
          inFlight--;
          if (stopping && inFlight === 0) drained();
        }
      };
    },
    onStop(hook) {
      hooks.push(hook);
    },
    stopping: () => stopping,
    inFlight: () => inFlight,
    stop() {
      if (stopped) return stopped;
      stopping = true;
      options.log.log("info", "stopping: finishing the requests in flight", { inFlight });
      const grace = setTimeout(() => {
        options.log.log("error", "stopping: the grace period ended with requests in flight", {
          inFlight,
          graceMs: options.graceMs,
        });
        exceeded(inFlight);
      }, options.graceMs);
      Deno.unrefTimer(grace);
      stopped = new Promise<void>((resolve) => {
        drained = resolve;
        if (inFlight === 0) resolve();
      }).then(async () => {
        clearTimeout(grace);
        await runHooks();
        options.log.log("info", "stopped: every request in flight finished");
      });
      return stopped;
    },
  };
}

/**
 * Stops the lifecycle on SIGTERM (and SIGINT), then exits once the hooks have run and the server
 * has sent its last answers. Platforms without signals (Deno Deploy) stop instances themselves.
 */
export function listenForSigterm(lifecycle: Lifecycle): void {
  const onSignal = () => {
    lifecycle.stop().then(() => {
      // `deno serve` exits by itself once its last answer is sent; this is the backstop.
      const t = setTimeout(() => Deno.exit(0), 2_000);
      Deno.unrefTimer(t);
    });
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    try {
      Deno.addSignalListener(signal, onSignal);
    } catch {
      // No signals here.
    }
  }
}
