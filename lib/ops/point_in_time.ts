/**
 * The backup's side of a point-in-time copy: pause writes on every instance
 * (`lib/store/write_pause.ts`), wait until each live instance has acknowledged, run the copy, and
 * release the pause however the copy ends.
 * @module
 */
import {
  acknowledgements,
  liveInstances,
  releasePause,
  requestPause,
  type WritePause,
} from "../store/write_pause.ts";
import { plural } from "../words.ts";

/** Options of {@linkcode withWritePause}. */
export interface PauseOptions {
  /** Who pauses (shown to other operators). */
  by: string;
  /** How long the pause may last in all; the copy fails if it takes longer. */
  maxMs: number;
  /** How long to wait for every instance's acknowledgement. */
  ackTimeoutMs?: number;
  /** Told how many instances have acknowledged, while waiting. */
  onWait?: (acked: number, live: number) => void;
}

/** What the pause looked like once writes were held. */
export interface HeldPause {
  pause: WritePause;
  /** Instances that acknowledged. */
  instances: number;
  /** How long the acknowledgements took (ms). */
  waitedMs: number;
}

/**
 * Runs `fn` while every instance holds its writes. Throws, after releasing the pause, when an
 * instance does not acknowledge in time or when `fn` outlasts the pause.
 */
export async function withWritePause<T>(
  kv: Deno.Kv,
  options: PauseOptions,
  fn: (held: HeldPause) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const pause = await requestPause(kv, options.by, options.maxMs);
  try {
    const deadline = started + (options.ackTimeoutMs ?? 20_000);
    let live = await liveInstances(kv);
    for (;;) {
      const acked = await acknowledgements(kv, pause.id);
      live = await liveInstances(kv);
      const missing = live.filter((i) => !acked.has(i.id));
      options.onWait?.(live.length - missing.length, live.length);
      if (missing.length === 0) break;
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot take a point-in-time copy: ${missing.length} of ${
            plural(live.length, "instance")
          } did not hold their writes within ${
            Math.round((deadline - started) / 1000)
          } s (requests still running there)`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const result = await fn({ pause, instances: live.length, waitedMs: Date.now() - started });
    if (Date.now() >= Date.parse(pause.until)) {
      throw new Error(
        `Cannot complete the point-in-time copy: it took longer than the write pause allows (${
          Math.round(options.maxMs / 1000)
        } s); give a longer --pause-max`,
      );
    }
    return result;
  } finally {
    await releasePause(kv, pause);
  }
}
