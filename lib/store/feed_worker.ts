/**
 * The events feed's background worker: every {@linkcode FEED_POLL_MS} it looks for tenants with
 * waiting outbox notes and runs their sequencer (`feed_sequencer.ts`), so events reach the feed
 * (and webhooks their deliveries) without anyone reading it. Any number of instances may run it on
 * one store: the sequencer's checked head serialises them. Nothing here is needed for
 * correctness — a feed read sequences first — and nothing depends on in-process state.
 * @module
 */
import { listTenants } from "./tenants.ts";
import { hasWaitingNotes, sequenceTenant } from "./feed_sequencer.ts";
import type { Logger } from "../log.ts";
import type { Tenant } from "./types.ts";

/** How often the worker looks for waiting notes. */
export const FEED_POLL_MS = 250;
/** How often the tenant list is read again. */
const TENANTS_MS = 5_000;

/** A running worker. */
export interface FeedWorker {
  /** Stops polling and waits for the round in flight. */
  close(): Promise<void>;
}

/** Options of {@linkcode startFeedWorker}. */
export interface FeedWorkerOptions {
  log: Logger;
  pollMs?: number;
  /** Awaited before each pass; its result called after (the instance's write gate). */
  hold?: () => Promise<() => void>;
}

/** Starts draining every tenant's outbox on `kv`. */
export function startFeedWorker(kv: Deno.Kv, options: FeedWorkerOptions): FeedWorker {
  const pollMs = options.pollMs ?? FEED_POLL_MS;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let tenants: Tenant[] = [];
  let tenantsAt = 0;

  async function pass(): Promise<void> {
    if (Date.now() - tenantsAt > TENANTS_MS) {
      tenants = await listTenants(kv);
      tenantsAt = Date.now();
    }
    for (const tenant of tenants) {
      if (stopped) return;
      if (!(await hasWaitingNotes(kv, tenant.id))) continue;
      const leave = options.hold ? await options.hold() : () => {};
      try {
        await sequenceTenant(kv, tenant.id, { maxRounds: 20 });
      } finally {
        leave();
      }
    }
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = pass().catch((error) => {
        // Ids only: a note or event never goes to the log.
        options.log.log("warn", "events feed: sequencing failed; retrying", {
          error: error instanceof Error ? error.message : String(error),
        });
      }).finally(schedule);
    }, pollMs);
  }
  schedule();
  return {
    async close() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
