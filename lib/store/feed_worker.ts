/**
 * The events feed's background worker: every {@linkcode FEED_POLL_MS} it lists the tenants whose
 * note commits marked them as waiting (`keys.feedPending`, one listing for any number of tenants;
 * every tenant's outbox once a minute besides) and runs their sequencer (`feed_sequencer.ts`), so events reach the feed
 * (and webhooks their deliveries) without anyone reading it. Any number of instances may run it on
 * one store: the sequencer's checked head serialises them. Nothing here is needed for
 * correctness — a feed read sequences first — and nothing depends on in-process state.
 * @module
 */
import { listTenants } from "./tenants.ts";
import { hasWaitingNotes, sequenceTenant } from "./feed_sequencer.ts";
import type { Logger } from "../log.ts";
import { keys } from "./keys.ts";

/** How often the worker looks for waiting notes. */
export const FEED_POLL_MS = 250;
/** How often every tenant's outbox is looked at, marked or not. */
const FULL_SCAN_MS = 60_000;

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
  let tenantsAt = 0;

  /** Sequences one tenant; true when its outbox was found empty afterwards. */
  async function drain(tenantId: string): Promise<boolean> {
    const leave = options.hold ? await options.hold() : () => {};
    try {
      await sequenceTenant(kv, tenantId, { maxRounds: 20 });
    } finally {
      leave();
    }
    return !(await hasWaitingNotes(kv, tenantId));
  }

  async function pass(): Promise<void> {
    // Every tenant now and then (a restored store has notes but no markers), else only the
    // tenants whose notes' commits marked them: one listing, however many tenants there are.
    if (Date.now() - tenantsAt > FULL_SCAN_MS) {
      tenantsAt = Date.now();
      for (const tenant of await listTenants(kv)) {
        if (stopped) return;
        if (await hasWaitingNotes(kv, tenant.id)) await drain(tenant.id);
      }
    }
    for await (const mark of kv.list<true>({ prefix: keys.feedPendings() })) {
      if (stopped) return;
      const tenantId = String(mark.key.at(-1));
      // A note committed after the marker was read changed its versionstamp: the check keeps it.
      if (await drain(tenantId)) {
        await kv.atomic().check(mark).delete(mark.key).commit();
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
