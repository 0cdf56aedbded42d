/**
 * The events feed's sequencer: moves outbox notes (`feed_notes.ts`) into the feed as numbered
 * public events. Ids taken from a process clock can commit out of order across processes, so the
 * feed's order comes from the store: each tenant's feed has a head record `{seq}` and every round
 * commits, checking the head as read, the new head, the events `seq+1…`, the notes' deletion, the
 * role snapshots and the webhook deliveries. Two instances racing on one tenant: one commit wins,
 * the other re-reads and goes on, so sequence numbers are given once and in commit order, and a
 * note that commits late (an older ULID than some already sequenced) is simply sequenced in a
 * later round. A reader paging with `after` therefore never skips an event.
 *
 * An event's `data` is rendered when it is sequenced, with the read API's own renderers
 * (`api_views.ts`): it is the resource's state at sequencing time — the change it reports or a
 * later one, never an earlier one. A deleted group renders from the last record its deletion
 * kept. Groups with a pending member journal are completed before they render, so the feed never
 * shows a half-applied change.
 *
 * Roles: for every user whose memberships or state a note changed (and every member of the groups
 * a mapping change names), the sequencer compares the user's derived roles with the snapshot it
 * last reported and emits `role.unassigned` / `role.assigned`, updating the snapshot in the same
 * commit.
 *
 * Each commit stays within KV's limits: at most {@linkcode MAX_MUTATIONS} mutations (webhook
 * deliveries counted, one per event and endpoint) and {@linkcode MAX_BYTES} bytes by a
 * conservative estimate; an event larger than one value is stored in parts. A note too large for
 * one commit is sequenced over several (its progress is saved in the note).
 * @module
 */
import { keys } from "./keys.ts";
import { backoff, getManyBatched, withLockRetry } from "./kv.ts";
import { loadApiGroups, loadApiUsers } from "./api_views.ts";
import { erasedUser, renderGroup } from "../directory/views.ts";
import {
  estimateBytes,
  type FeedNote,
  feedRetentionMs,
  type GoneGroup,
  type RolesNote,
  sharedSizer,
} from "./feed_notes.ts";
import { roleSnapshots } from "./roles.ts";
import { addDeliveries, loadEndpoints } from "./webhook_outbox.ts";
import {
  type ApiGroup,
  type ApiRoleRef,
  type ApiUser,
  eventId,
  type PublicEvent,
  type PublicEventType,
} from "../directory/types.ts";

/** Most mutations one sequencing commit holds (KV allows 1000). */
export const MAX_MUTATIONS = 900;
/** Most bytes one sequencing commit holds, by {@linkcode estimateBytes} (KV allows 800 KiB). */
export const MAX_BYTES = 512 * 1024;
/** Bytes a webhook delivery is assumed to add. */
const DELIVERY_BYTES = 512;
/** Notes read per round. */
const NOTES_PER_ROUND = 64;
/** Events planned (and their resources read) per round at most. */
const EVENTS_PER_ROUND = 600;
/** Members of a mapped group compared per round. */
const ROLE_MEMBERS_PER_ROUND = 200;
/** An event whose value is larger than this is stored in parts. */
const ENTRY_INLINE_BYTES = 56 * 1024;
/** Characters of an event's JSON per part (two bytes a character at most: 48 KiB). */
const PART_CHARS = 24 * 1024;

/** The feed's head record. */
export interface FeedHead {
  seq: number;
}

/** A feed entry as stored: the event, or the number of parts its JSON is split into. */
export type FeedEntryValue =
  | { event: PublicEvent; expiresAt: string }
  | { parts: number; expiresAt: string };

/** One public event a note stands for, before rendering. */
interface Spec {
  type: PublicEventType;
  user?: string;
  group?: string;
  previous?: Record<string, unknown>;
}

/** The events a note stands for, in order (role events are compared apart). */
function directSpecs(note: FeedNote): Spec[] {
  switch (note.kind) {
    case "user": {
      const left = (note.left ?? []).map((g): Spec => ({
        type: "group.user_removed",
        user: note.userId,
        group: g,
      }));
      return [
        ...left,
        ...note.types.map((type): Spec =>
          type === "user.updated" && note.previous
            ? { type, user: note.userId, previous: note.previous }
            : { type, user: note.userId }
        ),
      ];
    }
    case "group": {
      const own = note.types.filter((t) => t !== "group.deleted").map((type): Spec =>
        type === "group.updated" && note.previous
          ? { type, group: note.groupId, previous: note.previous }
          : { type, group: note.groupId }
      );
      return [
        ...own,
        ...note.added.map((u): Spec => ({
          type: "group.user_added",
          user: u,
          group: note.groupId,
        })),
        ...note.removed.map((u): Spec => ({
          type: "group.user_removed",
          user: u,
          group: note.groupId,
        })),
        ...(note.types.includes("group.deleted")
          ? [{ type: "group.deleted" as const, group: note.groupId }]
          : []),
      ];
    }
    case "members":
      return note.changes.flatMap((c) => [
        ...c.added.map((u): Spec => ({ type: "group.user_added", user: u, group: c.groupId })),
        ...c.removed.map((u): Spec => ({ type: "group.user_removed", user: u, group: c.groupId })),
      ]);
    case "roles":
      return [];
  }
}

/** Users whose roles a note may have changed (sorted, distinct). */
function affectedUsers(note: FeedNote): string[] {
  switch (note.kind) {
    case "user": {
      const stateChanged = note.types.some((t) => t !== "user.updated");
      return stateChanged ? [note.userId] : [];
    }
    case "group":
      return [...new Set([...note.added, ...note.removed])].sort();
    case "members":
      return [...new Set(note.changes.flatMap((c) => [...c.added, ...c.removed]))].sort();
    case "roles":
      return [];
  }
}

/** A note's work this round. */
interface Planned {
  key: Deno.KvKey;
  note: FeedNote;
  specs: Spec[];
  affected: string[];
  /** For a roles note: where its expansion goes after this round (null: finished). */
  nextCursor?: RolesNote["cursor"] | null;
}

/** The members of a roles note's groups to compare this round, and where to go on. */
async function expandRoles(
  kv: Deno.Kv,
  tenantId: string,
  note: RolesNote,
): Promise<{ users: string[]; next: RolesNote["cursor"] | null }> {
  let index = note.cursor?.index ?? 0;
  let after = note.cursor?.after;
  while (index < note.groups.length) {
    const prefix = keys.groupMembers(tenantId, note.groups[index].groupId);
    const selector: Deno.KvListSelector = after
      ? { prefix, start: [...prefix, after, ""] }
      : { prefix };
    const rows = await Array.fromAsync(kv.list(selector, { limit: ROLE_MEMBERS_PER_ROUND }));
    const users = rows.map((r) => String(r.key.at(-1)));
    if (users.length === ROLE_MEMBERS_PER_ROUND) {
      return { users, next: { index, after: users.at(-1) } };
    }
    if (users.length) return { users, next: { index: index + 1 } };
    index++;
    after = undefined;
  }
  return { users: [], next: null };
}

/** What one round read: the resources its events render. */
interface Loaded {
  users: Map<string, ApiUser>;
  groups: Map<string, ApiGroup>;
  snapshots: Map<string, ApiRoleRef[]>;
}

async function load(
  kv: Deno.Kv,
  tenantId: string,
  plan: Planned[],
): Promise<Loaded> {
  const userIds = new Set<string>();
  const groupsByIdp = new Map<string, Set<string>>();
  const affected = new Set<string>();
  for (const p of plan) {
    const idpId = "idpId" in p.note ? p.note.idpId : null;
    for (const s of p.specs) {
      if (s.user) userIds.add(s.user);
      if (s.group && idpId) {
        const set = groupsByIdp.get(idpId) ?? new Set();
        set.add(s.group);
        groupsByIdp.set(idpId, set);
      }
    }
    for (const u of p.affected) {
      userIds.add(u);
      affected.add(u);
    }
  }
  const [users, snapshots, ...groupMaps] = await Promise.all([
    loadApiUsers(kv, tenantId, [...userIds]),
    roleSnapshots(kv, tenantId, [...affected]),
    ...[...groupsByIdp].map(([idpId, ids]) => loadApiGroups(kv, tenantId, idpId, [...ids])),
  ]);
  const groups = new Map<string, ApiGroup>();
  for (const m of groupMaps) for (const [id, g] of m) groups.set(id, g);
  const missing = [...groupsByIdp.values()].flatMap((s) => [...s]).filter((id) => !groups.has(id));
  if (missing.length) {
    const gone = await getManyBatched<GoneGroup>(
      kv,
      missing.map((id) => keys.feedGoneGroup(tenantId, id)),
    );
    gone.forEach((e) => {
      if (e.value) {
        groups.set(e.value.group.id, renderGroup(e.value.group, 0, e.versionstamp ?? ""));
      }
    });
  }
  return { users, groups, snapshots };
}

/** The event of a spec, or null when its resource can no longer be rendered. */
function render(
  spec: Spec,
  note: FeedNote,
  seq: number,
  loaded: Loaded,
): PublicEvent | null {
  const base = {
    object: "event" as const,
    id: eventId(seq),
    type: spec.type,
    occurred_at: note.at,
    idp_id: "idpId" in note ? note.idpId : null,
  };
  // A user missing from the store was erased by its IdP's `delete` policy: its events carry ids.
  const user = spec.user
    ? loaded.users.get(spec.user) ??
      (base.idp_id ? erasedUser(spec.user, base.idp_id, note.at) : undefined)
    : undefined;
  const group = spec.group ? loaded.groups.get(spec.group) : undefined;
  if (spec.user && spec.group) return user && group ? { ...base, data: { user, group } } : null;
  const data = user ?? group;
  if (!data) return null;
  return spec.previous ? { ...base, data, previous_attributes: spec.previous } : { ...base, data };
}

/** The role events of one user: what changed since the snapshot. */
function roleChanges(
  userId: string,
  loaded: Loaded,
): { unassigned: ApiRoleRef[]; assigned: ApiRoleRef[]; now: ApiRoleRef[] } {
  const now = loaded.users.get(userId)?.roles ?? [];
  const before = loaded.snapshots.get(userId) ?? [];
  const has = (list: ApiRoleRef[], r: ApiRoleRef) => list.some((x) => x.slug === r.slug);
  return {
    unassigned: before.filter((r) => !has(now, r)),
    assigned: now.filter((r) => !has(before, r)),
    now,
  };
}

/** The mutations and bytes a sequencing commit holds so far. */
class CommitBudget {
  mutations = 4;
  bytes = 4096;
  constructor(readonly perEventMutations: number, readonly perEventBytes: number) {}
  /** Takes room for `mutations`/`bytes`; false (nothing taken) when it would not fit. */
  take(mutations: number, bytes: number): boolean {
    if (this.mutations + mutations > MAX_MUTATIONS || this.bytes + bytes > MAX_BYTES) return false;
    this.mutations += mutations;
    this.bytes += bytes;
    return true;
  }
}

/** An event's stored form: one value, or parts of its JSON. */
function entryValues(event: PublicEvent, expiresAt: string, size: (e: PublicEvent) => number): {
  entry: FeedEntryValue;
  parts: string[];
  bytes: number;
} {
  const bytes = size(event);
  if (bytes <= ENTRY_INLINE_BYTES) return { entry: { event, expiresAt }, parts: [], bytes };
  const json = JSON.stringify(event);
  const parts: string[] = [];
  for (let i = 0; i < json.length; i += PART_CHARS) parts.push(json.slice(i, i + PART_CHARS));
  return { entry: { parts: parts.length, expiresAt }, parts, bytes };
}

/** The outcome of one round. */
type RoundResult = { sequenced: number; notes: number } | "conflict";

/** One sequencing commit: as many waiting notes as fit. */
async function round(kv: Deno.Kv, tenantId: string): Promise<RoundResult> {
  const head = await kv.get<FeedHead>(keys.feedHead(tenantId));
  const rows = await Array.fromAsync(
    kv.list<FeedNote>({ prefix: keys.feedNotes(tenantId) }, { limit: NOTES_PER_ROUND }),
  );
  if (!rows.length) return { sequenced: 0, notes: 0 };
  const plan: Planned[] = [];
  let planned = 0;
  for (const row of rows) {
    const note = row.value;
    if (note.kind === "roles") {
      const { users, next } = await expandRoles(kv, tenantId, note);
      plan.push({ key: row.key, note, specs: [], affected: users, nextCursor: next });
      planned += users.length;
    } else {
      const specs = directSpecs(note).slice(note.done ?? 0);
      const affected = affectedUsers(note).slice(note.rolesDone ?? 0);
      plan.push({ key: row.key, note, specs, affected });
      planned += specs.length + affected.length;
    }
    if (planned >= EVENTS_PER_ROUND) break;
  }
  const [loaded, endpoints] = await Promise.all([
    load(kv, tenantId, plan),
    loadEndpoints(kv, tenantId),
  ]);
  const live = endpoints.filter((e) => e.enabled);
  const budget = new CommitBudget(live.length, live.length * DELIVERY_BYTES);
  const retentionMs = feedRetentionMs(kv);
  const now = new Date();
  const expiresAt = new Date(now.getTime() + retentionMs).toISOString();
  const op = kv.atomic().check(head);
  let seq = head.value?.seq ?? 0;
  const events: PublicEvent[] = [];
  const snapshots = new Map<string, ApiRoleRef[] | null>();
  // `estimateBytes` of each event, each rendered user and group serialised once a round.
  const size = sharedSizer();

  /** Adds an event if it fits; false when the commit is full. */
  const addEvent = (event: PublicEvent): boolean => {
    const stored = entryValues(event, expiresAt, size);
    const mutations = 1 + stored.parts.length + budget.perEventMutations;
    if (!budget.take(mutations, stored.bytes + budget.perEventBytes + 64)) return false;
    seq++;
    op.set(keys.feedEntry(tenantId, seq), stored.entry, { expireIn: retentionMs });
    stored.parts.forEach((p, i) =>
      op.set(keys.feedEntryPart(tenantId, seq, i), p, { expireIn: retentionMs })
    );
    events.push(event);
    return true;
  };

  /** Adds a user's role events and snapshot; false (nothing added) when they do not fit. */
  const addRoles = (userId: string, note: FeedNote): boolean => {
    const { unassigned, assigned, now: current } = roleChanges(userId, loaded);
    if (!unassigned.length && !assigned.length) return true;
    const user = loaded.users.get(userId);
    const rendered: PublicEvent[] = [];
    let next = seq;
    for (
      const [type, list] of [["role.unassigned", unassigned], ["role.assigned", assigned]] as const
    ) {
      for (const role of list) {
        if (!user) continue;
        rendered.push({
          object: "event",
          id: eventId(++next),
          type,
          occurred_at: note.at,
          idp_id: "idpId" in note ? note.idpId : null,
          data: { user, role },
        });
      }
    }
    const sizes = rendered.map((e) => entryValues(e, expiresAt, size));
    const mutations = 1 + sizes.reduce((n, s) => n + 1 + s.parts.length, 0) +
      rendered.length * budget.perEventMutations;
    const bytes = 256 + sizes.reduce((n, s) => n + s.bytes + 64 + budget.perEventBytes, 0);
    if (!budget.take(mutations, bytes)) return false;
    rendered.forEach((e, i) => {
      seq++;
      op.set(keys.feedEntry(tenantId, seq), sizes[i].entry, { expireIn: retentionMs });
      sizes[i].parts.forEach((p, j) =>
        op.set(keys.feedEntryPart(tenantId, seq, j), p, { expireIn: retentionMs })
      );
      events.push(e);
    });
    snapshots.set(userId, current.length ? current : null);
    loaded.snapshots.set(userId, current);
    return true;
  };

  let notesDone = 0;
  let events0 = 0;
  for (const p of plan) {
    const note = p.note;
    // Room for the note's own last write (deleted, or rewritten with its progress).
    if (!budget.take(1, estimateBytes(note) + 128)) break;
    events0 = events.length;
    let done = note.done ?? 0;
    let full = false;
    for (const spec of p.specs) {
      const event = render(spec, note, seq + 1, loaded);
      if (event && !addEvent(event)) {
        full = true;
        break;
      }
      done++;
    }
    let rolesDone = note.rolesDone ?? 0;
    if (!full) {
      for (const userId of p.affected) {
        if (!addRoles(userId, note)) {
          full = true;
          break;
        }
        rolesDone++;
      }
    }
    if (full) {
      // Part of this note is sequenced: keep where it is (a roles note compares its page again).
      if (note.kind !== "roles") op.set(p.key, { ...note, done, rolesDone });
      if (events.length > events0 || notesDone) notesDone++;
      break;
    }
    if (note.kind === "roles" && p.nextCursor) op.set(p.key, { ...note, cursor: p.nextCursor });
    else op.delete(p.key);
    notesDone++;
  }
  if (!notesDone) {
    throw new Error("Cannot sequence the feed: one note's first event does not fit a commit");
  }
  // Snapshots are written once per user, after every event of the round.
  for (const [userId, roles] of snapshots) {
    if (roles) op.set(keys.roleSnapshot(tenantId, userId), roles);
    else op.delete(keys.roleSnapshot(tenantId, userId));
  }
  op.set(keys.feedHead(tenantId), { seq } satisfies FeedHead);
  if (events.length && live.length) addDeliveries(op, tenantId, live, events, now);
  const res = await withLockRetry(() => op.commit());
  return res.ok ? { sequenced: events.length, notes: notesDone } : "conflict";
}

/** Rounds in flight per store and tenant, so one process runs one sequencer per tenant. */
const running = new WeakMap<Deno.Kv, Map<string, Promise<number>>>();

/** Options of {@linkcode sequenceTenant}. */
export interface SequenceOptions {
  /** Most commits this call makes (it stops earlier when the outbox is empty). */
  maxRounds?: number;
}

/**
 * Sequences the tenant's waiting notes until the outbox is empty (or `maxRounds` commits);
 * returns the number of events added. Safe to call from any number of instances at once.
 */
export async function sequenceTenant(
  kv: Deno.Kv,
  tenantId: string,
  options: SequenceOptions = {},
): Promise<number> {
  let byTenant = running.get(kv);
  if (!byTenant) running.set(kv, byTenant = new Map());
  // A call while one runs in this process waits for it, then runs its own (it may have come
  // after a commit the running one did not list).
  const previous = byTenant.get(tenantId) ?? Promise.resolve(0);
  const mine = previous.catch(() => 0).then(() => drain(kv, tenantId, options.maxRounds ?? 100));
  byTenant.set(tenantId, mine);
  try {
    return await mine;
  } finally {
    if (byTenant.get(tenantId) === mine) byTenant.delete(tenantId);
  }
}

async function drain(kv: Deno.Kv, tenantId: string, maxRounds: number): Promise<number> {
  let total = 0;
  let conflicts = 0;
  for (let rounds = 0; rounds < maxRounds;) {
    const r = await round(kv, tenantId);
    if (r === "conflict") {
      // Another instance sequenced meanwhile: read its head and go on.
      await backoff(++conflicts);
      if (conflicts > 200) {
        throw new Error("Cannot sequence the feed: too many concurrent sequencers");
      }
      continue;
    }
    rounds++;
    total += r.sequenced;
    if (r.notes === 0) break;
  }
  return total;
}

/** Whether the tenant has notes waiting (one key read). */
export async function hasWaitingNotes(kv: Deno.Kv, tenantId: string): Promise<boolean> {
  for await (const _ of kv.list({ prefix: keys.feedNotes(tenantId) }, { limit: 1 })) return true;
  return false;
}
