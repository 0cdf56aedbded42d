/**
 * Re-applying attribute mirroring: a preview of a configuration on one user, and the resumable
 * "re-apply to all users" job that any instance may continue when its runner stops.
 * @module
 */
import { keys } from "./keys.ts";
import { counterValue, getManyBatched, withLockRetry } from "./kv.ts";
import { listIdps } from "./tenants.ts";
import type { IdpUser, MirroringConfig, User } from "./types.ts";
import { deriveUser, getMirroring } from "./mirroring.ts";
import { addEvent } from "./events.ts";
import { noteUserChange } from "./feed_notes.ts";

/** What a mirroring configuration makes of one IdP row: the canonical fields and their sources. */
export function previewMirroring(
  tenantId: string,
  link: IdpUser,
  config: MirroringConfig,
  previous: User | null,
): User {
  return deriveUser(link, config, tenantId, previous, previous?.updatedAt ?? link.lastModified);
}

/** Progress of the "re-apply mirroring to all users" job. */
export interface MirroringJob {
  id: string;
  state: "running" | "done";
  actor: string;
  startedAt: string;
  /** Updated after every batch; a stale heartbeat means the process running it stopped. */
  heartbeat: string;
  finishedAt?: string;
  /** Where the next batch starts. */
  cursor?: string;
  processed: number;
  changed: number;
  /** Users whose source IdP no longer holds a row for them (deleted by the IdP). */
  skipped: number;
  /** Estimate of the users to process (sum of the IdPs' linked-user counters). */
  total: number;
}

/** A job whose heartbeat is older than this is taken over by the next status read. */
export const JOB_STALE_MS = 30_000;
const JOB_BATCH = 100;

/** The tenant's current or last re-apply job. */
export async function getMirroringJob(kv: Deno.Kv, tenantId: string): Promise<MirroringJob | null> {
  return (await kv.get<MirroringJob>(keys.mirroringJob(tenantId))).value;
}

/** Whether a job is running in a live process. */
export function jobIsLive(job: MirroringJob | null, now = Date.now()): boolean {
  return !!job && job.state === "running" && now - Date.parse(job.heartbeat) < JOB_STALE_MS;
}

/** Starts a re-apply job, unless one is already running; returns the job. */
export async function startMirroringJob(
  kv: Deno.Kv,
  tenantId: string,
  actor: string,
): Promise<{ job: MirroringJob; started: boolean }> {
  const entry = await kv.get<MirroringJob>(keys.mirroringJob(tenantId));
  if (jobIsLive(entry.value)) return { job: entry.value!, started: false };
  const idps = await listIdps(kv, tenantId);
  const counters = await getManyBatched(
    kv,
    idps.map((i) => keys.counter(tenantId, "idp_users", i.id)),
  );
  const now = new Date().toISOString();
  const job: MirroringJob = {
    id: crypto.randomUUID(),
    state: "running",
    actor,
    startedAt: now,
    heartbeat: now,
    processed: 0,
    changed: 0,
    skipped: 0,
    total: counters.reduce((n, e) => n + counterValue(e), 0),
  };
  const res = await withLockRetry(() => kv.atomic().check(entry).set(entry.key, job).commit());
  if (!res.ok) {
    const current = await getMirroringJob(kv, tenantId);
    return { job: current!, started: false };
  }
  return { job, started: true };
}

/**
 * Takes over a running job whose heartbeat went stale (its process stopped): refreshes the
 * heartbeat with a check, so exactly one caller resumes it. Returns the job when claimed.
 */
export async function claimStalledJob(
  kv: Deno.Kv,
  tenantId: string,
): Promise<MirroringJob | null> {
  const entry = await kv.get<MirroringJob>(keys.mirroringJob(tenantId));
  const job = entry.value;
  if (!job || job.state !== "running" || jobIsLive(job)) return null;
  const claimed: MirroringJob = { ...job, heartbeat: new Date().toISOString() };
  const res = await withLockRetry(() => kv.atomic().check(entry).set(entry.key, claimed).commit());
  return res.ok ? claimed : null;
}

function sameCanonical(a: User, b: User): boolean {
  const strip = ({ updatedAt: _u, ...rest }: User) => JSON.stringify(rest);
  return strip(a) === strip(b);
}

/**
 * Runs (or resumes) a re-apply job to the end: re-derives each canonical user from its source
 * IdP's row with the current configuration, batch by batch. Each user is written with checks on
 * the user and the row it was derived from, so a concurrent SCIM write wins and is itself
 * derived with the same configuration. Progress is saved after every batch; another process
 * that finds the heartbeat stale resumes from the saved cursor. `hold` is awaited before each
 * batch and its result called after it (the instance's write gate: a point-in-time backup's
 * pause holds the job between batches).
 */
export async function runMirroringJob(
  kv: Deno.Kv,
  tenantId: string,
  jobId: string,
  hold: () => Promise<() => void> = () => Promise.resolve(() => {}),
): Promise<MirroringJob | null> {
  const config = await getMirroring(kv, tenantId);
  for (;;) {
    const leave = await hold();
    try {
      const outcome = await runBatch();
      if (outcome !== undefined) return outcome;
    } finally {
      leave();
    }
  }

  /** One batch: `undefined` while the job goes on, else the job as it ended. */
  async function runBatch(): Promise<MirroringJob | null | undefined> {
    const jobEntry = await kv.get<MirroringJob>(keys.mirroringJob(tenantId));
    const job = jobEntry.value;
    if (!job || job.id !== jobId || job.state !== "running") return job;
    const iter = kv.list<User>({ prefix: keys.users(tenantId) }, {
      cursor: job.cursor,
      limit: JOB_BATCH,
    });
    const users = await Array.fromAsync(iter);
    let changed = 0;
    let skipped = 0;
    for (const userEntry of users) {
      const user = userEntry.value;
      const linkEntry = await kv.get<IdpUser>(keys.idpUser(tenantId, user.sourceIdpId, user.id));
      if (!linkEntry.value) {
        skipped++;
        continue;
      }
      for (let attempt = 0; attempt < 3; attempt++) {
        const current = attempt === 0 ? userEntry : await kv.get<User>(userEntry.key);
        const link = attempt === 0 ? linkEntry : await kv.get<IdpUser>(linkEntry.key);
        if (!current.value || !link.value) break;
        const next = deriveUser(
          link.value,
          config,
          tenantId,
          current.value,
          new Date().toISOString(),
        );
        if (sameCanonical(current.value, next)) break;
        const op = kv.atomic().check(current).check(link).set(current.key, next);
        noteUserChange(kv, op, tenantId, {
          idpId: link.value.idpId,
          at: next.updatedAt,
          before: { user: current.value, row: link.value },
          after: { user: next, row: link.value },
        });
        const res = await withLockRetry(() => op.commit());
        if (res.ok) {
          changed++;
          break;
        }
      }
    }
    const done = users.length < JOB_BATCH;
    const now = new Date().toISOString();
    const next: MirroringJob = {
      ...job,
      heartbeat: now,
      cursor: users.length ? iter.cursor : job.cursor,
      processed: job.processed + users.length,
      changed: job.changed + changed,
      skipped: job.skipped + skipped,
    };
    if (done) {
      next.state = "done";
      next.finishedAt = now;
    }
    const op = kv.atomic().check(jobEntry).set(jobEntry.key, next);
    if (done) {
      addEvent(op, { tenantId, actor: job.actor }, {
        type: "mirroring_updated",
        target: { kind: "tenant", id: tenantId },
        counts: { processed: next.processed, changed: next.changed, skipped: next.skipped },
        summary: `Attribute mirroring re-applied to all users: ${next.changed} changed`,
      });
    }
    const res = await withLockRetry(() => op.commit());
    if (!res.ok) return await getMirroringJob(kv, tenantId); // taken over elsewhere
    if (done) return next;
    return undefined;
  }
}
