/**
 * Read models for the admin console: users and groups with search and paging, per-IdP
 * dashboard figures, hourly activity, a user's groups across IdPs, and the "re-apply attribute
 * mirroring to all users" job. Every list is bounded: searches use the per-IdP userName, email
 * and displayName indexes (prefix ranges), other filters examine at most a fixed number of
 * records per page and hand back a cursor to continue.
 * @module
 */
import { decodeTime, encodeTime } from "ulid";
import { keys } from "./keys.ts";
import {
  counterValue,
  fromCursor,
  getManyBatched,
  InvalidCursorError,
  withLockRetry,
} from "./kv.ts";
import type { Group, Idp, IdpUser, MirroringConfig, User } from "./types.ts";
import { listIdps } from "./tenants.ts";
import { deriveUser, getMirroring } from "./mirroring.ts";
import { listUserGroupIds } from "./users.ts";
import { countMembers } from "./groups.ts";
import { listAuthFailures } from "../auth/scim_auth.ts";
import { addEvent, type AuditEvent, listEvents } from "../audit/events.ts";

/** Most records one console page examines when a filter cannot use an index. */
export const PAGE_SCAN_LIMIT = 5000;
/** Most ids a search collects from the indexes. */
const SEARCH_LIMIT = 1000;

/** Console user list query. */
export interface UserListQuery {
  /** Prefix of userName or email (case-insensitive), or a user id. */
  q?: string;
  status?: "active" | "deactivated";
  idpId?: string;
  cursor?: string;
  limit?: number;
}

/** One page of users. */
export interface UserPage {
  users: User[];
  cursor?: string;
  /** True when the page stopped at the scan bound before filling: continue with the cursor. */
  partial: boolean;
}

function encodeOffset(n: number): string {
  return `o${n}`;
}

function decodeOffset(cursor: string | undefined): number {
  if (cursor === undefined || cursor === "") return 0;
  const m = /^o(\d{1,7})$/.exec(cursor);
  if (!m) throw new InvalidCursorError();
  return Number(m[1]);
}

/** A `[start, end)` range of all keys under `prefix` whose next part starts with `text`. */
function prefixRange(prefix: Deno.KvKey, text: string): Deno.KvListSelector {
  return { start: [...prefix, text], end: [...prefix, text + "\uffff"] };
}

/** Users of the tenant, newest-id order, filtered and paged. */
export async function listDirectoryUsers(
  kv: Deno.Kv,
  tenantId: string,
  query: UserListQuery,
): Promise<UserPage> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const keep = (u: User) => !query.status || u.status === query.status;
  const q = query.q?.trim().toLowerCase();
  if (q) return await searchUsers(kv, tenantId, q, query, limit, keep);

  // Without a search: walk the IdP's linked users, or all canonical users, in key order.
  const selector = query.idpId
    ? { prefix: keys.idpUsers(tenantId, query.idpId) }
    : { prefix: keys.users(tenantId) };
  const iter = kv.list<unknown>(selector, {
    cursor: query.cursor || undefined,
    batchSize: Math.min(500, limit * 2),
  });
  const users: User[] = [];
  let scanned = 0;
  let exhausted = true;
  let batch: string[] = [];
  const flush = async () => {
    const loaded = await getManyBatched<User>(kv, batch.map((id) => keys.user(tenantId, id)));
    for (const e of loaded) if (e.value && keep(e.value)) users.push(e.value);
    batch = [];
  };
  await fromCursor(async () => {
    for await (const entry of iter) {
      scanned++;
      if (query.idpId) batch.push(String(entry.key.at(-1)));
      else if (keep(entry.value as User)) users.push(entry.value as User);
      // Load in batches, but never more ids than the page still needs (each yields at most one).
      if (batch.length >= Math.min(50, limit - users.length)) await flush();
      if (users.length >= limit || scanned >= PAGE_SCAN_LIMIT) {
        exhausted = false;
        break;
      }
    }
  });
  if (batch.length) await flush();
  const more = !exhausted;
  return {
    users: users.slice(0, limit),
    cursor: more ? iter.cursor : undefined,
    partial: more && users.length < limit,
  };
}

async function searchUsers(
  kv: Deno.Kv,
  tenantId: string,
  q: string,
  query: UserListQuery,
  limit: number,
  keep: (u: User) => boolean,
): Promise<UserPage> {
  const ids = new Set<string>();
  // A pasted user id finds that user.
  if (/^[0-9a-f-]{36}$/.test(q)) {
    const direct = (await kv.get<User>(keys.user(tenantId, q))).value;
    if (direct) ids.add(direct.id);
  }
  const idps = query.idpId ? [query.idpId] : (await listIdps(kv, tenantId)).map((i) => i.id);
  for (const idpId of idps) {
    const byName = keys.idpUserByUserName(tenantId, idpId, "").slice(0, -1);
    for await (const e of kv.list<string>(prefixRange(byName, q), { limit: SEARCH_LIMIT })) {
      ids.add(e.value);
    }
    const byEmail = keys.idpUsersByEmail(tenantId, idpId, "").slice(0, -1);
    for await (const e of kv.list(prefixRange(byEmail, q), { limit: SEARCH_LIMIT })) {
      ids.add(String(e.key.at(-1)));
    }
    if (ids.size >= SEARCH_LIMIT) break;
  }
  const loaded = await getManyBatched<User>(kv, [...ids].map((id) => keys.user(tenantId, id)));
  const all = loaded.flatMap((e) => e.value && keep(e.value) ? [e.value] : [])
    .sort((a, b) => a.userName.localeCompare(b.userName));
  const offset = decodeOffset(query.cursor);
  const page = all.slice(offset, offset + limit);
  return {
    users: page,
    cursor: offset + limit < all.length ? encodeOffset(offset + limit) : undefined,
    partial: false,
  };
}

/** A group with its member count. */
export interface GroupRow {
  group: Group;
  members: number;
}

/** Console group list query. */
export interface GroupListQuery {
  idpId?: string;
  /** Prefix of displayName (case-insensitive). */
  q?: string;
  cursor?: string;
  limit?: number;
}

/** Groups of one IdP or of all IdPs (one after the other), paged; counts from counters. */
export async function listDirectoryGroups(
  kv: Deno.Kv,
  tenantId: string,
  query: GroupListQuery,
): Promise<{ groups: GroupRow[]; cursor?: string }> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const idps = query.idpId ? [query.idpId] : (await listIdps(kv, tenantId)).map((i) => i.id);
  // Cursor: "<idp index>:<kv cursor>".
  const m = query.cursor ? /^(\d{1,4}):(.*)$/.exec(query.cursor) : null;
  if (query.cursor && (!m || Number(m[1]) >= idps.length)) throw new InvalidCursorError();
  let idpIndex = m ? Number(m[1]) : 0;
  let kvCursor = m && m[2] ? m[2] : undefined;
  const groups: Group[] = [];
  let next: string | undefined;
  const q = query.q?.trim().toLowerCase();
  while (idpIndex < idps.length && groups.length < limit) {
    const idpId = idps[idpIndex];
    const selector = q
      ? prefixRange(keys.groupByName(tenantId, idpId, "").slice(0, -1), q)
      : { prefix: keys.groups(tenantId, idpId) };
    const iter = kv.list<unknown>(selector, { cursor: kvCursor, limit: limit - groups.length });
    let n = 0;
    const ids: string[] = [];
    await fromCursor(async () => {
      for await (const e of iter) {
        n++;
        if (q) ids.push(String(e.value));
        else groups.push(e.value as Group);
      }
    });
    if (ids.length) {
      const loaded = await getManyBatched<Group>(
        kv,
        ids.map((id) => keys.group(tenantId, idpId, id)),
      );
      for (const e of loaded) if (e.value) groups.push(e.value);
    }
    if (groups.length >= limit && n > 0) {
      next = `${idpIndex}:${iter.cursor}`;
      break;
    }
    idpIndex++;
    kvCursor = undefined;
  }
  const counts = await Promise.all(groups.map((g) => countMembers(kv, tenantId, g.id)));
  return { groups: groups.map((group, i) => ({ group, members: counts[i] })), cursor: next };
}

/** The groups a user belongs to, across the tenant's IdPs (each group belongs to one IdP). */
export async function groupsOfUser(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  idps: Idp[],
): Promise<Group[]> {
  const ids = await listUserGroupIds(kv, tenantId, userId, 500);
  if (!ids.length) return [];
  const pairs = idps.flatMap((idp) => ids.map((id) => keys.group(tenantId, idp.id, id)));
  const entries = await getManyBatched<Group>(kv, pairs);
  return entries.flatMap((e) => e.value ? [e.value] : [])
    .sort((a, b) => a.displayName.localeCompare(b.displayName));
}

/** Every IdP row of a user (what each IdP sent). */
export async function idpRowsOfUser(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  idps: Idp[],
): Promise<IdpUser[]> {
  const entries = await getManyBatched<IdpUser>(
    kv,
    idps.map((idp) => keys.idpUser(tenantId, idp.id, userId)),
  );
  return entries.flatMap((e) => e.value ? [e.value] : []);
}

/** A group by id when the IdP is not known (tries each IdP). */
export async function findGroup(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
  idps: Idp[],
): Promise<Group | null> {
  const entries = await getManyBatched<Group>(
    kv,
    idps.map((idp) => keys.group(tenantId, idp.id, groupId)),
  );
  return entries.find((e) => e.value)?.value ?? null;
}

/** Figures for the dashboard card of one IdP. */
export interface IdpStats {
  users: number;
  groups: number;
  /** The newest provisioning event (a user or group change) from this IdP. */
  lastPush?: AuditEvent;
  /** Failed SCIM authentications in the last 24 hours. */
  failures24h: number;
}

const PUSH_TYPES = /^scim_(user|group)_/;

/** Dashboard figures of one IdP: counters, one short index read, and the failure tallies. */
export async function idpStats(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  now = Date.now(),
): Promise<IdpStats> {
  const [users, groups] = await kv.getMany([
    keys.counter(tenantId, "idp_users", idpId),
    keys.counter(tenantId, "groups", idpId),
  ]);
  let lastPush: AuditEvent | undefined;
  let cursor: string | undefined;
  // Pushes dominate an IdP's events; a few pages of failures or token events are skipped over.
  for (let page = 0; page < 4 && !lastPush; page++) {
    const res = await listEvents(kv, tenantId, { idpId, limit: 50, cursor });
    lastPush = res.events.find((e) => PUSH_TYPES.test(e.type));
    cursor = res.cursor;
    if (!cursor) break;
  }
  const since = new Date(now - 24 * 3600_000).toISOString().slice(0, 13);
  const failures = await listAuthFailures(kv, tenantId, idpId, 500);
  const failures24h = failures.filter((f) => f.hour >= since).reduce((n, f) => n + f.count, 0);
  return { users: counterValue(users), groups: counterValue(groups), lastPush, failures24h };
}

/** Events per hour over the last `hours` hours, oldest first. */
export interface Activity {
  /** Start of each hour bucket (ISO). */
  hours: string[];
  counts: number[];
  /** True when more than `cap` events fell in the range and only the newest were counted. */
  capped: boolean;
}

/**
 * Counts an IdP's events per hour from the event index keys alone: a ULID's first ten characters
 * are its time, so no event record is read. At most `cap` keys are examined.
 */
export async function idpActivity(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  options: { hours?: number; now?: number; cap?: number } = {},
): Promise<Activity> {
  const hours = options.hours ?? 168;
  const cap = options.cap ?? 100_000;
  const hourMs = 3600_000;
  const end = Math.floor((options.now ?? Date.now()) / hourMs) * hourMs + hourMs;
  const start = end - hours * hourMs;
  const prefix = keys.eventByIdp(tenantId, idpId, "").slice(0, -1);
  const counts = new Array<number>(hours).fill(0);
  let seen = 0;
  let capped = false;
  const iter = kv.list({ start: [...prefix, encodeTime(start, 10)], end: [...prefix, "~"] }, {
    reverse: true,
    batchSize: 1000,
  });
  for await (const e of iter) {
    if (++seen > cap) {
      capped = true;
      break;
    }
    const t = decodeTime(String(e.key.at(-1)));
    const i = Math.floor((t - start) / hourMs);
    if (i >= 0 && i < hours) counts[i]++;
  }
  return {
    hours: counts.map((_, i) => new Date(start + i * hourMs).toISOString()),
    counts,
    capped,
  };
}

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
 * that finds the heartbeat stale resumes from the saved cursor.
 */
export async function runMirroringJob(
  kv: Deno.Kv,
  tenantId: string,
  jobId: string,
): Promise<MirroringJob | null> {
  const config = await getMirroring(kv, tenantId);
  for (;;) {
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
        const res = await withLockRetry(() =>
          kv.atomic().check(current).check(link).set(current.key, next).commit()
        );
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
  }
}
