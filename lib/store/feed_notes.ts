/**
 * The events feed's outbox: every directory change commit adds, beside its audit event and in
 * the SAME atomic operation, one small note saying what changed (public event types, the ids of
 * the resources, the IdP, when, and for updates the changed fields' old values). An acknowledged
 * SCIM write therefore always has its note, and a failed one has none. The sequencer
 * (`feed_sequencer.ts`) later turns notes into numbered public events. This module is the only
 * code that writes notes.
 *
 * Decided shapes:
 * - A user write notes `user.created` when the IdP did not link the user before (a new person, or
 *   a relink after a DELETE: SCIM answers 201), else `user.updated` when canonical or IdP
 *   attributes changed (not the state), then `user.deactivated` / `user.reactivated` when the
 *   state changed; a write that does both notes both, the update first.
 * - A SCIM DELETE of a user notes the groups it left and `user.deleted` (the canonical record is
 *   kept, inactive, without the IdP's row: the event renders it as it is).
 * - A group write notes `group.created` / `group.updated` and the user ids added and removed (one
 *   note per commit, however many members); a journal chunk is one note of its ids; a group
 *   deletion notes the members it removed, then `group.deleted`, and keeps the group's last
 *   record (expiring with the feed) so events sequenced after it still render it.
 * - `WEFT_EVENTS_FEED=off` (a measuring aid for the bench) writes no notes.
 * @module
 */
import { monotonicFactory } from "ulid";
import { keys } from "./keys.ts";
import type { Group, IdpUser, User } from "./types.ts";
import { renderGroup, renderUser } from "../directory/views.ts";
import type { ApiGroup, ApiUser } from "../directory/types.ts";

const nextNoteId = monotonicFactory();

/** Days a feed event is kept by default (`WEFT_EVENT_RETENTION_DAYS`). */
export const DEFAULT_EVENT_RETENTION_DAYS = 30;

/** How the feed runs on one store. */
export interface FeedSettings {
  /** Whether changes write outbox notes (`WEFT_EVENTS_FEED`, on unless `off`). */
  enabled: boolean;
  /** Days each event stays in the feed (`expireIn`). */
  retentionDays: number;
}

const settingsByStore = new WeakMap<Deno.Kv, FeedSettings>();

/** Records how the feed runs on `kv` (the app does, from its configuration). */
export function configureFeed(kv: Deno.Kv, settings: FeedSettings): void {
  settingsByStore.set(kv, settings);
}

/** How the feed runs on `kv` (on, 30 days, unless configured). */
export function feedSettings(kv: Deno.Kv): FeedSettings {
  return settingsByStore.get(kv) ??
    { enabled: true, retentionDays: DEFAULT_EVENT_RETENTION_DAYS };
}

/** Milliseconds of the feed's retention on `kv`. */
export function feedRetentionMs(kv: Deno.Kv): number {
  return feedSettings(kv).retentionDays * 86_400_000;
}

/** The public types a user note can carry. */
export type UserNoteType =
  | "user.created"
  | "user.updated"
  | "user.deactivated"
  | "user.reactivated"
  | "user.deleted";

/** The public types a group note can carry. */
export type GroupNoteType = "group.created" | "group.updated" | "group.deleted";

interface NoteBase {
  /** When the change was made (ISO): the events' `occurred_at`. */
  at: string;
  /** Events of this note already sequenced (a large note is sequenced over several commits). */
  done?: number;
  /** Affected users whose roles were already compared (see the sequencer). */
  rolesDone?: number;
}

/** A user changed. */
export interface UserNote extends NoteBase {
  kind: "user";
  idpId: string;
  userId: string;
  types: UserNoteType[];
  /** On `user.updated`: the changed API fields' values before the change. */
  previous?: Record<string, unknown>;
  /** On `user.deleted`: the groups the user left in the same commit. */
  left?: string[];
}

/** A group changed (record and/or members). */
export interface GroupNote extends NoteBase {
  kind: "group";
  idpId: string;
  groupId: string;
  types: GroupNoteType[];
  previous?: Record<string, unknown>;
  added: string[];
  removed: string[];
}

/** Memberships changed outside a group write (a journal chunk, a user leaving groups). */
export interface MembersNote extends NoteBase {
  kind: "members";
  idpId: string;
  changes: { groupId: string; added: string[]; removed: string[] }[];
}

/** Role mappings changed: the members of these groups may have gained or lost roles. */
export interface RolesNote extends NoteBase {
  kind: "roles";
  groups: { idpId: string; groupId: string }[];
  /** Where the expansion is: the group index and the last member id compared. */
  cursor?: { index: number; after?: string };
}

/** One outbox note. */
export type FeedNote = UserNote | GroupNote | MembersNote | RolesNote;

/** The last record of a deleted group (expires with the feed). */
export interface GoneGroup {
  group: Group;
  expiresAt: string;
}

/** A note larger than this drops its old values (`previous`), so it always fits one value. */
const MAX_NOTE_BYTES = 48 * 1024;

/** A conservative size of a value as KV stores it (V8 serialisation: 1 or 2 bytes a char). */
export function estimateBytes(value: unknown): number {
  const s = JSON.stringify(value) ?? "";
  return LATIN1.test(s) ? s.length + 16 : 2 * s.length + 16;
}

// deno-lint-ignore no-control-regex -- one byte a character when every one is Latin-1
const LATIN1 = /^[\x00-\xff]*$/;

/** The JSON length of a value and whether every character of it is Latin-1. */
interface JsonSize {
  chars: number;
  latin1: boolean;
}

/**
 * {@linkcode estimateBytes} of values `{...fields, data}` whose `data` is an object, or an object
 * of objects (`{user, group}`), that many values share: each shared object is serialised once
 * (per sizer), not once per value. The result equals `estimateBytes(value)` exactly: a JSON
 * object's length does not depend on its keys' order, so it is the fields' JSON, the `data` key
 * and the shared objects' JSON added up. Objects must not change while the sizer is used.
 */
export function sharedSizer(): (value: { data: object }) => number {
  const sizes = new WeakMap<object, JsonSize>();
  const sizeOf = (v: unknown): JsonSize => {
    if (typeof v !== "object" || v === null) {
      const j = JSON.stringify(v) ?? "";
      return { chars: j.length, latin1: LATIN1.test(j) };
    }
    let size = sizes.get(v);
    if (!size) {
      const j = JSON.stringify(v) ?? "";
      size = { chars: j.length, latin1: LATIN1.test(j) };
      sizes.set(v, size);
    }
    return size;
  };
  const dataSize = (data: object): JsonSize => {
    if (Array.isArray(data) || "object" in data) return sizeOf(data);
    // A wrapper of rendered objects, as in `{user, group}`: "{" key ":" value ("," …) "}".
    const entries = Object.entries(data);
    if (entries.some(([, v]) => v === undefined || typeof v !== "object" || v === null)) {
      return sizeOf(data);
    }
    // Two braces, n - 1 commas, and each `"key":value`.
    let chars = 1 + Math.max(entries.length, 1);
    let latin1 = true;
    for (const [k, v] of entries) {
      const key = sizeOf(k);
      const value = sizeOf(v);
      chars += key.chars + 1 + value.chars;
      latin1 &&= key.latin1 && value.latin1;
    }
    return { chars, latin1 };
  };
  return (value) => {
    const { data, ...fields } = value;
    const rest = JSON.stringify(fields);
    const d = dataSize(data);
    // `{…fields}` + `,"data":` + data (fields are never empty: an event has its id and type).
    const chars = rest.length + 8 + d.chars;
    const latin1 = d.latin1 && LATIN1.test(rest);
    return latin1 ? chars + 16 : 2 * chars + 16;
  };
}

function addNote(kv: Deno.Kv, op: Deno.AtomicOperation, tenantId: string, note: FeedNote): void {
  if (!feedSettings(kv).enabled) return;
  if ("previous" in note && note.previous && estimateBytes(note) > MAX_NOTE_BYTES) {
    // The old values of very large attributes are not kept; the event still says it changed.
    const { idps: _i, attributes: _a, ...small } = note.previous;
    note.previous = small;
    if (estimateBytes(note) > MAX_NOTE_BYTES) delete note.previous;
  }
  op.set(keys.feedNote(tenantId, nextNoteId()), note);
  op.set(keys.feedPending(tenantId), true);
}

/** API fields that never make a `*.updated` (state has its own events, roles theirs). */
const NOT_UPDATES = new Set([
  "object",
  "id",
  "version",
  "created_at",
  "updated_at",
  "roles",
  "state",
]);

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The changed fields' old values between two renders (top-level API fields). */
function previousOf<T extends object>(
  before: T,
  after: T,
  compare: (field: string, a: unknown, b: unknown) => boolean = (_f, a, b) => same(a, b),
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const field of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (NOT_UPDATES.has(field)) continue;
    if (!compare(field, b[field], a[field])) out[field] = b[field] ?? null;
  }
  return out;
}

/** `idps` without each row's state: a state change alone is not an update. */
function idpsWithoutState(idps: unknown): unknown {
  return Array.isArray(idps)
    ? idps.map((r) => ({ ...(r as Record<string, unknown>), state: undefined }))
    : idps;
}

function userView(user: User, row: IdpUser | null): ApiUser {
  return renderUser(user, row && row.idpId === user.sourceIdpId ? [row] : [], [], "");
}

/** What a user write looked like before and after. */
export interface UserChange {
  idpId: string;
  /** The canonical user and the IdP's row before the write (null: none). */
  before: { user: User | null; row: IdpUser | null };
  after: { user: User; row: IdpUser | null };
  /** A SCIM DELETE: the IdP's row is gone, these groups were left. */
  deleted?: { left: string[] };
  at: string;
}

/**
 * Adds the note of a user write to `op` (the write's own operation); nothing when the write
 * changes nothing an application sees.
 */
export function noteUserChange(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  tenantId: string,
  change: UserChange,
): void {
  const { before, after } = change;
  const base = { kind: "user" as const, at: change.at, idpId: change.idpId, userId: after.user.id };
  if (change.deleted) {
    addNote(kv, op, tenantId, { ...base, types: ["user.deleted"], left: change.deleted.left });
    return;
  }
  if (!before.row || !before.user) {
    addNote(kv, op, tenantId, { ...base, types: ["user.created"] });
    return;
  }
  const types: UserNoteType[] = [];
  const previous = previousOf(
    userView(before.user, before.row),
    userView(after.user, after.row),
    (field, a, b) => field === "idps" ? same(idpsWithoutState(a), idpsWithoutState(b)) : same(a, b),
  );
  if (Object.keys(previous).length) types.push("user.updated");
  if (before.user.status !== after.user.status) {
    types.push(after.user.status === "active" ? "user.reactivated" : "user.deactivated");
  }
  if (!types.length) return;
  addNote(kv, op, tenantId, {
    ...base,
    types,
    ...(types.includes("user.updated") ? { previous } : {}),
  });
}

function groupView(group: Group): ApiGroup {
  return renderGroup(group, 0, "");
}

/** What a group write looked like before and after, and the members it added and removed. */
export interface GroupChange {
  idpId: string;
  groupId: string;
  /** Null: created. */
  before: Group | null;
  /** Null: deleted. */
  after: Group | null;
  added: string[];
  removed: string[];
  at: string;
}

/** Adds the note of a group write to `op`; on deletion also the group's last record. */
export function noteGroupChange(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  tenantId: string,
  change: GroupChange,
): void {
  const { before, after } = change;
  const types: GroupNoteType[] = [];
  let previous: Record<string, unknown> | undefined;
  if (!before) types.push("group.created");
  else if (after) {
    previous = previousOf(groupView(before), groupView(after));
    delete previous.member_count;
    if (Object.keys(previous).length) types.push("group.updated");
    else previous = undefined;
  } else {
    types.push("group.deleted");
    if (feedSettings(kv).enabled) {
      const expireIn = feedRetentionMs(kv);
      const gone: GoneGroup = {
        group: before,
        expiresAt: new Date(Date.parse(change.at) + expireIn).toISOString(),
      };
      op.set(keys.feedGoneGroup(tenantId, change.groupId), gone, { expireIn });
    }
  }
  if (!types.length && !change.added.length && !change.removed.length) return;
  addNote(kv, op, tenantId, {
    kind: "group",
    at: change.at,
    idpId: change.idpId,
    groupId: change.groupId,
    types,
    ...(previous ? { previous } : {}),
    added: change.added,
    removed: change.removed,
  });
}

/** Adds the note of membership rows changed outside a group write (journal chunk, user leaving). */
export function noteMembersChange(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  tenantId: string,
  change: { idpId: string; at: string; changes: MembersNote["changes"] },
): void {
  const changes = change.changes.filter((c) => c.added.length || c.removed.length);
  if (!changes.length) return;
  addNote(kv, op, tenantId, { kind: "members", at: change.at, idpId: change.idpId, changes });
}

/** Adds the note of a role mapping change: the sequencer compares these groups' members' roles. */
export function noteRolesChange(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  tenantId: string,
  change: { at: string; groups: RolesNote["groups"] },
): void {
  if (!change.groups.length) return;
  addNote(kv, op, tenantId, { kind: "roles", at: change.at, groups: change.groups });
}
