/**
 * Deleting an IdP connection, as a resumable job. Starting it marks the connection as being
 * deleted (its SCIM requests are refused from then on) and records the job; the job then, batch by
 * batch, deprovisions each of its users as a SCIM DELETE would (unlinked from this connection,
 * deactivated, out of its groups, sign-in sessions ended; the canonical record and its history
 * stay), deletes its groups with their memberships, its tokens, and the records it owns
 * (`keys.idpOwned`), then the connection itself, with an `idp_deleted` event. Progress is saved
 * after every batch; when the process running it stops, the next status read anywhere takes it
 * over from the saved phase.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { counterValue, withLockRetry } from "./kv.ts";
import type { ChangeContext, Idp } from "./types.ts";
import { addEvent } from "./events.ts";
import { deleteUser } from "./users.ts";
import { deleteGroup } from "./groups.ts";
import { ScimError } from "../scim/errors.ts";
import { dropRequestIdIndex, flushRequestLog } from "./request_log.ts";

/** Where a deletion is. */
export type DeletionPhase = "users" | "groups" | "tokens" | "records" | "done";

/** Progress of an IdP connection's deletion. */
export interface IdpDeletion {
  id: string;
  idpId: string;
  idpName: string;
  /** The connection's matching rule: its users are deprovisioned under it. */
  matchBy: Idp["matchBy"];
  phase: DeletionPhase;
  actor: string;
  startedAt: string;
  /** Updated after every batch; a stale heartbeat means the process running it stopped. */
  heartbeat: string;
  finishedAt?: string;
  users: { total: number; done: number };
  groups: { total: number; done: number };
  tokens: number;
}

/** What deleting a connection will do, shown before it starts. */
export interface DeletionImpact {
  users: number;
  groups: number;
  tokens: number;
}

/** A job whose heartbeat is older than this is taken over by the next status read. */
export const DELETION_STALE_MS = 30_000;
const BATCH = 50;

/** What deleting the connection touches. */
export async function deletionImpact(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<DeletionImpact> {
  const [users, groups] = await kv.getMany([
    keys.counter(tenantId, "idp_users", idpId),
    keys.counter(tenantId, "groups", idpId),
  ]);
  let tokens = 0;
  for await (const _ of kv.list({ prefix: keys.idpTokens(tenantId, idpId) })) tokens++;
  return { users: counterValue(users), groups: counterValue(groups), tokens };
}

/** The connection's deletion job, if one was started (it stays readable once done). */
export async function getIdpDeletion(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<IdpDeletion | null> {
  if (!fitsKey(idpId)) return null;
  return (await kv.get<IdpDeletion>(keys.idpDeletion(tenantId, idpId))).value;
}

/** Whether a deletion is running in a live process. */
export function deletionIsLive(job: IdpDeletion | null, now = Date.now()): boolean {
  return !!job && job.phase !== "done" && now - Date.parse(job.heartbeat) < DELETION_STALE_MS;
}

/**
 * Starts deleting a connection: marks it as being deleted and records the job, with an
 * `idp_deletion_started` event, in one operation. Returns the job (the running one when it had
 * started already).
 */
export async function startIdpDeletion(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  actor: string,
): Promise<IdpDeletion> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [idpEntry, jobEntry] = await kv.getMany<[Idp, IdpDeletion]>([
      keys.idp(tenantId, idpId),
      keys.idpDeletion(tenantId, idpId),
    ]);
    if (jobEntry.value && jobEntry.value.phase !== "done") return jobEntry.value;
    const idp = idpEntry.value;
    if (!idp) throw new RangeError(`IdP "${idpId}" does not exist`);
    const impact = await deletionImpact(kv, tenantId, idpId);
    const now = new Date().toISOString();
    const job: IdpDeletion = {
      id: crypto.randomUUID(),
      idpId,
      idpName: idp.name,
      matchBy: idp.matchBy,
      phase: "users",
      actor,
      startedAt: now,
      heartbeat: now,
      users: { total: impact.users, done: 0 },
      groups: { total: impact.groups, done: 0 },
      tokens: 0,
    };
    const op = kv.atomic()
      .check(idpEntry)
      .check(jobEntry)
      .set(idpEntry.key, { ...idp, deletingSince: now } satisfies Idp)
      .set(jobEntry.key, job);
    addEvent(op, { tenantId, actor, idpId }, {
      type: "idp_deletion_started",
      target: { kind: "idp", id: idpId },
      counts: { ...impact },
      summary: `Deletion of IdP connection "${idp.name}" started`,
    });
    if ((await withLockRetry(() => op.commit())).ok) return job;
  }
  throw new RangeError("Cannot start the deletion: the connection is being changed, try again");
}

/**
 * Takes over a deletion whose heartbeat went stale (its process stopped): refreshes the
 * heartbeat with a check, so exactly one caller resumes it. Returns the job when claimed.
 */
export async function claimStalledDeletion(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<IdpDeletion | null> {
  if (!fitsKey(idpId)) return null;
  const entry = await kv.get<IdpDeletion>(keys.idpDeletion(tenantId, idpId));
  const job = entry.value;
  if (!job || job.phase === "done" || deletionIsLive(job)) return null;
  const claimed: IdpDeletion = { ...job, heartbeat: new Date().toISOString() };
  const res = await withLockRetry(() => kv.atomic().check(entry).set(entry.key, claimed).commit());
  return res.ok ? claimed : null;
}

async function firstIds(kv: Deno.Kv, prefix: Deno.KvKey): Promise<string[]> {
  const rows = await Array.fromAsync(kv.list({ prefix }, { limit: BATCH }));
  return rows.map((r) => String(r.key.at(-1)));
}

/** One batch of the current phase; how many it handled (0: the phase is finished). */
async function step(kv: Deno.Kv, tenantId: string, job: IdpDeletion): Promise<number> {
  const ctx: ChangeContext = {
    tenantId,
    idpId: job.idpId,
    actor: job.actor,
    requestId: `idp-deletion-${job.id}`,
    clientIp: "",
    matchBy: job.matchBy,
  };
  const ignoreGone = (error: unknown) => {
    // Already gone: a concurrent run of this job, or the IdP's own DELETE, got there first.
    if (error instanceof ScimError && error.status === 404) return;
    throw error;
  };
  switch (job.phase) {
    case "users": {
      const ids = await firstIds(kv, keys.idpUsers(tenantId, job.idpId));
      for (const id of ids) {
        await deleteUser(kv, ctx, id).catch(ignoreGone);
      }
      return ids.length;
    }
    case "groups": {
      const ids = await firstIds(kv, keys.groups(tenantId, job.idpId));
      for (const id of ids) await deleteGroup(kv, ctx, id).catch(ignoreGone);
      return ids.length;
    }
    case "tokens": {
      const rows = await Array.fromAsync(
        kv.list<string>({ prefix: keys.idpTokens(tenantId, job.idpId) }, { limit: BATCH }),
      );
      const op = kv.atomic();
      for (const r of rows) {
        op.delete(r.key);
        op.delete(keys.token(tenantId, r.value));
        op.delete(keys.tokenLastUsed(tenantId, r.value));
      }
      if (rows.length) await withLockRetry(() => op.commit());
      return rows.length;
    }
    case "records": {
      // Requests answered while the deletion ran are logged too; the log's request-id index is
      // keyed by request, so it goes entry by entry. (Another instance may still log a request
      // or two afterwards: they expire with the log.)
      await flushRequestLog(kv);
      await dropRequestIdIndex(kv, tenantId, job.idpId);
      const owned = keys.idpOwned(tenantId, job.idpId);
      let n = 0;
      for (const prefix of owned.prefixes) {
        const rows = await Array.fromAsync(kv.list({ prefix }, { limit: 500 }));
        for (let i = 0; i < rows.length; i += 500) {
          const op = kv.atomic();
          for (const r of rows.slice(i, i + 500)) op.delete(r.key);
          await withLockRetry(() => op.commit());
        }
        n += rows.length;
      }
      return n;
    }
    case "done":
      return 0;
  }
}

const NEXT: Record<DeletionPhase, DeletionPhase> = {
  users: "groups",
  groups: "tokens",
  tokens: "records",
  records: "done",
  done: "done",
};

/**
 * Runs (or resumes) a deletion to the end. Every batch is idempotent, so a batch repeated after a
 * takeover changes nothing twice; the connection goes in the last operation, with its event.
 */
export async function runIdpDeletion(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  jobId: string,
): Promise<IdpDeletion | null> {
  for (;;) {
    const jobEntry = await kv.get<IdpDeletion>(keys.idpDeletion(tenantId, idpId));
    const job = jobEntry.value;
    if (!job || job.id !== jobId || job.phase === "done") return job;
    const handled = await step(kv, tenantId, job);
    const now = new Date().toISOString();
    const next: IdpDeletion = { ...job, heartbeat: now };
    if (job.phase === "users") next.users = { ...job.users, done: job.users.done + handled };
    if (job.phase === "groups") next.groups = { ...job.groups, done: job.groups.done + handled };
    if (job.phase === "tokens") next.tokens = job.tokens + handled;
    const phaseOver = job.phase === "records" || handled === 0;
    if (phaseOver) next.phase = NEXT[job.phase];
    const op = kv.atomic().check(jobEntry).set(jobEntry.key, next);
    if (next.phase === "done") {
      next.finishedAt = now;
      const owned = keys.idpOwned(tenantId, idpId);
      for (const key of owned.keys) op.delete(key);
      op.delete(keys.idp(tenantId, idpId));
      addEvent(op, { tenantId, actor: job.actor, idpId }, {
        type: "idp_deleted",
        target: { kind: "idp", id: idpId },
        counts: { users: next.users.done, groups: next.groups.done, tokens: next.tokens },
        summary: `IdP connection "${job.idpName}" deleted`,
      });
    }
    const res = await withLockRetry(() => op.commit());
    if (!res.ok) return await getIdpDeletion(kv, tenantId, idpId); // taken over elsewhere
    if (next.phase === "done") return next;
  }
}

/** The deletions of a tenant's connections that are still running or were left by a crash. */
export async function pendingDeletions(kv: Deno.Kv, tenantId: string): Promise<IdpDeletion[]> {
  const rows = await Array.fromAsync(
    kv.list<IdpDeletion>({ prefix: keys.idpDeletion(tenantId, "").slice(0, -1) }),
  );
  return rows.map((r) => r.value).filter((j) => j.phase !== "done");
}
