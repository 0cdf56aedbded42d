/**
 * Groups: records (one IdP each, displayName unique per IdP case-insensitively, externalId
 * unique per IdP) and their writes. A group never embeds its members: membership rows, their
 * guards and counters are `memberships.ts`'s, a change's plan is `member_plan.ts`'s, and a change
 * too large for one operation goes through `journal.ts`. A group's version is the later of its
 * record and its membership version, so parallel member PATCHes never conflict on the record.
 * @module
 */
import { fitsKey, foldName, keys } from "./keys.ts";
import {
  backoff,
  ContentionError,
  getManyBatched,
  maxChecks,
  mayRetry,
  stripUndefined,
  u64Delta,
  withLockRetry,
} from "./kv.ts";
import type { ChangeContext, Group } from "./types.ts";
import { addEvent } from "./events.ts";
import { ScimError } from "../scim/errors.ts";
import type { MemberOperation } from "../scim/patch/mod.ts";
import {
  ChangeBudget,
  deleteMembership,
  dropGroupMemberships,
  listMembers,
  memberCounts,
  membershipGuards,
  noteMembersChanged,
  setMembership,
} from "./memberships.ts";
import { completeJournal, type Journal, journalMemberChange } from "./journal.ts";
import {
  assertResolved,
  type MemberDelta,
  memberDisplays,
  planMemberChanges,
  resolveRefs,
} from "./member_plan.ts";
import { plural } from "../words.ts";
import { noteGroupChange } from "./feed_notes.ts";

/** The attributes of a group other than its members. */
export interface GroupState {
  displayName: string;
  externalId?: string;
  extra: Record<string, unknown>;
}

/** A group with the version it was read at (the later of its record and its membership). */
export interface VersionedGroup {
  group: Group;
  versionstamp: string;
}

function nameKey(ctx: { tenantId: string; idpId: string }, name: string): Deno.KvKey {
  return keys.groupByName(ctx.tenantId, ctx.idpId, name);
}

function maxVersion(a: string | null, b: string | null): string {
  if (!a) return b ?? "";
  if (!b) return a;
  return a > b ? a : b;
}

/**
 * A group with its version and last modification: the later of its record and its membership
 * (membership changes do not rewrite the record, so parallel member PATCHes never conflict on it).
 */
function versioned(
  group: Deno.KvEntryMaybe<Group>,
  touched: Deno.KvEntryMaybe<string>,
): VersionedGroup {
  const g = group.value!;
  const lastModified = touched.value && touched.value > g.lastModified
    ? touched.value
    : g.lastModified;
  return {
    group: lastModified === g.lastModified ? g : { ...g, lastModified },
    versionstamp: maxVersion(group.versionstamp, touched.versionstamp),
  };
}

/** One group, completing a pending membership journal first. */
export async function getGroup(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  groupId: string,
): Promise<VersionedGroup | null> {
  if (!fitsKey(idpId) || !fitsKey(groupId)) return null;
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    const [group, touched, journal] = await kv.getMany<[Group, string, Journal]>([
      keys.group(tenantId, idpId, groupId),
      keys.groupMembersTouched(tenantId, groupId),
      keys.memberJournal(tenantId, groupId),
    ]);
    if (!group.value) return null;
    if (journal.value) {
      await completeJournal(kv, tenantId, groupId);
      continue;
    }
    return versioned(group, touched);
  }
  throw new ContentionError("group read");
}

/**
 * Many groups by id (missing ones skipped); pending journals are completed. With
 * `versions: false` (a user's `groups`, which shows only ids and names) the membership versions
 * are not read, so each group's `versionstamp` and `lastModified` are its record's.
 */
export async function getGroups(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  groupIds: string[],
  options: { versions?: boolean } = {},
): Promise<VersionedGroup[]> {
  const out: VersionedGroup[] = [];
  groupIds = groupIds.filter(fitsKey);
  // One round trip: records, membership versions and pending journals read together, three keys
  // a group (two without versions), so a user in three groups costs one read.
  const withVersions = options.versions !== false;
  const per = withVersions ? 3 : 2;
  const entries = await getManyBatched<unknown>(
    kv,
    groupIds.flatMap((id) =>
      withVersions
        ? [
          keys.group(tenantId, idpId, id),
          keys.groupMembersTouched(tenantId, id),
          keys.memberJournal(tenantId, id),
        ]
        : [keys.group(tenantId, idpId, id), keys.memberJournal(tenantId, id)]
    ),
  );
  const none: Deno.KvEntryMaybe<string> = { key: [], value: null, versionstamp: null };
  for (let i = 0; i < groupIds.length; i++) {
    const group = entries[per * i] as Deno.KvEntryMaybe<Group>;
    const touched = withVersions ? entries[per * i + 1] as Deno.KvEntryMaybe<string> : none;
    const journal = entries[per * i + per - 1] as Deno.KvEntryMaybe<Journal>;
    if (!group.value) continue;
    if (journal.value) {
      const g = await getGroup(kv, tenantId, idpId, groupIds[i]);
      if (g) out.push(g);
      continue;
    }
    out.push(versioned(group, touched));
  }
  return out;
}

/** Options for group writes. */
export interface GroupWriteOptions {
  ifMatch?: string;
  how: string;
}

/** The guard entries a group write read before planning (see `memberships.ts`). */
interface WriteGuards {
  /** The group's membership version. */
  touched: Deno.AtomicCheck;
  /** The IdP's user-deletion version (needed when members are added). */
  unlinks: Deno.AtomicCheck | null;
  /** With `If-Match`: the whole group (record and membership) must be as read. */
  ifMatch?: boolean;
}

/** One write of a group: its record as read (null for a create), the next one, and the plan. */
interface GroupWrite {
  ctx: ChangeContext;
  groupId: string;
  prev: Deno.KvEntryMaybe<Group> | null;
  next: Group;
  delta: MemberDelta;
  how: string;
  guards: WriteGuards;
}

/** What a write changes. */
interface GroupDiff {
  /** Attribute names, for the event (`members` when the membership changes). */
  changed: string[];
  recordChanged: boolean;
  membersChange: boolean;
  nameMoves: boolean;
  externalIdMoves: boolean;
}

/** The outcome of {@linkcode writeGroup}. */
interface WriteResult {
  ok: boolean;
  versionstamp?: string;
  changed: boolean;
}

function diffGroup(w: GroupWrite): GroupDiff {
  const prev = w.prev?.value ?? null;
  const { next, delta } = w;
  const changed: string[] = [];
  if (!prev || prev.displayName !== next.displayName) changed.push("displayName");
  if (prev?.externalId !== next.externalId) changed.push("externalId");
  if (JSON.stringify(prev?.extra ?? {}) !== JSON.stringify(next.extra)) changed.push("extra");
  const membersChange = delta.add.size > 0 || delta.remove.size > 0;
  if (membersChange) changed.push("members");
  return {
    changed,
    recordChanged: !prev || changed.some((c) => c !== "members"),
    membersChange,
    nameMoves: !prev || foldName(prev.displayName) !== foldName(next.displayName),
    externalIdMoves: prev?.externalId !== next.externalId,
  };
}

/**
 * The checks that keep a membership change exact. A small change checks the rows it changes,
 * one by one, so parallel PATCHes of different members of one group commit side by side
 * (idp-behaviour E14); a larger one (or one under If-Match, or one planned from the whole member
 * list) checks the membership version instead, which serialises it with every other. A member
 * change also checks the group record when it does not rewrite it, so it cannot land after the
 * group's deletion; adds check that no user of the IdP was deleted since they were resolved.
 */
function guardMembership(kv: Deno.Kv, op: Deno.AtomicOperation, w: GroupWrite, d: GroupDiff) {
  const { tenantId, idpId } = w.ctx;
  const { delta, guards, prev, next } = w;
  const checksBesideRows = (delta.add.size ? 1 : 0) + 1 +
    (d.recordChanged
      ? (d.nameMoves ? 1 : 0) + (d.externalIdMoves && next.externalId !== undefined ? 1 : 0)
      : 0);
  const rowChecks = d.membersChange && !guards.ifMatch && delta.read && prev &&
    delta.add.size + delta.remove.size + checksBesideRows <= maxChecks(kv);
  if (prev && !d.recordChanged && (d.membersChange || guards.ifMatch)) op.check(prev);
  if (rowChecks) {
    for (const id of delta.add.keys()) {
      op.check({ key: keys.groupMember(tenantId, w.groupId, id), versionstamp: null });
    }
    for (const id of delta.remove) {
      op.check({
        key: keys.groupMember(tenantId, w.groupId, id),
        versionstamp: delta.read!.get(id) ?? null,
      });
    }
  } else if (d.membersChange || guards.ifMatch) op.check(guards.touched);
  if (delta.add.size) {
    if (!guards.unlinks) throw new Error("writeGroup: adds need the IdP's unlink version");
    op.check(guards.unlinks);
    op.sum(membershipGuards.adds(tenantId, idpId), u64Delta(1));
  }
}

/** The group record and its unique indexes (name, externalId), moved when they change. */
function writeRecord(op: Deno.AtomicOperation, w: GroupWrite, d: GroupDiff) {
  const { ctx, groupId, next } = w;
  const { tenantId, idpId } = ctx;
  const prev = w.prev?.value ?? null;
  op.check({
    key: keys.group(tenantId, idpId, groupId),
    versionstamp: w.prev?.versionstamp ?? null,
  });
  if (d.nameMoves) {
    if (prev) op.delete(nameKey(ctx, prev.displayName));
    op.check({ key: nameKey(ctx, next.displayName), versionstamp: null });
    op.set(nameKey(ctx, next.displayName), groupId);
  }
  if (d.externalIdMoves) {
    if (prev?.externalId !== undefined) {
      op.delete(keys.groupByExternalId(tenantId, idpId, prev.externalId));
    }
    if (next.externalId !== undefined) {
      op.check({
        key: keys.groupByExternalId(tenantId, idpId, next.externalId),
        versionstamp: null,
      });
      op.set(keys.groupByExternalId(tenantId, idpId, next.externalId), groupId);
    }
  }
  op.set(keys.group(tenantId, idpId, groupId), stripUndefined(next));
  if (!prev) op.sum(keys.counter(tenantId, "groups", idpId), u64Delta(1));
}

/** Whether every membership change fits one atomic operation beside the record's writes. */
function fitsOneOperation(w: GroupWrite): boolean {
  const budget = new ChangeBudget(w.ctx.tenantId, w.groupId);
  return [...w.delta.add].every(([id, row]) => budget.take(id, row)) &&
    [...w.delta.remove].every((id) => budget.take(id));
}

/** Commits the change in `op`, member rows and event included. */
async function commitInline(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  w: GroupWrite,
  d: GroupDiff,
): Promise<WriteResult> {
  const { tenantId } = w.ctx;
  noteGroupChange(kv, op, tenantId, {
    idpId: w.ctx.idpId,
    groupId: w.groupId,
    before: w.prev?.value ?? null,
    after: w.next,
    added: [...w.delta.add.keys()],
    removed: [...w.delta.remove],
    at: w.next.lastModified,
  });
  for (const [id, row] of w.delta.add) setMembership(op, tenantId, w.groupId, id, row);
  for (const id of w.delta.remove) deleteMembership(op, tenantId, w.groupId, id);
  const added = w.delta.add.size;
  const removed = w.delta.remove.size;
  if (d.membersChange) {
    noteMembersChanged(op, tenantId, w.groupId, { added, removed, at: w.next.lastModified });
  }
  addEvent(op, w.ctx, {
    type: w.prev ? "scim_group_updated" : "scim_group_received",
    target: { kind: "group", id: w.groupId },
    changed: d.changed,
    counts: memberCounts(added, removed),
    summary: `${w.how}: ${plural(added, "member")} added, ${removed} removed`,
  });
  const res = await withLockRetry(() => op.commit());
  return { ok: res.ok, versionstamp: res.ok ? res.versionstamp : undefined, changed: true };
}

/**
 * Commits the record change with a journal of the membership change, then applies it. Setting
 * the membership version makes writers that planned against the rows before it re-plan.
 */
async function commitJournalled(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  w: GroupWrite,
  d: GroupDiff,
): Promise<WriteResult> {
  const { tenantId, idpId } = w.ctx;
  op.set(membershipGuards.touched(tenantId, w.groupId), w.next.lastModified);
  // The record's own change is noted here; the members' in each chunk's commit (journal.ts).
  noteGroupChange(kv, op, tenantId, {
    idpId,
    groupId: w.groupId,
    before: w.prev?.value ?? null,
    after: w.next,
    added: [],
    removed: [],
    at: w.next.lastModified,
  });
  if (!w.prev) {
    addEvent(op, w.ctx, {
      type: "scim_group_received",
      target: { kind: "group", id: w.groupId },
      changed: d.changed.filter((c) => c !== "members"),
      summary: `${w.how}: group created`,
    });
  }
  await journalMemberChange(kv, op, w.ctx, w.groupId, {
    add: [...w.delta.add],
    remove: [...w.delta.remove],
    how: w.how,
    changed: d.changed,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) return { ok: false, changed: true };
  await completeJournal(kv, tenantId, w.groupId);
  const after = await getGroup(kv, tenantId, idpId, w.groupId);
  return { ok: true, versionstamp: after?.versionstamp, changed: true };
}

/**
 * Writes a group's attributes and membership change: in one atomic operation when it fits KV's
 * limits, otherwise through a journal. The membership change is exact against the rows read
 * after `guards.touched`, which the commit checks.
 */
async function writeGroup(kv: Deno.Kv, w: GroupWrite): Promise<WriteResult> {
  const d = diffGroup(w);
  if (w.prev && d.changed.length === 0) return { ok: true, changed: false };
  const op = kv.atomic();
  guardMembership(kv, op, w, d);
  if (d.recordChanged) writeRecord(op, w, d);
  return fitsOneOperation(w)
    ? await commitInline(kv, op, w, d)
    : await commitJournalled(kv, op, w, d);
}

/** POST /Groups: a new group of this IdP; `displayName` is unique per IdP (case-insensitive). */
export async function createGroup(
  kv: Deno.Kv,
  ctx: ChangeContext,
  state: GroupState,
  members: { value: string; display?: string }[],
): Promise<VersionedGroup> {
  const now = new Date().toISOString();
  const group: Group = stripUndefined({
    id: crypto.randomUUID(),
    idpId: ctx.idpId,
    displayName: state.displayName,
    externalId: state.externalId,
    extra: state.extra,
    created: now,
    lastModified: now,
  });
  const displays = memberDisplays(members);
  const values = members.map((m) => m.value);
  // The IdP's unlink version is read before the users, so a deletion meanwhile fails the commit.
  const [unlinks] = await Promise.all([
    values.length ? kv.get(membershipGuards.unlinks(ctx.tenantId, ctx.idpId)) : null,
    assertUniqueGroup(kv, ctx, null, group),
  ]);
  const resolved = await resolveRefs(kv, ctx, values, null);
  assertResolved(values, resolved);
  const delta: MemberDelta = { add: new Map(), remove: new Set() };
  for (const [ref, id] of resolved.ids) {
    delta.add.set(id, stripUndefined({ display: displays.get(ref) }));
  }
  const touched = { key: membershipGuards.touched(ctx.tenantId, group.id), versionstamp: null };
  const res = await writeGroup(kv, {
    ctx,
    groupId: group.id,
    prev: null,
    next: group,
    delta,
    how: "POST created",
    guards: { touched, unlinks },
  });
  if (!res.ok) {
    await assertUniqueGroup(kv, ctx, null, group);
    throw new ContentionError("group");
  }
  return { group, versionstamp: res.versionstamp! };
}

async function assertUniqueGroup(
  kv: Deno.Kv,
  ctx: ChangeContext,
  groupId: string | null,
  next: Group,
) {
  const [byName, byExt] = await kv.getMany<[string, string]>([
    nameKey(ctx, next.displayName),
    keys.groupByExternalId(ctx.tenantId, ctx.idpId, next.externalId ?? "\u0000none"),
  ]);
  if (byName.value && byName.value !== groupId) {
    throw ScimError.uniqueness(`A group named "${next.displayName}" already exists for this IdP`);
  }
  if (byExt.value && byExt.value !== groupId) {
    throw ScimError.uniqueness("externalId is already linked to another group of this IdP");
  }
}

/**
 * PUT / PATCH /Groups/{id}: `mutate` derives the next attributes from the current ones (pure,
 * may run again after a concurrent change); `memberOps` are applied in order.
 */
export async function updateGroup(
  kv: Deno.Kv,
  ctx: ChangeContext,
  groupId: string,
  mutate: (current: GroupState) => GroupState,
  memberOps: MemberOperation[],
  memberDisplayMap: Map<string, string>,
  options: GroupWriteOptions,
): Promise<VersionedGroup & { changed: boolean }> {
  const { tenantId, idpId } = ctx;
  if (!fitsKey(groupId)) throw ScimError.notFound(`Group "${groupId.slice(0, 64)}…" not found`);
  let prior: { unlinks: string | null; resolved?: Map<string, string> } | null = null;
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    if (attempt > 0) await backoff(attempt);
    // The guards are read before the rows the plan reads (see writeGroup).
    const [entry, touched, journal, unlinks] = await kv.getMany<[Group, string, Journal, unknown]>([
      keys.group(tenantId, idpId, groupId),
      membershipGuards.touched(tenantId, groupId),
      keys.memberJournal(tenantId, groupId),
      membershipGuards.unlinks(tenantId, idpId),
    ]);
    if (!entry.value) throw ScimError.notFound(`Group "${groupId}" not found`);
    if (journal.value) {
      await completeJournal(kv, tenantId, groupId);
      continue;
    }
    const current = versioned(entry, touched);
    if (options.ifMatch !== undefined && options.ifMatch !== current.versionstamp) {
      throw ScimError.preconditionFailed(
        "The group changed since it was read (If-Match does not match meta.version)",
      );
    }
    const prev = entry.value;
    const state = mutate({
      displayName: prev.displayName,
      externalId: prev.externalId,
      extra: prev.extra,
    });
    const now = new Date().toISOString();
    const next: Group = stripUndefined({
      ...prev,
      displayName: state.displayName,
      externalId: state.externalId,
      extra: state.extra,
      lastModified: now,
    });
    // After a lost commit with no user deleted since (same unlink version), the references
    // resolved last time still name existing users: only the group's rows are read again.
    const known = prior && prior.unlinks === unlinks.versionstamp ? prior.resolved : undefined;
    const delta = await planMemberChanges(
      kv,
      ctx,
      groupId,
      memberOps,
      memberDisplayMap,
      known,
    );
    const res = await writeGroup(kv, {
      ctx,
      groupId,
      prev: entry,
      next,
      delta,
      how: options.how,
      guards: { touched, unlinks, ifMatch: options.ifMatch !== undefined },
    });
    if (res.ok && !res.changed) return { ...current, changed: false };
    if (res.ok) {
      // The commit is the newest write to the group, so its versionstamp is the group's version
      // (`next` carries this write's lastModified whether the record or the membership changed).
      return { group: next, versionstamp: res.versionstamp!, changed: true };
    }
    prior = { unlinks: unlinks.versionstamp, resolved: delta.resolved };
    await assertUniqueGroup(kv, ctx, groupId, next);
  }
  throw new ContentionError("group");
}

/** DELETE /Groups/{id}: the group, its indexes and every membership row. */
export async function deleteGroup(
  kv: Deno.Kv,
  ctx: ChangeContext,
  groupId: string,
  options: { ifMatch?: string } = {},
): Promise<void> {
  const { tenantId, idpId } = ctx;
  const current = await getGroup(kv, tenantId, idpId, groupId);
  if (!current) throw ScimError.notFound(`Group "${groupId}" not found`);
  if (options.ifMatch !== undefined && options.ifMatch !== current.versionstamp) {
    throw ScimError.preconditionFailed("The group changed since it was read");
  }
  let emptied = 0;
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    if (attempt > 0) await backoff(attempt);
    const [g, touched, journal] = await kv.getMany<[Group, string, Journal]>([
      keys.group(tenantId, idpId, groupId),
      membershipGuards.touched(tenantId, groupId),
      keys.memberJournal(tenantId, groupId),
    ]);
    if (!g.value) throw ScimError.notFound(`Group "${groupId}" not found`);
    if (journal.value) {
      await completeJournal(kv, tenantId, groupId);
      continue;
    }
    const { members } = await listMembers(kv, tenantId, groupId);
    const budget = new ChangeBudget(tenantId, groupId);
    if (!members.every((m) => budget.take(m.userId))) {
      // Too many for one operation: empty the group first (journalled), then remove it.
      const delta: MemberDelta = { add: new Map(), remove: new Set(members.map((m) => m.userId)) };
      const res = await writeGroup(kv, {
        ctx,
        groupId,
        prev: g,
        next: { ...g.value },
        delta,
        how: "DELETE emptied the group",
        guards: { touched, unlinks: null },
      });
      if (res.ok) emptied += members.length;
      continue;
    }
    // The membership version as read covers every row removed here (all writers set it).
    const op = kv.atomic().check(g).check(touched).check({
      key: keys.memberJournal(tenantId, groupId),
      versionstamp: null,
    });
    dropGroupMemberships(op, tenantId, groupId, members);
    op.delete(g.key);
    op.delete(nameKey(ctx, g.value.displayName));
    if (g.value.externalId !== undefined) {
      op.delete(keys.groupByExternalId(tenantId, idpId, g.value.externalId));
    }
    op.sum(keys.counter(tenantId, "groups", idpId), u64Delta(-1));
    noteGroupChange(kv, op, tenantId, {
      idpId,
      groupId,
      before: g.value,
      after: null,
      added: [],
      removed: members.map((m) => m.userId),
      at: new Date().toISOString(),
    });
    addEvent(op, ctx, {
      type: "scim_group_deleted",
      target: { kind: "group", id: groupId },
      counts: { membersRemoved: emptied + members.length },
      summary: "DELETE: group and its memberships removed",
    });
    const res = await withLockRetry(() => op.commit());
    if (res.ok) return;
  }
  throw new ContentionError("group deletion");
}
