/**
 * The write pause of a point-in-time backup, coordinated through the store so every instance
 * honours it, wherever it runs. The protocol:
 *
 * 1. Every serving instance keeps a heartbeat record (`meta/instances/<id>`, expiring unless
 *    renewed) and watches the pause record.
 * 2. The backup writes the pause record (`meta/write_pause`: an id and the time it ends at the
 *    latest; it expires then too, so a backup that dies never holds writes for long).
 * 3. Each instance holds new requests that may write, waits for those in flight to finish, then
 *    acknowledges the pause (`meta/write_pause_acks/<pause>/<instance>`).
 * 4. Once every live instance has acknowledged, nothing writes directory data: the backup reads
 *    the store, then deletes the pause record, and the instances let the held requests through.
 * @module
 */
import { keys } from "./keys.ts";
import { withLockRetry } from "./kv.ts";

/** A write pause as stored. */
export interface WritePause {
  id: string;
  requestedAt: string;
  /** When the pause ends at the latest (ISO), whether or not it is released. */
  until: string;
  by: string;
}

/** A running instance's heartbeat. */
export interface InstanceBeat {
  id: string;
  startedAt: string;
  beatAt: string;
  /** The schema version its code reads and writes. */
  schemaVersion: number;
}

/** How long a heartbeat lives without renewal. */
export const BEAT_TTL_MS = 15_000;

/** Writes (or renews) an instance's heartbeat. */
export async function beat(kv: Deno.Kv, instance: InstanceBeat): Promise<void> {
  await withLockRetry(() =>
    kv.set(keys.instance(instance.id), instance, { expireIn: BEAT_TTL_MS })
  );
}

/** Removes an instance's heartbeat (it is stopping). */
export async function endBeat(kv: Deno.Kv, instanceId: string): Promise<void> {
  await withLockRetry(() => kv.delete(keys.instance(instanceId)));
}

/** The live instances' heartbeats (a heartbeat past its time is not live, deleted or not yet). */
export async function liveInstances(kv: Deno.Kv, now = Date.now()): Promise<InstanceBeat[]> {
  const out: InstanceBeat[] = [];
  for await (const e of kv.list<InstanceBeat>({ prefix: keys.instances() })) {
    if (Date.parse(e.value.beatAt) + BEAT_TTL_MS > now) out.push(e.value);
  }
  return out;
}

/** Thrown when a pause cannot be taken: another one holds the store. */
export class PauseTakenError extends Error {
  constructor(pause: WritePause) {
    super(
      `Cannot pause writes: another write pause (by ${pause.by}) holds the store until ${pause.until}`,
    );
    this.name = "PauseTakenError";
  }
}

/** Writes a pause record lasting at most `maxMs`; refuses while another pause is live. */
export async function requestPause(kv: Deno.Kv, by: string, maxMs: number): Promise<WritePause> {
  const now = Date.now();
  const pause: WritePause = {
    id: crypto.randomUUID(),
    requestedAt: new Date(now).toISOString(),
    until: new Date(now + maxMs).toISOString(),
    by,
  };
  const current = await kv.get<WritePause>(keys.writePause());
  if (current.value && Date.parse(current.value.until) > now) {
    throw new PauseTakenError(current.value);
  }
  const res = await withLockRetry(() =>
    kv.atomic().check(current).set(keys.writePause(), pause, { expireIn: maxMs }).commit()
  );
  if (!res.ok) {
    const taken = (await kv.get<WritePause>(keys.writePause())).value;
    if (taken) throw new PauseTakenError(taken);
  }
  return pause;
}

/** Ends a pause (only that pause: a later one is left alone). */
export async function releasePause(kv: Deno.Kv, pause: WritePause): Promise<void> {
  const current = await kv.get<WritePause>(keys.writePause());
  if (current.value?.id !== pause.id) return;
  await withLockRetry(() => kv.atomic().check(current).delete(keys.writePause()).commit());
}

/** The pause in force now, if any (one past its time is over, deleted or not). */
export function livePause(pause: WritePause | null, now = Date.now()): WritePause | null {
  return pause && Date.parse(pause.until) > now ? pause : null;
}

/** The pause record as stored now. */
export async function getPause(kv: Deno.Kv): Promise<WritePause | null> {
  return (await kv.get<WritePause>(keys.writePause())).value;
}

/** Watches the pause record: the current value at once, then every change. */
export function watchPause(kv: Deno.Kv): ReadableStream<WritePause | null> {
  return kv.watch<[WritePause]>([keys.writePause()]).pipeThrough(
    new TransformStream<[Deno.KvEntryMaybe<WritePause>], WritePause | null>({
      transform([entry], controller) {
        controller.enqueue(entry.value);
      },
    }),
  );
}

/** Records that an instance holds its writes for a pause. */
export async function acknowledgePause(
  kv: Deno.Kv,
  pause: WritePause,
  instanceId: string,
): Promise<void> {
  const left = Math.max(1_000, Date.parse(pause.until) - Date.now());
  await withLockRetry(() =>
    kv.set(keys.writePauseAck(pause.id, instanceId), new Date().toISOString(), { expireIn: left })
  );
}

/** The instances that acknowledged a pause. */
export async function acknowledgements(kv: Deno.Kv, pauseId: string): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of kv.list({ prefix: keys.writePauseAcks(pauseId) })) {
    out.add(String(e.key[3]));
  }
  return out;
}
