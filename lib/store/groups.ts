/**
 * Groups and memberships. A group never embeds its members: each membership is a pair of rows
 * (group → user, user → group), so a change touches only the members it names (idp-behaviour
 * E14).
 *
 * Every writer of a group's member rows sets the group's membership version
 * (`group_members_touched`, which also joins the group's ETag) — group writes, journal chunks,
 * group deletion and user deletion alike. A small change (its rows and other checks within the
 * store's checks per operation: 100 on Deno's own store, 10 on KV Connect) checks each row it
 * changes as read, so parallel PATCHes naming different members commit side by side
 * (idp-behaviour E14). A larger change, one under If-Match, or one planned from the whole member
 * list reads the version before the rows it plans against and checks it at commit instead: one
 * check however many rows, at the price of re-planning after any concurrent member change of the
 * group. Either way the member counter stays exact. Adds and user deletions meet on two per-IdP
 * versions: adds check the IdP's unlink version and bump its add version, user deletion does the
 * opposite, so no group gains a member that was unlinked meanwhile and no deletion misses a
 * membership added after it listed the user's groups.
 *
 * Deno KV allows 1000 mutations and 80 KiB of keys per atomic operation. A change that fits (a
 * few hundred members) commits in one operation with its event. A larger one is written first as
 * a journal (committed atomically with the group's other changes), then applied chunk by chunk
 * idempotently, then closed with its event. Readers and writers of the group complete a pending
 * journal before they read or write, and start-up completes any left by a crash, so readers see
 * the change whole or not at all.
 * @module
 */
import { fitsKey, foldName, keys } from "./keys.ts";
import {
  backoff,
  ContentionError,
  counterValue,
  fromCursor,
  getManyBatched,
  maxChecks,
  mayRetry,
  stripUndefined,
  u64Delta,
  withLockRetry,
} from "./kv.ts";
import type { ChangeContext, Group, IdpUser, MemberRow } from "./types.ts";
import { addEvent } from "../audit/events.ts";
import { ScimError } from "../scim/errors.ts";
import type { MemberOperation } from "../scim/patch/mod.ts";
import { matches } from "../scim/filter/evaluate.ts";
import { attributeLookup, coreSchemaUrn } from "../scim/schema_defs.ts";
import type { Filter } from "../scim/filter/ast.ts";

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
class ChangeBudget {
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
function chunkChanges<T extends [string, MemberRow] | string>(
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

/** Member references resolved to user ids, with the membership rows read alongside. */
interface ResolvedRefs {
  /** Reference → user id (references that name no user of this IdP are absent). */
  ids: Map<string, string>;
  /** User id → whether it is a member of the group (for every resolved id, when a group). */
  isMember: Map<string, boolean>;
  /** User id → the versionstamp of its member row as read (null: not a member). */
  versions: Map<string, string | null>;
}

/**
 * Maps member references to user ids of this IdP: a user id, or (tolerated) the user's
 * externalId on this IdP. References that name no user are left out. With a group, the group's
 * membership rows of the same references are read in the same wave (references are user ids for
 * Okta and Entra), so planning a change costs one round of reads.
 */
async function resolveRefs(
  kv: Deno.Kv,
  ctx: ChangeContext,
  values: string[],
  groupId: string | null,
  /** References resolved by an earlier attempt of the same change, with no user deleted since. */
  known?: Map<string, string>,
): Promise<ResolvedRefs> {
  const ids = new Map<string, string>();
  const isMember = new Map<string, boolean>();
  const versions = new Map<string, string | null>();
  const unique = [...new Set(values)].filter(fitsKey);
  const rowsOf = (userIds: string[]) =>
    groupId && userIds.length
      ? getManyBatched<MemberRow>(
        kv,
        userIds.map((id) => keys.groupMember(ctx.tenantId, groupId, id)),
      )
      : Promise.resolve([]);
  // Re-planning after a concurrent change of the group: references that were user ids (not
  // externalIds, which may have moved meanwhile) still name the same users, so only the group's
  // rows are read again.
  if (known && groupId && unique.every((v) => known.get(v) === v)) {
    const userIds = unique;
    const rows = await rowsOf(userIds);
    for (const v of unique) ids.set(v, v);
    userIds.forEach((id, i) => {
      isMember.set(id, rows[i].versionstamp !== null);
      versions.set(id, rows[i].versionstamp);
    });
    return { ids, isMember, versions };
  }
  const [links, rows] = await Promise.all([
    getManyBatched<IdpUser>(kv, unique.map((v) => keys.idpUser(ctx.tenantId, ctx.idpId, v))),
    rowsOf(unique),
  ]);
  const misses: string[] = [];
  unique.forEach((v, i) => {
    if (links[i].versionstamp === null) return void misses.push(v);
    ids.set(v, v);
    if (groupId) {
      isMember.set(v, rows[i].versionstamp !== null);
      versions.set(v, rows[i].versionstamp);
    }
  });
  if (!misses.length) return { ids, isMember, versions };
  if (ctx.matchBy !== "userName") {
    const byExt = await getManyBatched<string>(
      kv,
      misses.map((v) => keys.idpUserByExternalId(ctx.tenantId, ctx.idpId, v)),
    );
    misses.forEach((v, i) => {
      if (byExt[i].value) ids.set(v, byExt[i].value!);
    });
  } else {
    // externalId is not unique on such IdPs: a reference resolves only when it names one user.
    for (const v of misses) {
      const hits = await Array.fromAsync(
        kv.list({ prefix: keys.idpUsersByExternalIdAny(ctx.tenantId, ctx.idpId, v) }, { limit: 2 }),
      );
      if (hits.length === 1) ids.set(v, String(hits[0].key.at(-1)));
    }
  }
  const unread = [...new Set(misses.flatMap((v) => ids.get(v) ?? []))].filter((id) =>
    !isMember.has(id)
  );
  const more = await rowsOf(unread);
  if (groupId) {
    unread.forEach((id, i) => {
      isMember.set(id, more[i].versionstamp !== null);
      versions.set(id, more[i].versionstamp);
    });
  }
  return { ids, isMember, versions };
}

/** Throws a 400 naming the added references that name no user of this IdP. */
function assertResolved(values: string[], resolved: ResolvedRefs): void {
  const unknown = [...new Set(values)].filter((v) => !resolved.ids.has(v));
  if (unknown.length) {
    const shown = unknown.slice(0, 5).map((v) => `"${v}"`).join(", ");
    throw ScimError.invalidValue(
      `Cannot add member${unknown.length > 1 ? "s" : ""} ${shown}${
        unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""
      }: not a user of this IdP (members are referenced by the id Weft returned for the user)`,
    );
  }
}

/** A membership change resolved to user ids, exact against the rows read while planning it. */
interface MemberDelta {
  add: Map<string, MemberRow>;
  remove: Set<string>;
  /**
   * The versionstamp each changed member row had when read (null: absent), when every changed
   * row was read by key; lets a small change check its rows instead of the membership version.
   */
  read?: Map<string, string | null>;
  /** Every reference resolved to a user id while planning (reusable by a re-plan). */
  resolved?: Map<string, string>;
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

/**
 * Turns ordered member operations into the exact adds and removes against the stored rows.
 * Call after reading the group's membership version: any change to the rows read here changes
 * that version, so a commit checking it fails and the change is planned again.
 */
async function planMemberChanges(
  kv: Deno.Kv,
  ctx: ChangeContext,
  groupId: string,
  ops: MemberOperation[],
  displays: Map<string, string>,
  known?: Map<string, string>,
): Promise<MemberDelta> {
  // Overlay of decided memberships on top of the stored rows; `reset` = stored rows no longer count.
  const overlay = new Map<string, MemberRow | false>();
  let reset = false;
  const adds = ops.flatMap((op) => op.op !== "remove" ? op.values : []);
  const removes = ops.flatMap((op) => {
    if (op.op !== "remove") return [];
    if ("values" in op) return op.values;
    if ("filter" in op) return valueEqTerms(op.filter) ?? [];
    return [];
  });
  // The whole member list is needed by replace, remove-all and other filtered removals.
  const needsAll = ops.some((op) =>
    op.op === "replace" || (op.op === "remove" && ("all" in op ||
      ("filter" in op && !valueEqTerms(op.filter))))
  );
  // One wave: references, their membership rows and (when needed) the whole list together.
  const [resolved, current] = await Promise.all([
    resolveRefs(kv, ctx, [...adds, ...removes], groupId, known),
    needsAll
      ? listMembers(kv, ctx.tenantId, groupId).then(({ members }) =>
        new Map(members.map((m) => [m.userId, m]))
      )
      : Promise.resolve(null),
  ]);
  assertResolved(adds, resolved);

  for (const op of ops) {
    if (op.op === "add" || op.op === "replace") {
      if (op.op === "replace") {
        reset = true;
        overlay.clear();
      }
      for (const v of op.values) {
        const display = displays.get(v);
        overlay.set(resolved.ids.get(v)!, display !== undefined ? { display } : {});
      }
    } else if ("all" in op) {
      reset = true;
      overlay.clear();
    } else if ("values" in op || valueEqTerms(op.filter)) {
      // A removal naming no user of this IdP names no member either: nothing to do for it.
      const values = "values" in op ? op.values : valueEqTerms(op.filter)!;
      for (const v of values) {
        const id = resolved.ids.get(v);
        if (id) overlay.set(id, false);
      }
    } else {
      const filter = op.filter;
      const lookup = attributeLookup("Group");
      const candidates = new Map<string, Member>();
      if (!reset) { for (const [id, m] of current!) candidates.set(id, m); }
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
  const delta: MemberDelta = { add: new Map(), remove: new Set() };
  if (reset) {
    for (const id of current!.keys()) {
      if (overlay.get(id) === undefined) delta.remove.add(id);
    }
  }
  // Every id in the overlay was resolved (its row read) or listed with the current members.
  for (const [id, want] of overlay) {
    const has = resolved.isMember.get(id) ?? current?.has(id) ?? false;
    if (want === false && has) delta.remove.add(id);
    if (want !== false && !has) delta.add.set(id, want);
  }
  const changedIds = [...delta.add.keys(), ...delta.remove];
  if (changedIds.every((id) => resolved.versions.has(id))) {
    delta.read = new Map(changedIds.map((id) => [id, resolved.versions.get(id)!]));
  }
  delta.resolved = resolved.ids;
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

function memberCounts(added: number, removed: number): Record<string, number> {
  return { membersAdded: added, membersRemoved: removed };
}

/**
 * Completes a pending membership journal (idempotent; safe to call concurrently). Each chunk
 * re-reads the rows it changes and checks the group's membership version, so it composes with
 * user deletions that remove members meanwhile (a member deleted since is not re-added).
 */
export async function completeJournal(
  kv: Deno.Kv,
  tenantId: string,
  groupId: string,
): Promise<void> {
  const header = await kv.get<Journal>(keys.memberJournal(tenantId, groupId));
  if (!header.value) return;
  const journal = header.value;
  const idpId = journal.idpId;
  const partKeys = Array.from(
    { length: journal.parts },
    (_, i) => keys.memberJournalPart(tenantId, groupId, i),
  );
  const parts = await getManyBatched<JournalPart>(kv, partKeys);
  const add = parts.flatMap((p) => p.value?.add ?? []);
  const remove = parts.flatMap((p) => p.value?.remove ?? []);
  const touchedKey = membershipGuards.touched(tenantId, groupId);
  const unlinksKey = membershipGuards.unlinks(tenantId, idpId);
  for (const chunk of chunkChanges(tenantId, groupId, [...add, ...remove])) {
    const a = chunk.filter((c): c is [string, MemberRow] => Array.isArray(c));
    const r = chunk.filter((c): c is string => typeof c === "string");
    for (let attempt = 0, started = Date.now();; attempt++) {
      if (!mayRetry(attempt, started)) throw new ContentionError("membership change");
      if (attempt > 0) await backoff(attempt);
      // Guards first, then the rows: a change to the rows after this read fails the commit.
      const guards: Deno.KvEntryMaybe<unknown>[] = await kv.getMany([
        header.key,
        touchedKey,
        unlinksKey,
      ]);
      const [h, touched, unlinks] = guards;
      if (h.versionstamp !== header.versionstamp) return; // another completer finished it
      const [addRows, links, removeRows] = await Promise.all([
        getManyBatched(kv, a.map(([id]) => keys.groupMember(tenantId, groupId, id))),
        getManyBatched(kv, a.map(([id]) => keys.idpUser(tenantId, idpId, id))),
        getManyBatched(kv, r.map((id) => keys.groupMember(tenantId, groupId, id))),
      ]);
      const op = kv.atomic().check(header).check(touched);
      let added = 0;
      let removed = 0;
      a.forEach(([id, row], i) => {
        // Already a member (add is idempotent), or deleted since the change was accepted.
        if (addRows[i].versionstamp !== null || links[i].versionstamp === null) return;
        op.set(keys.groupMember(tenantId, groupId, id), row);
        op.set(keys.userGroup(tenantId, id, groupId), null);
        added++;
      });
      r.forEach((id, i) => {
        if (removeRows[i].versionstamp === null) return;
        op.delete(keys.groupMember(tenantId, groupId, id));
        op.delete(keys.userGroup(tenantId, id, groupId));
        removed++;
      });
      if (!added && !removed) break;
      if (added) {
        op.check(unlinks);
        op.sum(membershipGuards.adds(tenantId, idpId), u64Delta(1));
      }
      if (added !== removed) {
        op.sum(keys.counter(tenantId, "group_members", groupId), u64Delta(added - removed));
      }
      op.set(touchedKey, new Date().toISOString());
      const res = await withLockRetry(() => op.commit());
      if (res.ok) break;
    }
  }
  const op = kv.atomic().check(header).delete(header.key);
  for (const k of partKeys) op.delete(k);
  op.set(touchedKey, new Date().toISOString());
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

/** The guard entries a group write read before planning (see {@linkcode membershipGuards}). */
interface WriteGuards {
  /** The group's membership version. */
  touched: Deno.AtomicCheck;
  /** The IdP's user-deletion version (needed when members are added). */
  unlinks: Deno.AtomicCheck | null;
  /** With `If-Match`: the whole group (record and membership) must be as read. */
  ifMatch?: boolean;
}

/**
 * Writes a group's attributes and membership change: in one atomic operation when it fits KV's
 * limits, otherwise through a journal. `prev` is null for a create. The membership change is
 * exact against the rows read after `guards.touched`, which the commit checks.
 */
async function writeGroup(
  kv: Deno.Kv,
  ctx: ChangeContext,
  groupId: string,
  prevEntry: Deno.KvEntryMaybe<Group> | null,
  next: Group,
  delta: MemberDelta,
  how: string,
  guards: WriteGuards,
): Promise<{ ok: boolean; versionstamp?: string; changed: boolean }> {
  const { tenantId, idpId } = ctx;
  const prev = prevEntry?.value ?? null;
  const changed: string[] = [];
  if (!prev || prev.displayName !== next.displayName) changed.push("displayName");
  if (prev?.externalId !== next.externalId) changed.push("externalId");
  if (JSON.stringify(prev?.extra ?? {}) !== JSON.stringify(next.extra)) changed.push("extra");
  const membersChange = delta.add.size > 0 || delta.remove.size > 0;
  if (membersChange) changed.push("members");
  const recordChanged = !prev || changed.some((c) => c !== "members");
  if (prev && changed.length === 0) return { ok: true, changed: false };

  const op = kv.atomic();
  // Every writer of this group's member rows sets its membership version. A small change checks
  // the rows it changes, one by one, so parallel PATCHes of different members of one group
  // commit side by side (idp-behaviour E14); a larger one (or one under If-Match, or one planned
  // from the whole member list) checks the version instead, which serialises it with every other.
  // A member change also checks the group record (when it does not rewrite it), so it cannot land
  // after the group's deletion.
  const nameMoves = !prev || foldName(prev.displayName) !== foldName(next.displayName);
  const externalIdMoves = prev?.externalId !== next.externalId;
  const checksBesideRows = (delta.add.size ? 1 : 0) + 1 +
    (recordChanged
      ? (nameMoves ? 1 : 0) + (externalIdMoves && next.externalId !== undefined ? 1 : 0)
      : 0);
  const rowChecks = membersChange && !guards.ifMatch && delta.read && prevEntry &&
    delta.add.size + delta.remove.size + checksBesideRows <= maxChecks(kv);
  if (prevEntry && !recordChanged && (membersChange || guards.ifMatch)) op.check(prevEntry);
  if (rowChecks) {
    for (const id of delta.add.keys()) {
      op.check({ key: keys.groupMember(tenantId, groupId, id), versionstamp: null });
    }
    for (const id of delta.remove) {
      op.check({
        key: keys.groupMember(tenantId, groupId, id),
        versionstamp: delta.read!.get(id) ?? null,
      });
    }
  } else if (membersChange || guards.ifMatch) op.check(guards.touched);
  if (delta.add.size) {
    // An added user must still exist at commit: user deletions bump this, and see our adds.
    if (!guards.unlinks) throw new Error("writeGroup: adds need the IdP's unlink version");
    op.check(guards.unlinks);
    op.sum(membershipGuards.adds(tenantId, idpId), u64Delta(1));
  }
  if (recordChanged) {
    op.check({
      key: keys.group(tenantId, idpId, groupId),
      versionstamp: prevEntry?.versionstamp ?? null,
    });
    if (nameMoves) {
      if (prev) op.delete(nameKey(ctx, prev.displayName));
      op.check({ key: nameKey(ctx, next.displayName), versionstamp: null });
      op.set(nameKey(ctx, next.displayName), groupId);
    }
    if (externalIdMoves) {
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
  const budget = new ChangeBudget(tenantId, groupId);
  const fits = add.every(([id, row]) => budget.take(id, row)) &&
    remove.every((id) => budget.take(id));
  if (fits) {
    for (const [id, row] of add) {
      op.set(keys.groupMember(tenantId, groupId, id), row);
      op.set(keys.userGroup(tenantId, id, groupId), null);
    }
    for (const id of remove) {
      op.delete(keys.groupMember(tenantId, groupId, id));
      op.delete(keys.userGroup(tenantId, id, groupId));
    }
    if (add.length !== remove.length) {
      op.sum(
        keys.counter(tenantId, "group_members", groupId),
        u64Delta(add.length - remove.length),
      );
    }
    if (membersChange) op.set(membershipGuards.touched(tenantId, groupId), next.lastModified);
    addEvent(op, ctx, {
      type: prev ? "scim_group_updated" : "scim_group_received",
      target,
      changed,
      counts: memberCounts(add.length, remove.length),
      summary: `${how}: ${add.length} member(s) added, ${remove.length} removed`,
    });
    const res = await withLockRetry(() => op.commit());
    return { ok: res.ok, versionstamp: res.ok ? res.versionstamp : undefined, changed: true };
  }
  // Too large for one operation: journal it with the record change, then apply. Setting the
  // membership version makes writers that planned against the rows before it re-plan.
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
  op.set(membershipGuards.touched(tenantId, groupId), next.lastModified);
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
  const res = await writeGroup(kv, ctx, group.id, null, group, delta, "POST created", {
    touched,
    unlinks,
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
    const res = await writeGroup(
      kv,
      ctx,
      groupId,
      entry,
      next,
      delta,
      options.how,
      { touched, unlinks, ifMatch: options.ifMatch !== undefined },
    );
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
      const res = await writeGroup(
        kv,
        ctx,
        groupId,
        g,
        { ...g.value },
        delta,
        "DELETE emptied the group",
        { touched, unlinks: null },
      );
      if (res.ok) emptied += members.length;
      continue;
    }
    // The membership version as read covers every row removed here (all writers set it).
    const op = kv.atomic().check(g).check(touched).check({
      key: keys.memberJournal(tenantId, groupId),
      versionstamp: null,
    });
    for (const m of members) {
      op.delete(keys.groupMember(tenantId, groupId, m.userId));
      op.delete(keys.userGroup(tenantId, m.userId, groupId));
    }
    op.delete(g.key);
    op.delete(nameKey(ctx, g.value.displayName));
    if (g.value.externalId !== undefined) {
      op.delete(keys.groupByExternalId(tenantId, idpId, g.value.externalId));
    }
    op.delete(touched.key);
    op.delete(keys.counter(tenantId, "group_members", groupId));
    op.sum(keys.counter(tenantId, "groups", idpId), u64Delta(-1));
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
