/**
 * Memberships: a pair of rows per membership (group → user, user → group), never an array, so a
 * change touches only the members it names (idp-behaviour E14). This module is the only code that
 * writes member rows. Every write of a group's rows also sets the group's membership version
 * (`group_members_touched`, which joins the group's ETag) and keeps its member counter exact:
 * group writes, journal chunks, group deletion and user deletion alike.
 *
 * Adds and user deletions meet on two per-IdP versions (see {@linkcode membershipGuards}): adds
 * check the IdP's unlink version and bump its add version, user deletion does the opposite, so
 * no group gains a member that was unlinked meanwhile and no deletion misses a membership added
 * after it listed the user's groups.
 * @module
 */
import { keys } from "./keys.ts";
import {
  backoff,
  ContentionError,
  counterValue,
  fromCursor,
  maxChecks,
  mayRetry,
  stripUndefined,
  u64Delta,
  withLockRetry,
} from "./kv.ts";
import type { MemberRow } from "./types.ts";
import { noteMembersChange } from "./feed_notes.ts";

/** Most members a group may have; replace and filtered removal read the whole list. */
export const MAX_GROUP_MEMBERS = 200_000;

/** A member as listed. */
export interface Member {
  userId: string;
  display?: string;
}

/** A group's member count, from its maintained counter. */
export async function countMembers(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
): Promise<number> {
  return counterValue(await kv.get(keys.counter(tenantId, "group_members", groupId)));
}

/** A group's members in id order (call after {@linkcode getGroup}, which completes journals). */
export async function listMembers(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
  options: { limit?: number; cursor?: string } = {},
): Promise<{ members: Member[]; cursor?: string }> {
  const limit = options.limit ?? MAX_GROUP_MEMBERS;
  const iter = kv.list<MemberRow>(
    { prefix: keys.groupMembers(tenantId, groupId) },
    { limit, cursor: options.cursor, batchSize: Math.min(limit, 1000) },
  );
  const members: Member[] = [];
  await fromCursor(async () => {
    for await (const e of iter) {
      members.push(stripUndefined({ userId: String(e.key.at(-1)), display: e.value?.display }));
    }
  });
  return { members, cursor: members.length === limit ? iter.cursor : undefined };
}

/**
 * A group's members in id order, in batches as KV lists them (call after {@linkcode getGroup}):
 * memory stays bounded by one batch however large the group, for streaming responses.
 */
export async function* memberBatches(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
  batchSize = 1000,
): AsyncGenerator<Member[]> {
  const iter = kv.list<MemberRow>(
    { prefix: keys.groupMembers(tenantId, groupId) },
    { limit: MAX_GROUP_MEMBERS, batchSize },
  );
  let batch: Member[] = [];
  for await (const e of iter) {
    const display = e.value?.display;
    batch.push(
      display !== undefined
        ? { userId: String(e.key.at(-1)), display }
        : { userId: String(e.key.at(-1)) },
    );
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Whether the user is a member (one key read). */
export async function isMember(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
  userId: string,
): Promise<boolean> {
  return (await kv.get(keys.groupMember(tenantId, groupId, userId))).versionstamp !== null;
}

/** The ids of the groups a user belongs to (any IdP; groups belong to one). */
export async function listUserGroupIds(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  limit = 1000,
): Promise<string[]> {
  const rows = await Array.fromAsync(
    kv.list<MemberRow | null>({ prefix: keys.userGroups(tenantId, userId) }, { limit }),
  );
  return rows.map((r) => String(r.key.at(-1)));
}

/**
 * The keys that serialise membership writers (see the module documentation): a group's
 * membership version, and per IdP one version bumped by every membership add and one bumped by
 * every user deletion.
 */
export const membershipGuards = {
  /** Set by every operation that writes member rows of the group; checked by its writers. */
  touched: (tenantId: string, groupId: string): Deno.KvKey =>
    keys.groupMembersTouched(tenantId, groupId),
  /** Summed by every operation that adds members on the IdP; checked by user deletion. */
  adds: (tenantId: string, idpId: string): Deno.KvKey =>
    keys.counter(tenantId, "member_adds", idpId),
  /** Summed by every user deletion on the IdP; checked by every operation that adds members. */
  unlinks: (tenantId: string, idpId: string): Deno.KvKey =>
    keys.counter(tenantId, "user_unlinks", idpId),
};

/**
 * Deno KV's limits per atomic operation (denokv: mutations, key bytes, total bytes); the checks
 * allowed depend on the store ({@linkcode maxChecks}).
 */
const OP_LIMITS = { mutations: 1000, keyBytes: 80 * 1024, bytes: 800 * 1024 };
/** Kept free for the group record (≤ 64 KiB), its indexes, counters, guards and the event. */
const OP_RESERVE = { mutations: 32, keyBytes: 8 * 1024, bytes: 192 * 1024 };

const utf8 = new TextEncoder();

/** Bytes of a key as KV encodes it (each string part is tagged and terminated; rounded up). */
function keySize(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    if (typeof part === "string") n += utf8.encode(part).length + 2;
    else if (part instanceof Uint8Array) n += part.length + 2;
    else n += 10;
  }
  return n;
}

/** What one membership change (a row and its mirror) adds to an atomic operation. */
export class ChangeBudget {
  #base: number;
  mutations = OP_RESERVE.mutations;
  keyBytes = OP_RESERVE.keyBytes;
  bytes = OP_RESERVE.bytes;

  constructor(tenantId: string, groupId: string) {
    // Both keys of a change, with an empty user id (counted per change below).
    this.#base = keySize(keys.groupMember(tenantId, groupId, "")) +
      keySize(keys.userGroup(tenantId, "", groupId));
  }

  /** Adds one change; false (and nothing added) when it would exceed a limit. */
  take(userId: string, row?: MemberRow): boolean {
    const k = this.#base + 2 * utf8.encode(userId).length;
    const v = row ? 16 + 3 * (row.display?.length ?? 0) : 0;
    if (
      this.mutations + 2 > OP_LIMITS.mutations || this.keyBytes + k > OP_LIMITS.keyBytes ||
      this.bytes + k + v > OP_LIMITS.bytes
    ) return false;
    this.mutations += 2;
    this.keyBytes += k;
    this.bytes += k + v;
    return true;
  }
}

/** Splits membership changes into runs that each fit one atomic operation. */
export function chunkChanges<T extends [string, MemberRow] | string>(
  tenantId: string,
  groupId: string,
  changes: T[],
): T[][] {
  const out: T[][] = [];
  let budget = new ChangeBudget(tenantId, groupId);
  let run: T[] = [];
  for (const c of changes) {
    const [id, row] = typeof c === "string" ? [c, undefined] : c;
    if (!budget.take(id, row) && run.length) {
      out.push(run);
      run = [];
      budget = new ChangeBudget(tenantId, groupId);
      budget.take(id, row);
    }
    run.push(c);
  }
  if (run.length) out.push(run);
  return out;
}

/** The counts a membership change's event carries. */
export function memberCounts(added: number, removed: number): Record<string, number> {
  return { membersAdded: added, membersRemoved: removed };
}

/** Adds a membership's two rows to `op` (the caller accounts for them, see below). */
export function setMembership(
  op: Deno.AtomicOperation,
  tenantId: string,
  groupId: string,
  userId: string,
  row: MemberRow,
): void {
  op.set(keys.groupMember(tenantId, groupId, userId), row);
  op.set(keys.userGroup(tenantId, userId, groupId), null);
}

/** Deletes a membership's two rows in `op` (the caller accounts for them, see below). */
export function deleteMembership(
  op: Deno.AtomicOperation,
  tenantId: string,
  groupId: string,
  userId: string,
): void {
  op.delete(keys.groupMember(tenantId, groupId, userId));
  op.delete(keys.userGroup(tenantId, userId, groupId));
}

/**
 * Accounts in `op` for a change of a group's member rows: the member counter moves by
 * `added - removed` and the membership version is set to `at`. Every operation that writes
 * member rows calls it once per group it touches.
 */
export function noteMembersChanged(
  op: Deno.AtomicOperation,
  tenantId: string,
  groupId: string,
  change: { added: number; removed: number; at: string },
): void {
  if (change.added !== change.removed) {
    op.sum(
      keys.counter(tenantId, "group_members", groupId),
      u64Delta(change.added - change.removed),
    );
  }
  op.set(membershipGuards.touched(tenantId, groupId), change.at);
}

/**
 * Ends a group's memberships as part of deleting it: both rows of each listed member, the
 * counter and the membership version go (the caller checks the version it listed under).
 */
export function dropGroupMemberships(
  op: Deno.AtomicOperation,
  tenantId: string,
  groupId: string,
  members: Member[],
): void {
  for (const m of members) deleteMembership(op, tenantId, groupId, m.userId);
  op.delete(membershipGuards.touched(tenantId, groupId));
  op.delete(keys.counter(tenantId, "group_members", groupId));
}

/**
 * A user leaves the groups of the listed reverse rows (`user_groups` entries as read): each row is
 * checked as read, both rows of each membership go, and each group's counter and membership
 * version follow.
 */
export function leaveGroups(
  op: Deno.AtomicOperation,
  tenantId: string,
  userId: string,
  rows: Deno.KvEntry<unknown>[],
  at: string,
): void {
  for (const m of rows) {
    const groupId = String(m.key.at(-1));
    op.check(m);
    deleteMembership(op, tenantId, groupId, userId);
    noteMembersChanged(op, tenantId, groupId, { added: 0, removed: 1, at });
  }
}

/** A user's first reverse membership rows, as many as one operation can end beside `otherChecks`. */
export async function firstMemberships(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  otherChecks: number,
): Promise<{ rows: Deno.KvEntry<unknown>[]; more: boolean }> {
  const limit = membershipsPerOp(kv, otherChecks);
  const rows = await Array.fromAsync(
    kv.list<null>({ prefix: keys.userGroups(tenantId, userId) }, { limit }),
  );
  return { rows, more: rows.length === limit };
}

/**
 * Memberships removed in one atomic operation beside `otherChecks` checks: each needs a check, so
 * the store's checks per operation bound them (10 on KV Connect); on Deno's own store (100) at
 * most 90, whose four keys each stay well within KV's 80 KiB of keys per operation.
 */
function membershipsPerOp(kv: Deno.Kv, otherChecks: number): number {
  return Math.min(90, maxChecks(kv) - otherChecks);
}

/** Removes every remaining membership of a user, in checked chunks (idempotent). */
export async function leaveAllGroups(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  idpId: string,
): Promise<void> {
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started);) {
    const { rows } = await firstMemberships(kv, tenantId, userId, 0);
    if (!rows.length) return;
    const op = kv.atomic();
    const at = new Date().toISOString();
    leaveGroups(op, tenantId, userId, rows, at);
    noteMembersChange(kv, op, tenantId, {
      idpId,
      at,
      changes: rows.map((r) => ({ groupId: String(r.key.at(-1)), added: [], removed: [userId] })),
    });
    const res = await withLockRetry(() => op.commit());
    if (!res.ok) await backoff(++attempt);
  }
  throw new ContentionError("user deletion");
}
