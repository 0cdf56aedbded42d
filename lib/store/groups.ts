/**
 * Groups and memberships. A group never embeds its members: each membership is a pair of rows
 * (group → user, user → group), so a change touches only the members it names and parallel
 * PATCHes of one group do not overwrite each other (idp-behaviour E14).
 *
 * Deno KV allows 100 checks and 1000 mutations per atomic operation. A membership change that
 * fits one chunk commits in one operation with its event. A larger one is written first as a
 * journal (committed atomically with the group's other changes), then applied chunk by chunk
 * idempotently, then closed with its event. Readers and writers of the group complete a pending
 * journal before they read or write, and start-up completes any left by a crash, so readers see
 * the change whole or not at all.
 * @module
 */
import { fitsKey, foldName, keys } from "./keys.ts";
import {
  ATOMIC_CHECK_LIMIT,
  backoff,
  ContentionError,
  counterValue,
  getManyBatched,
  mayRetry,
  stripUndefined,
  u64Delta,
  withLockRetry,
} from "./kv.ts";
import type { ChangeContext, Group, IdpUser, MemberRow } from "./types.ts";
import { addEvent } from "../audit/events.ts";
import { ScimError } from "../scim/errors.ts";
import type { MemberOperation } from "../scim/patch.ts";
import { matches } from "../scim/filter/evaluate.ts";
import { attributeLookup, coreSchemaUrn } from "../scim/schema_defs.ts";
import type { Filter } from "../scim/filter/ast.ts";

/** Membership changes per atomic operation (each needs one check; a few are kept spare). */
export const MEMBER_CHUNK = 90;
/** Ids per journal part (a KV value holds at most 64 KiB). */
const JOURNAL_PART_IDS = 1000;
/** Most members a group may have; replace and filtered removal read the whole list. */
export const MAX_GROUP_MEMBERS = 200_000;

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

/** A member as listed. */
export interface Member {
  userId: string;
  display?: string;
}

interface Journal {
  requestId: string;
  actor: string;
  idpId: string;
  tokenId?: string;
  clientIp: string;
  parts: number;
  adds: number;
  removes: number;
  how: string;
  changed: string[];
}

interface JournalPart {
  add: [string, MemberRow][];
  remove: string[];
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
  if (!fitsKey(groupId)) return null;
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

/** Many groups by id (missing ones skipped); pending journals are completed. */
export async function getGroups(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  groupIds: string[],
): Promise<VersionedGroup[]> {
  const out: VersionedGroup[] = [];
  groupIds = groupIds.filter(fitsKey);
  // One round trip: records, membership versions and pending journals read together.
  const [groups, touched, journals] = await Promise.all([
    getManyBatched<Group>(kv, groupIds.map((id) => keys.group(tenantId, idpId, id))),
    getManyBatched<string>(kv, groupIds.map((id) => keys.groupMembersTouched(tenantId, id))),
    getManyBatched<Journal>(kv, groupIds.map((id) => keys.memberJournal(tenantId, id))),
  ]);
  for (let i = 0; i < groupIds.length; i++) {
    if (!groups[i].value) continue;
    if (journals[i].value) {
      const g = await getGroup(kv, tenantId, idpId, groupIds[i]);
      if (g) out.push(g);
      continue;
    }
    out.push(versioned(groups[i], touched[i]));
  }
  return out;
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
  for await (const e of iter) {
    members.push(stripUndefined({ userId: String(e.key.at(-1)), display: e.value?.display }));
  }
  return { members, cursor: members.length === limit ? iter.cursor : undefined };
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

/**
 * Maps member references to user ids of this IdP: a user id, or (tolerated) the user's
 * externalId on this IdP. References that name no user are left out.
 */
async function resolveRefs(
  kv: Deno.Kv,
  ctx: ChangeContext,
  values: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const unique = [...new Set(values)].filter(fitsKey);
  const rows = await getManyBatched<IdpUser>(
    kv,
    unique.map((v) => keys.idpUser(ctx.tenantId, ctx.idpId, v)),
  );
  const misses: string[] = [];
  unique.forEach((v, i) => rows[i].value ? out.set(v, v) : misses.push(v));
  if (!misses.length) return out;
  if (ctx.matchBy !== "userName") {
    const byExt = await getManyBatched<string>(
      kv,
      misses.map((v) => keys.idpUserByExternalId(ctx.tenantId, ctx.idpId, v)),
    );
    misses.forEach((v, i) => {
      if (byExt[i].value) out.set(v, byExt[i].value!);
    });
  } else {
    // externalId is not unique on such IdPs: a reference resolves only when it names one user.
    for (const v of misses) {
      const hits = await Array.fromAsync(
        kv.list({ prefix: keys.idpUsersByExternalIdAny(ctx.tenantId, ctx.idpId, v) }, { limit: 2 }),
      );
      if (hits.length === 1) out.set(v, String(hits[0].key.at(-1)));
    }
  }
  return out;
}

/** Like {@linkcode resolveRefs}, but a reference that names no user is a 400 naming it. */
async function resolveMembers(
  kv: Deno.Kv,
  ctx: ChangeContext,
  values: string[],
): Promise<Map<string, string>> {
  const out = await resolveRefs(kv, ctx, values);
  const unknown = [...new Set(values)].filter((v) => !out.has(v));
  if (unknown.length) {
    const shown = unknown.slice(0, 5).map((v) => `"${v}"`).join(", ");
    throw ScimError.invalidValue(
      `Cannot add member${unknown.length > 1 ? "s" : ""} ${shown}${
        unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""
      }: not a user of this IdP (members are referenced by the id Weft returned for the user)`,
    );
  }
  return out;
}

/** A membership change resolved to user ids, with the member rows read while planning it. */
interface MemberDelta {
  add: Map<string, MemberRow>;
  remove: Set<string>;
  /** Member rows as read (versionstamp null = not a member), keyed by user id. */
  read?: Map<string, Deno.KvEntryMaybe<MemberRow>>;
}

/** Whether a filter is only `value eq "x"` terms joined by `or`; returns the values. */
function valueEqTerms(filter: Filter): string[] | null {
  if (filter.kind === "or") {
    const l = valueEqTerms(filter.left);
    const r = valueEqTerms(filter.right);
    return l && r ? [...l, ...r] : null;
  }
  if (
    filter.kind === "compare" && filter.op === "eq" && !filter.path.uri && !filter.path.sub &&
    filter.path.attr.toLowerCase() === "value" && typeof filter.value === "string"
  ) return [filter.value];
  return null;
}

/** Turns ordered member operations into the exact adds and removes against the stored rows. */
async function planMemberChanges(
  kv: Deno.Kv,
  ctx: ChangeContext,
  groupId: string,
  ops: MemberOperation[],
  displays: Map<string, string>,
): Promise<MemberDelta> {
  // Overlay of decided memberships on top of the stored rows; `reset` = stored rows no longer count.
  const overlay = new Map<string, MemberRow | false>();
  let reset = false;
  let current: Map<string, Member> | null = null;
  const loadCurrent = async () => {
    if (!current) {
      const { members } = await listMembers(kv, ctx.tenantId, groupId);
      current = new Map(members.map((m) => [m.userId, m]));
    }
    return current;
  };
  const adds = ops.flatMap((op) => op.op !== "remove" ? op.values : []);
  const removes = ops.flatMap((op) => {
    if (op.op !== "remove") return [];
    if ("values" in op) return op.values;
    if ("filter" in op) return valueEqTerms(op.filter) ?? [];
    return [];
  });
  const resolved = await resolveMembers(kv, ctx, adds);
  // A removal naming no user of this IdP names no member either: nothing to do for it.
  const removeResolved = await resolveRefs(kv, ctx, removes);

  for (const op of ops) {
    if (op.op === "add" || op.op === "replace") {
      if (op.op === "replace") {
        reset = true;
        overlay.clear();
      }
      for (const v of op.values) {
        const display = displays.get(v);
        overlay.set(resolved.get(v)!, display !== undefined ? { display } : {});
      }
    } else if ("all" in op) {
      reset = true;
      overlay.clear();
    } else if ("values" in op || valueEqTerms(op.filter)) {
      const values = "values" in op ? op.values : valueEqTerms(op.filter)!;
      for (const v of values) {
        const id = removeResolved.get(v);
        if (id) overlay.set(id, false);
      }
    } else {
      const filter = op.filter;
      const lookup = attributeLookup("Group");
      const candidates = new Map<string, Member>();
      if (!reset) { for (const [id, m] of await loadCurrent()) candidates.set(id, m); }
      for (const [id, row] of overlay) {
        if (row === false) candidates.delete(id);
        else candidates.set(id, { userId: id, display: row.display });
      }
      for (const m of candidates.values()) {
        const element = stripUndefined({ value: m.userId, display: m.display, type: "User" });
        const wrapped = { members: [element] };
        const hit = matches(
          { kind: "valuePath", path: { attr: "members" }, filter },
          wrapped,
          lookup,
          coreSchemaUrn("Group"),
        );
        if (hit) overlay.set(m.userId, false);
      }
    }
  }
  const delta: MemberDelta = { add: new Map(), remove: new Set(), read: new Map() };
  if (reset) {
    for (const id of (await loadCurrent()).keys()) {
      if (overlay.get(id) === undefined) delta.remove.add(id);
    }
  }
  const ids = [...overlay.keys()];
  const rows = await getManyBatched<MemberRow>(
    kv,
    ids.map((id) => keys.groupMember(ctx.tenantId, groupId, id)),
  );
  ids.forEach((id, i) => {
    delta.read!.set(id, rows[i]);
    const want = overlay.get(id)!;
    const has = rows[i].versionstamp !== null;
    if (want === false && has) delta.remove.add(id);
    if (want !== false && !has) delta.add.set(id, want);
  });
  return delta;
}

/** Displays sent with added members, keyed by the reference the IdP used. */
export function memberDisplays(
  values: { value: string; display?: string }[],
): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of values) if (typeof v.display === "string") m.set(v.value, v.display);
  return m;
}

/**
 * Adds one chunk of membership changes to `op`, checking each row against what was read so a
 * concurrent change of the same member makes the commit fail (and the caller re-plan).
 */
async function addChunk(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  tenantId: string,
  groupId: string,
  add: [string, MemberRow][],
  remove: string[],
  read?: Map<string, Deno.KvEntryMaybe<MemberRow>>,
): Promise<{ added: number; removed: number }> {
  const rowsOf = async (ids: string[]) =>
    read && ids.every((id) => read.has(id))
      ? ids.map((id) => read.get(id)!)
      : await getManyBatched<MemberRow>(
        kv,
        ids.map((id) => keys.groupMember(tenantId, groupId, id)),
      );
  const addRows = await rowsOf(add.map(([id]) => id));
  const removeRows = await rowsOf(remove);
  let added = 0;
  let removed = 0;
  add.forEach(([id, row], i) => {
    if (addRows[i].versionstamp !== null) return; // already a member: add is idempotent
    op.check({ key: addRows[i].key, versionstamp: null });
    op.set(keys.groupMember(tenantId, groupId, id), row);
    op.set(keys.userGroup(tenantId, id, groupId), null);
    added++;
  });
  remove.forEach((id, i) => {
    if (removeRows[i].versionstamp === null) return;
    op.check(removeRows[i]);
    op.delete(keys.groupMember(tenantId, groupId, id));
    op.delete(keys.userGroup(tenantId, id, groupId));
    removed++;
  });
  if (added !== removed) {
    op.sum(keys.counter(tenantId, "group_members", groupId), u64Delta(added - removed));
  }
  return { added, removed };
}

function memberCounts(added: number, removed: number): Record<string, number> {
  return { membersAdded: added, membersRemoved: removed };
}

/** Completes a pending membership journal (idempotent; safe to call concurrently). */
export async function completeJournal(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
): Promise<void> {
  const header = await kv.get<Journal>(keys.memberJournal(tenantId, groupId));
  if (!header.value) return;
  const journal = header.value;
  const partKeys = Array.from(
    { length: journal.parts },
    (_, i) => keys.memberJournalPart(tenantId, groupId, i),
  );
  const parts = await getManyBatched<JournalPart>(kv, partKeys);
  const add = parts.flatMap((p) => p.value?.add ?? []);
  const remove = parts.flatMap((p) => p.value?.remove ?? []);
  // Chunks over adds then removes, at most MEMBER_CHUNK row checks per operation.
  const changes: ([string, MemberRow] | string)[] = [...add, ...remove];
  for (let i = 0; i < changes.length; i += MEMBER_CHUNK) {
    const chunk = changes.slice(i, i + MEMBER_CHUNK);
    const a = chunk.filter((c): c is [string, MemberRow] => Array.isArray(c));
    const r = chunk.filter((c): c is string => typeof c === "string");
    for (let attempt = 0, started = Date.now();; attempt++) {
      if (!mayRetry(attempt, started)) throw new ContentionError("membership change");
      const op = kv.atomic().check(header);
      await addChunk(kv, op, tenantId, groupId, a, r);
      const res = await withLockRetry(() => op.commit());
      if (res.ok) break;
      // The header changed: another completer finished the journal.
      if (!(await kv.get(header.key)).value) return;
      await backoff(attempt);
    }
  }
  const op = kv.atomic().check(header).delete(header.key);
  for (const k of partKeys) op.delete(k);
  op.set(keys.groupMembersTouched(tenantId, groupId), new Date().toISOString());
  addEvent(op, {
    tenantId,
    idpId: journal.idpId,
    tokenId: journal.tokenId,
    actor: journal.actor,
    requestId: journal.requestId,
    clientIp: journal.clientIp,
  }, {
    type: "scim_group_updated",
    target: { kind: "group", id: groupId },
    changed: journal.changed,
    counts: memberCounts(journal.adds, journal.removes),
    summary: `${journal.how}: ${journal.adds} member(s) added, ${journal.removes} removed`,
  });
  await withLockRetry(() => op.commit());
}

/** Completes every pending journal of a tenant (start-up recovery after a crash). */
export async function completeAllJournals(kv: Deno.Kv, tenantId: string): Promise<number> {
  let n = 0;
  for await (const e of kv.list({ prefix: keys.memberJournals(tenantId) })) {
    await completeJournal(kv, tenantId, String(e.key.at(-1)));
    n++;
  }
  return n;
}

/** Options for group writes. */
export interface GroupWriteOptions {
  ifMatch?: string;
  how: string;
}

/**
 * Writes a group's attributes and membership change: in one atomic operation when it fits,
 * otherwise through a journal. `prev` is null for a create.
 */
async function writeGroup(
  kv: Deno.Kv,
  ctx: ChangeContext,
  groupId: string,
  prevEntry: Deno.KvEntryMaybe<Group> | null,
  next: Group,
  delta: MemberDelta,
  how: string,
  /** With `If-Match`: the membership version read, which must still hold at commit. */
  touched?: Deno.KvEntryMaybe<string>,
): Promise<{ ok: boolean; versionstamp?: string; changed: boolean }> {
  const { tenantId, idpId } = ctx;
  const prev = prevEntry?.value ?? null;
  const changed: string[] = [];
  if (!prev || prev.displayName !== next.displayName) changed.push("displayName");
  if (prev?.externalId !== next.externalId) changed.push("externalId");
  if (JSON.stringify(prev?.extra ?? {}) !== JSON.stringify(next.extra)) changed.push("extra");
  if (delta.add.size || delta.remove.size) changed.push("members");
  const recordChanged = !prev || changed.some((c) => c !== "members");
  if (prev && changed.length === 0) return { ok: true, changed: false };

  // Checks: the record and its unique names when they change, then one per membership row.
  let checks = 0;
  const op = kv.atomic();
  if (touched && prevEntry) {
    // If-Match covers the whole group: its record and its membership must be as read.
    op.check(touched);
    if (!recordChanged) op.check(prevEntry);
    checks += 2;
  }
  if (recordChanged) {
    checks += 3;
    op.check({
      key: keys.group(tenantId, idpId, groupId),
      versionstamp: prevEntry?.versionstamp ?? null,
    });
    if (!prev || foldName(prev.displayName) !== foldName(next.displayName)) {
      if (prev) op.delete(nameKey(ctx, prev.displayName));
      op.check({ key: nameKey(ctx, next.displayName), versionstamp: null });
      op.set(nameKey(ctx, next.displayName), groupId);
    }
    if (prev?.externalId !== next.externalId) {
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
  const add = [...delta.add];
  const remove = [...delta.remove];
  const target = { kind: "group" as const, id: groupId };
  if (checks + add.length + remove.length <= ATOMIC_CHECK_LIMIT) {
    // Fits one operation. It needs no check on the journal: its rows are checked one by one, so
    // it serialises with a pending large change as if it had run before it.
    const counts = await addChunk(kv, op, tenantId, groupId, add, remove, delta.read);
    if (add.length || remove.length) {
      op.set(keys.groupMembersTouched(tenantId, groupId), next.lastModified);
    }
    addEvent(op, ctx, {
      type: prev ? "scim_group_updated" : "scim_group_received",
      target,
      changed,
      counts: memberCounts(counts.added, counts.removed),
      summary: `${how}: ${counts.added} member(s) added, ${counts.removed} removed`,
    });
    const res = await withLockRetry(() => op.commit());
    return { ok: res.ok, versionstamp: res.ok ? res.versionstamp : undefined, changed: true };
  }
  // Too large for one operation: journal it with the record change, then apply.
  const parts: JournalPart[] = [];
  for (let i = 0; i < Math.max(add.length, remove.length); i += JOURNAL_PART_IDS) {
    parts.push({
      add: add.slice(i, i + JOURNAL_PART_IDS),
      remove: remove.slice(i, i + JOURNAL_PART_IDS),
    });
  }
  if (parts.length > 200) {
    throw ScimError.tooMany("Cannot change more than 200,000 memberships at once");
  }
  const journal: Journal = stripUndefined({
    requestId: ctx.requestId,
    actor: ctx.actor,
    idpId,
    tokenId: ctx.tokenId,
    clientIp: ctx.clientIp,
    parts: parts.length,
    adds: add.length,
    removes: remove.length,
    how,
    changed,
  });
  op.check({ key: keys.memberJournal(tenantId, groupId), versionstamp: null });
  if (!prev) {
    addEvent(op, ctx, {
      type: "scim_group_received",
      target,
      changed: changed.filter((c) => c !== "members"),
      summary: `${how}: group created`,
    });
  }
  op.set(keys.memberJournal(tenantId, groupId), journal);
  // Parts go in their own operations when many, but before the header is visible to completers
  // they are written here in the same operation while they fit (≤ 10 parts ≈ 10,000 ids).
  const inline = parts.length <= 10;
  if (inline) parts.forEach((p, i) => op.set(keys.memberJournalPart(tenantId, groupId, i), p));
  else {
    for (let i = 0; i < parts.length; i++) {
      await withLockRetry(() => kv.set(keys.memberJournalPart(tenantId, groupId, i), parts[i]));
    }
  }
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) return { ok: false, changed: true };
  await completeJournal(kv, tenantId, groupId);
  const after = await getGroup(kv, tenantId, idpId, groupId);
  return { ok: true, versionstamp: after?.versionstamp, changed: true };
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
  const resolved = await resolveMembers(kv, ctx, members.map((m) => m.value));
  const delta: MemberDelta = { add: new Map(), remove: new Set() };
  for (const [ref, id] of resolved) {
    delta.add.set(id, stripUndefined({ display: displays.get(ref) }));
  }
  await assertUniqueGroup(kv, ctx, null, group);
  const res = await writeGroup(kv, ctx, group.id, null, group, delta, "POST created");
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
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    if (attempt > 0) await backoff(attempt);
    const [entry, touched, journal] = await kv.getMany<[Group, string, Journal]>([
      keys.group(tenantId, idpId, groupId),
      keys.groupMembersTouched(tenantId, groupId),
      keys.memberJournal(tenantId, groupId),
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
    const delta = await planMemberChanges(kv, ctx, groupId, memberOps, memberDisplayMap);
    const res = await writeGroup(
      kv,
      ctx,
      groupId,
      entry,
      next,
      delta,
      options.how,
      options.ifMatch !== undefined ? touched : undefined,
    );
    if (res.ok && !res.changed) return { ...current, changed: false };
    if (res.ok) {
      // The commit is the newest write to the group, so its versionstamp is the group's version
      // (`next` carries this write's lastModified whether the record or the membership changed).
      return { group: next, versionstamp: res.versionstamp!, changed: true };
    }
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
  // Empty the group first (journalled when large), then remove the record with its event.
  const { members } = await listMembers(kv, tenantId, groupId);
  const entry = await kv.get<Group>(keys.group(tenantId, idpId, groupId));
  if (!entry.value) throw ScimError.notFound(`Group "${groupId}" not found`);
  if (members.length > MEMBER_CHUNK) {
    const delta: MemberDelta = { add: new Map(), remove: new Set(members.map((m) => m.userId)) };
    await writeGroup(
      kv,
      ctx,
      groupId,
      entry,
      { ...entry.value },
      delta,
      "DELETE emptied the group",
    );
  }
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    if (attempt > 0) await backoff(attempt);
    const g = await kv.get<Group>(keys.group(tenantId, idpId, groupId));
    if (!g.value) throw ScimError.notFound(`Group "${groupId}" not found`);
    const { members: rest } = await listMembers(kv, tenantId, groupId, { limit: MEMBER_CHUNK });
    const op = kv.atomic().check(g).check({
      key: keys.memberJournal(tenantId, groupId),
      versionstamp: null,
    });
    await addChunk(kv, op, tenantId, groupId, [], rest.map((m) => m.userId));
    op.delete(g.key);
    op.delete(nameKey(ctx, g.value.displayName));
    if (g.value.externalId !== undefined) {
      op.delete(keys.groupByExternalId(tenantId, idpId, g.value.externalId));
    }
    op.delete(keys.groupMembersTouched(tenantId, groupId));
    op.delete(keys.counter(tenantId, "group_members", groupId));
    op.sum(keys.counter(tenantId, "groups", idpId), u64Delta(-1));
    addEvent(op, ctx, {
      type: "scim_group_deleted",
      target: { kind: "group", id: groupId },
      counts: { membersRemoved: members.length },
      summary: "DELETE: group and its memberships removed",
    });
    const res = await withLockRetry(() => op.commit());
    if (res.ok) return;
  }
  throw new ContentionError("group deletion");
}
