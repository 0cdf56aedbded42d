/**
 * This instance's side of the write pause (`lib/store/write_pause.ts`): a heartbeat in the store,
 * a watch on the pause record, the count of requests in flight that may write, and the
 * acknowledgement once they are done. Requests that may write wait at the gate while a pause
 * lasts ({@linkcode WriteGate.enter}).
 * @module
 */
import {
  acknowledgePause,
  beat,
  BEAT_TTL_MS,
  endBeat,
  getPause,
  livePause,
  watchPause,
  type WritePause,
} from "../store/write_pause.ts";
import { SCHEMA_VERSION } from "../store/migrations.ts";

/** How often the pause record is read besides the watch. */
const POLL_MS = 250;
import type { Logger } from "../log.ts";

/** What the HTTP layer needs of the gate. */
export interface WriteGate {
  /**
   * Waits until writes may go ahead (at most `maxWaitMs`), then counts the request as in flight:
   * returns the function that ends it, or null when the pause outlasted the wait.
   */
  enter(maxWaitMs: number): Promise<(() => void) | null>;
}

/** A gate that never holds anything (tests, and stores no backup coordinates). */
export const OPEN_GATE: WriteGate = {
  enter: () => Promise.resolve(() => {}),
};

/**
 * Enters the gate for background work (a job's batch): waits as long as a pause lasts, since no
 * client is waiting for an answer. Returns the function that ends it.
 */
export async function enterForBackground(gate: WriteGate): Promise<() => void> {
  for (;;) {
    const leave = await gate.enter(60_000);
    if (leave) return leave;
  }
}

/** The running gate of a serving instance. */
export interface InstanceGate extends WriteGate {
  instanceId: string;
  /** Stops the heartbeat and the watch and removes the heartbeat. */
  close(): Promise<void>;
}

/** Starts this instance's heartbeat and pause watch on `kv`. */
export function startWriteGate(kv: Deno.Kv, log: Logger): InstanceGate {
  const instanceId = crypto.randomUUID();
  const startedAt = new Date().toISOString();
  // Until the watch has said whether a pause is on, writes wait: an instance started during a
  // pause must not write before it knows.
  let known = false;
  let pause: WritePause | null = null;
  let inFlight = 0;
  let acked: string | null = null;
  let waiters: (() => void)[] = [];
  let closed = false;
  let expiry: ReturnType<typeof setTimeout> | undefined;

  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const paused = () => !known || livePause(pause) !== null;
  const maybeAck = () => {
    const p = livePause(pause);
    if (!p || inFlight > 0 || acked === p.id) return;
    acked = p.id;
    acknowledgePause(kv, p, instanceId).catch((error) => {
      acked = null;
      log.log("error", "cannot acknowledge the write pause", { error: String(error) });
    });
  };
  const setPause = (next: WritePause | null) => {
    const live = livePause(next);
    if (known && live?.id === pause?.id) return;
    known = true;
    pause = live;
    clearTimeout(expiry);
    if (pause) {
      log.log("info", "writes paused for a point-in-time backup", { until: pause.until });
      // A pause ends at its time even when its record lingers (expired records go lazily).
      expiry = setTimeout(() => setPause(null), Date.parse(pause.until) - Date.now());
      maybeAck();
    } else wake();
  };

  const renew = () =>
    beat(kv, {
      id: instanceId,
      startedAt,
      beatAt: new Date().toISOString(),
      schemaVersion: SCHEMA_VERSION,
    })
      .catch((error) =>
        log.log("warn", "cannot renew the instance heartbeat", { error: String(error) })
      );
  // The heartbeat is written before the watch starts, so a backup that lists instances after it
  // finds this one, and one that listed them before has written its pause before this watch began.
  const started = renew().then(async () => {
    const reader = watchPause(kv).getReader();
    stopWatch = () => reader.cancel().catch(() => {});
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || closed) break;
        setPause(value);
      }
    } catch (error) {
      if (!closed) log.log("error", "the write pause watch ended", { error: String(error) });
    }
  });
  let stopWatch = () => Promise.resolve();
  const timer = setInterval(renew, BEAT_TTL_MS / 3);
  // A watch on a local SQLite file does not see writes of other processes (the CLI's pause):
  // the record is also read every POLL_MS.
  const poll = setInterval(() => {
    getPause(kv).then((p) => !closed && setPause(p)).catch(() => {});
  }, POLL_MS);

  return {
    instanceId,
    async enter(maxWaitMs) {
      const deadline = Date.now() + maxWaitMs;
      while (paused()) {
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 1_000));
          waiters.push(() => (clearTimeout(t), resolve()));
        });
      }
      inFlight++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight--;
        maybeAck();
      };
    },
    async close() {
      closed = true;
      clearInterval(timer);
      clearInterval(poll);
      clearTimeout(expiry);
      await stopWatch();
      await started.catch(() => {});
      wake();
      await endBeat(kv, instanceId).catch(() => {});
    },
  };
}
