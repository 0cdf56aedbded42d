/**
 * The large-change journal of a group's membership. Deno KV allows 1000 mutations and 80 KiB of
 * keys per atomic operation: a membership change that fits (a few hundred members) commits in
 * one operation with its event; a larger one is written first as a journal (a header committed
 * atomically with the group's other changes, and parts of up to 1000 ids), then applied chunk
 * by chunk idempotently, then closed with its event. Readers and writers of the group complete a
 * pending journal before they read or write, and start-up completes any left by a crash, so
 * readers see the change whole or not at all. This module is the only code that writes or
 * applies journals.
 * @module
 */
import { keys } from "./keys.ts";
import {
  backoff,
  ContentionError,
  getManyBatched,
  mayRetry,
  stripUndefined,
  u64Delta,
  withLockRetry,
} from "./kv.ts";
import type { ChangeContext, MemberRow } from "./types.ts";
import { addEvent } from "./events.ts";
import { ScimError } from "../scim/errors.ts";
import {
  chunkChanges,
  deleteMembership,
  memberCounts,
  membershipGuards,
  noteMembersChanged,
  setMembership,
} from "./memberships.ts";
import { plural } from "../words.ts";
import { noteMembersChange } from "./feed_notes.ts";

/** Ids per journal part (a KV value holds at most 64 KiB). */
const JOURNAL_PART_IDS = 1000;
/** Most parts a journal may have (200,000 memberships). */
const MAX_PARTS = 200;
/** Parts written in the header's own operation, when there are at most this many. */
const INLINE_PARTS = 10;

/** A pending membership change of a group: who made it, and how large it is. */
export interface Journal {
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

/** The membership change a journal holds. */
export interface JournalledChange {
  add: [string, MemberRow][];
  remove: string[];
  how: string;
  /** Attribute names the change's event lists. */
  changed: string[];
}

/**
 * Adds a journal of `change` to `op` (the group write's operation, which must also set the
 * group's membership version): the header, checked absent, and its parts. Up to ten parts go in
 * `op`; more are written beforehand on their own, invisible to completers until the header is.
 * After `op` commits, {@linkcode completeJournal} applies it.
 */
export async function journalMemberChange(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  ctx: ChangeContext,
  groupId: string,
  change: JournalledChange,
): Promise<void> {
  const { tenantId } = ctx;
  const parts: JournalPart[] = [];
  for (let i = 0; i < Math.max(change.add.length, change.remove.length); i += JOURNAL_PART_IDS) {
    parts.push({
      add: change.add.slice(i, i + JOURNAL_PART_IDS),
      remove: change.remove.slice(i, i + JOURNAL_PART_IDS),
    });
  }
  if (parts.length > MAX_PARTS) {
    throw ScimError.tooMany("Cannot change more than 200,000 memberships at once");
  }
  const journal: Journal = stripUndefined({
    requestId: ctx.requestId,
    actor: ctx.actor,
    idpId: ctx.idpId,
    tokenId: ctx.tokenId,
    clientIp: ctx.clientIp,
    parts: parts.length,
    adds: change.add.length,
    removes: change.remove.length,
    how: change.how,
    changed: change.changed,
  });
  op.check({ key: keys.memberJournal(tenantId, groupId), versionstamp: null });
  op.set(keys.memberJournal(tenantId, groupId), journal);
  if (parts.length <= INLINE_PARTS) {
    parts.forEach((p, i) => op.set(keys.memberJournalPart(tenantId, groupId, i), p));
    return;
  }
  for (let i = 0; i < parts.length; i++) {
    await withLockRetry(() => kv.set(keys.memberJournalPart(tenantId, groupId, i), parts[i]));
  }
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
      const added: string[] = [];
      const removed: string[] = [];
      a.forEach(([id, row], i) => {
        // Already a member (add is idempotent), or deleted since the change was accepted.
        if (addRows[i].versionstamp !== null || links[i].versionstamp === null) return;
        setMembership(op, tenantId, groupId, id, row);
        added.push(id);
      });
      r.forEach((id, i) => {
        if (removeRows[i].versionstamp === null) return;
        deleteMembership(op, tenantId, groupId, id);
        removed.push(id);
      });
      if (!added.length && !removed.length) break;
      if (added.length) {
        op.check(unlinks);
        op.sum(membershipGuards.adds(tenantId, idpId), u64Delta(1));
      }
      const at = new Date().toISOString();
      noteMembersChanged(op, tenantId, groupId, {
        added: added.length,
        removed: removed.length,
        at,
      });
      // The feed's events of exactly the rows this chunk changed, in its commit.
      noteMembersChange(kv, op, tenantId, { idpId, at, changes: [{ groupId, added, removed }] });
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
    summary: `${journal.how}: ${plural(journal.adds, "member")} added, ${journal.removes} removed`,
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
