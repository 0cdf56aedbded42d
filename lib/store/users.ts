/**
 * Users as IdPs provision them: the identity rules of architecture §3, each write one atomic
 * operation with its index entries, canonical record and audit event.
 * @module
 */
import { fitsKey, foldName, keys } from "./keys.ts";
import {
  backoff,
  ContentionError,
  getManyBatched,
  mayRetry,
  u64Delta,
  withLockRetry,
} from "./kv.ts";
import { DEFAULT_MIRRORING, deriveUser } from "./mirroring.ts";
import type { ChangeContext, IdpUser, MirroringConfig, User } from "./types.ts";
import { type EventType } from "../audit/events.ts";
import { addEvent } from "./events.ts";
import { firstMemberships, leaveAllGroups, leaveGroups, membershipGuards } from "./memberships.ts";
import { ScimError } from "../scim/errors.ts";
import { endSessionsIn, readSessionEnding } from "./person_sessions.ts";
import { noteUserChange } from "./feed_notes.ts";

/** What an IdP says about a user: its resource plus the two fields kept apart. */
export interface UserState {
  resource: Record<string, unknown>;
  externalId?: string;
  /** Absent means "leave as it is" (a new user starts active). */
  active?: boolean;
}

/** An IdP row with the versionstamp it was read at. */
export interface LinkedUser {
  link: IdpUser;
  versionstamp: string;
}

/** Splits a validated resource body into the row's resource, externalId and active. */
export function toUserState(body: Record<string, unknown>): UserState {
  const { externalId, active, ...resource } = body;
  return {
    resource,
    externalId: typeof externalId === "string" && externalId !== "" ? externalId : undefined,
    active: typeof active === "boolean" ? active : undefined,
  };
}

/** Work emails (or every email) of a resource, lower-cased, for the email index. */
function emailsOf(resource: Record<string, unknown>): string[] {
  const emails = resource.emails;
  if (!Array.isArray(emails)) return [];
  const out = new Set<string>();
  for (const e of emails) {
    if (e && typeof e === "object" && typeof (e as { value?: unknown }).value === "string") {
      out.add((e as { value: string }).value.toLowerCase());
    }
  }
  return [...out];
}

/** Whether the IdP's externalId is the merge key (architecture §3.1a); see `Idp.matchBy`. */
function mergesOnExternalId(ctx: ChangeContext): boolean {
  return ctx.matchBy !== "userName";
}

function userNameOf(state: { resource: Record<string, unknown> }): string {
  return String(state.resource.userName ?? "");
}

/** Reads one IdP row. */
export async function getLinkedUser(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  userId: string,
): Promise<LinkedUser | null> {
  if (!fitsKey(userId)) return null;
  const entry = await kv.get<IdpUser>(keys.idpUser(tenantId, idpId, userId));
  return entry.value ? { link: entry.value, versionstamp: entry.versionstamp } : null;
}

/** Reads many IdP rows by id, in order, skipping missing ones. */
export async function getLinkedUsers(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  userIds: string[],
): Promise<LinkedUser[]> {
  const entries = await getManyBatched<IdpUser>(
    kv,
    userIds.filter(fitsKey).map((id) => keys.idpUser(tenantId, idpId, id)),
  );
  return entries.flatMap((e) => e.value ? [{ link: e.value, versionstamp: e.versionstamp! }] : []);
}

/** The outcome of a user write. */
export interface UserWriteResult extends LinkedUser {
  /** 201 for a new user, 200 otherwise. */
  status: 200 | 201;
  changed: boolean;
}

interface WritePlan {
  userId: string;
  linkEntry: Deno.KvEntryMaybe<IdpUser> | null;
  userEntry: Deno.KvEntryMaybe<User> | null;
  next: IdpUser;
  /** The POST/PUT/PATCH verb in event summaries. */
  how: string;
  isCreate: boolean;
  /** A relink consumes the IdP's tombstone for this externalId. */
  clearUnlinked?: string;
  eventType?: EventType;
  /** Further conditions the commit must meet (what the plan assumed without reading). */
  assumed?: Deno.AtomicCheck[];
}

function changedAttributes(before: IdpUser | null, after: IdpUser): string[] {
  const names = new Set<string>();
  const a = before?.resource ?? {};
  const b = after.resource;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) names.add(k);
  }
  if (before?.externalId !== after.externalId) names.add("externalId");
  if (before?.active !== after.active) names.add("active");
  return [...names].sort();
}

/**
 * Commits a planned write: the row, its unique and email indexes, the canonical user, the counter
 * and the events, in one atomic operation. Returns null when a concurrent write got there first.
 */
async function commitWrite(
  kv: Deno.Kv,
  ctx: ChangeContext,
  plan: WritePlan,
  mirroring: MirroringConfig,
): Promise<{ ok: true; versionstamp: string; changed: boolean } | { ok: false }> {
  const { tenantId, idpId } = ctx;
  const before = plan.linkEntry?.value ?? null;
  const changed = changedAttributes(before, plan.next);
  if (before && changed.length === 0 && !plan.clearUnlinked) {
    return { ok: true, versionstamp: plan.linkEntry!.versionstamp!, changed: false };
  }
  // A deactivation ends the person's sign-in sessions in the same write.
  const deactivates = before !== null && before.active && !plan.next.active;
  const ending = deactivates ? await readSessionEnding(kv, tenantId, plan.userId) : null;
  const op = kv.atomic();
  for (const check of plan.assumed ?? []) op.check(check);
  op.check({
    key: keys.idpUser(tenantId, idpId, plan.userId),
    versionstamp: plan.linkEntry?.versionstamp ?? null,
  });
  op.check({
    key: keys.user(tenantId, plan.userId),
    versionstamp: plan.userEntry?.versionstamp ?? null,
  });

  const oldName = before ? foldName(userNameOf(before)) : undefined;
  const newName = foldName(userNameOf(plan.next));
  if (oldName !== newName) {
    if (oldName !== undefined) op.delete(keys.idpUserByUserName(tenantId, idpId, oldName));
    op.check({ key: keys.idpUserByUserName(tenantId, idpId, newName), versionstamp: null });
    op.set(keys.idpUserByUserName(tenantId, idpId, newName), plan.userId);
  }
  const oldExt = before?.externalId;
  const newExt = plan.next.externalId;
  if (oldExt !== newExt) {
    // An IdP that merges on externalId keeps it unique (one key); others keep the non-unique
    // index. Rows written before this rule may hold both, so both are deleted on a change.
    if (oldExt !== undefined) {
      op.delete(keys.idpUserByExternalIdAny(tenantId, idpId, oldExt, plan.userId));
      if (mergesOnExternalId(ctx)) op.delete(keys.idpUserByExternalId(tenantId, idpId, oldExt));
    }
    if (newExt !== undefined) {
      if (mergesOnExternalId(ctx)) {
        op.check({ key: keys.idpUserByExternalId(tenantId, idpId, newExt), versionstamp: null });
        op.set(keys.idpUserByExternalId(tenantId, idpId, newExt), plan.userId);
      } else {
        op.set(keys.idpUserByExternalIdAny(tenantId, idpId, newExt, plan.userId), null);
      }
    }
  }
  if (plan.clearUnlinked) {
    op.delete(keys.idpUnlinkedByExternalId(tenantId, idpId, plan.clearUnlinked));
  }
  const oldEmails = new Set(before ? emailsOf(before.resource) : []);
  const newEmails = new Set(emailsOf(plan.next.resource));
  for (const e of oldEmails) {
    if (!newEmails.has(e)) op.delete(keys.idpUserByEmail(tenantId, idpId, e, plan.userId));
  }
  for (const e of newEmails) {
    if (!oldEmails.has(e)) op.set(keys.idpUserByEmail(tenantId, idpId, e, plan.userId), null);
  }
  if (!before) op.sum(keys.counter(tenantId, "idp_users", idpId), u64Delta(1));

  op.set(keys.idpUser(tenantId, idpId, plan.userId), plan.next);
  const user = deriveUser(
    plan.next,
    mirroring,
    tenantId,
    plan.userEntry?.value ?? null,
    plan.next.lastModified,
  );
  op.set(keys.user(tenantId, plan.userId), user);
  noteUserChange(kv, op, tenantId, {
    idpId,
    at: plan.next.lastModified,
    before: { user: plan.userEntry?.value ?? null, row: before },
    after: { user, row: plan.next },
  });

  const target = { kind: "user" as const, id: plan.userId };
  const mainType: EventType = plan.eventType ??
    (plan.isCreate ? "scim_user_received" : "scim_user_updated");
  const onlyActive = changed.length === 1 && changed[0] === "active";
  if (!onlyActive || plan.isCreate || plan.eventType) {
    addEvent(op, ctx, {
      type: mainType,
      target,
      changed,
      summary: `${plan.how}: ${changed.length} attribute${changed.length === 1 ? "" : "s"} changed`,
    });
  }
  if (before && before.active !== plan.next.active) {
    addEvent(op, ctx, {
      type: plan.next.active ? "scim_user_reactivated" : "scim_user_deactivated",
      target,
      changed: ["active"],
      summary: `${plan.how}: user ${plan.next.active ? "reactivated" : "deactivated"}`,
    });
  }
  if (ending) endSessionsIn(op, ctx, plan.userId, ending, `${plan.how}: user deactivated`);
  const res = await withLockRetry(() => op.commit());
  return res.ok ? { ok: true, versionstamp: res.versionstamp, changed: true } : { ok: false };
}

/** After a failed commit: which unique index (if any) is held by another user. */
async function uniquenessConflict(
  kv: Deno.Kv,
  ctx: ChangeContext,
  userId: string,
  next: IdpUser,
): Promise<ScimError | null> {
  const [byName, byExt] = await kv.getMany<[string, string]>([
    keys.idpUserByUserName(ctx.tenantId, ctx.idpId, userNameOf(next).toLowerCase()),
    next.externalId !== undefined
      ? keys.idpUserByExternalId(ctx.tenantId, ctx.idpId, next.externalId)
      : keys.idpUserByExternalId(ctx.tenantId, ctx.idpId, "\u0000none"),
  ]);
  if (byName.value && byName.value !== userId) {
    return ScimError.uniqueness("userName is already taken by another user of this IdP");
  }
  if (mergesOnExternalId(ctx) && byExt.value && byExt.value !== userId) {
    return ScimError.uniqueness("externalId is already linked to another user of this IdP");
  }
  return null;
}

function newLink(
  userId: string,
  idpId: string,
  state: UserState,
  now: string,
  created?: string,
): IdpUser {
  const link: IdpUser = {
    userId,
    idpId,
    active: state.active ?? true,
    resource: state.resource,
    created: created ?? now,
    lastModified: now,
    receivedAt: now,
  };
  if (state.externalId !== undefined) link.externalId = state.externalId;
  return link;
}

/**
 * POST /Users: create, or merge into the user this IdP already knows by externalId, or relink a
 * deactivated / never-linked user with the same userName; 409 for a real duplicate (architecture §3.1).
 */
export async function createOrMergeUser(
  kv: Deno.Kv,
  ctx: ChangeContext,
  state: UserState,
  options: { how?: string } = {},
): Promise<UserWriteResult> {
  const created = options.how ?? "POST created";
  const optimistic = await createOptimistically(kv, ctx, state, created);
  if (optimistic) return optimistic;
  let mirroring: MirroringConfig | null = null;
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    if (attempt > 0) await backoff(attempt);
    const now = new Date().toISOString();
    const found = await findIdentity(kv, ctx, state);
    mirroring ??= found.mirroring;
    const known = found.byExternalId ?? found.unlinked;
    const plan = known
      ? await planKnownPerson(kv, ctx, state, { userId: known, linked: !!found.byExternalId }, now)
      : found.byUserName
      ? await planRelink(kv, ctx, state, found.byUserName, now)
      : planNewPerson(ctx, state, now, created);
    // An index moved under us: read again.
    if (!plan) continue;
    const res = await commitWrite(kv, ctx, plan, mirroring);
    if (res.ok) {
      return {
        link: res.changed ? plan.next : plan.linkEntry!.value!,
        versionstamp: res.versionstamp,
        // New in this IdP's view (a new person, or a relink after DELETE) → 201.
        status: plan.linkEntry ? 200 : 201,
        changed: res.changed,
      };
    }
    // Lost a race. For a new person the next attempt's lookups decide (merge, relink or 409);
    // an existing user whose new userName/externalId another user holds is a real conflict.
    if (plan.userEntry || plan.linkEntry) {
      const conflict = await uniquenessConflict(kv, ctx, plan.userId, plan.next);
      if (conflict) throw conflict;
    }
  }
  throw new ContentionError("user");
}

/** Who a POST may be about, from the identity indexes (architecture §3.1). */
interface FoundIdentity {
  mirroring: MirroringConfig;
  /** The user of this IdP holding the userName. */
  byUserName: string | null;
  /** The user linked to the externalId (IdPs that merge on it). */
  byExternalId: string | null;
  /** The user this IdP deleted while it had that externalId. */
  unlinked: string | null;
}

/** Reads the identity indexes and the mirroring configuration in one round trip. */
async function findIdentity(
  kv: Deno.Kv,
  ctx: ChangeContext,
  state: UserState,
): Promise<FoundIdentity> {
  const { tenantId, idpId } = ctx;
  const byExternalId = state.externalId !== undefined && mergesOnExternalId(ctx);
  const [config, byName, ...ext] = await kv.getMany<unknown[]>([
    keys.setting(tenantId, "mirroring"),
    keys.idpUserByUserName(tenantId, idpId, userNameOf(state).toLowerCase()),
    ...(byExternalId
      ? [
        keys.idpUserByExternalId(tenantId, idpId, state.externalId!),
        keys.idpUnlinkedByExternalId(tenantId, idpId, state.externalId!),
      ]
      : []),
  ]);
  rememberMirroring(kv, tenantId, config as Deno.KvEntryMaybe<MirroringConfig>);
  return {
    mirroring: (config.value as MirroringConfig | null) ?? DEFAULT_MIRRORING,
    byUserName: byName.value as string | null,
    byExternalId: (ext[0]?.value ?? null) as string | null,
    unlinked: (ext[1]?.value ?? null) as string | null,
  };
}

/**
 * (a) The IdP already knows this person by externalId (linked, or deleted by it): the same user,
 * whatever else changed. Null when the index moved under the read.
 */
async function planKnownPerson(
  kv: Deno.Kv,
  ctx: ChangeContext,
  state: UserState,
  known: { userId: string; linked: boolean },
  now: string,
): Promise<WritePlan | null> {
  const { tenantId, idpId } = ctx;
  const { userId } = known;
  const [linkEntry, userEntry] = await kv.getMany<[IdpUser, User]>([
    keys.idpUser(tenantId, idpId, userId),
    keys.user(tenantId, userId),
  ]);
  if (known.linked && !linkEntry.value) return null;
  const prev = linkEntry.value;
  const next = newLink(
    userId,
    idpId,
    { ...state, active: state.active ?? prev?.active ?? true },
    now,
    prev?.created,
  );
  if (prev) next.receivedAt = now;
  const reactivated = !prev && userEntry.value?.status === "deactivated" && next.active;
  return {
    userId,
    linkEntry: linkEntry.value ? linkEntry : null,
    userEntry: userEntry.value ? userEntry : null,
    next,
    how: prev ? "POST merged by externalId" : reactivated
      // A relink after DELETE reactivates the canonical user: record it as such.
      ? "POST relinked and reactivated a deleted user"
      : "POST relinked a deleted user by externalId",
    isCreate: !prev,
    clearUnlinked: !known.linked ? state.externalId : undefined,
    eventType: "scim_user_received",
  };
}

/**
 * (b) A user of this IdP holds the userName: relink it when it is deactivated, or adopt it when
 * it has no externalId and the POST brings one; (c) otherwise 409. Null when the index moved.
 */
async function planRelink(
  kv: Deno.Kv,
  ctx: ChangeContext,
  state: UserState,
  userId: string,
  now: string,
): Promise<WritePlan | null> {
  const { tenantId, idpId } = ctx;
  const [linkEntry, userEntry] = await kv.getMany<[IdpUser, User]>([
    keys.idpUser(tenantId, idpId, userId),
    keys.user(tenantId, userId),
  ]);
  const prev = linkEntry.value;
  if (!prev) return null;
  const relinkable = !prev.active ||
    (prev.externalId === undefined && state.externalId !== undefined && mergesOnExternalId(ctx));
  if (!relinkable) {
    throw ScimError.uniqueness(
      prev.externalId !== undefined && state.externalId !== undefined
        ? "userName is already taken by an active user linked to a different externalId"
        : "userName is already taken by an active user of this IdP",
    );
  }
  return {
    userId,
    linkEntry,
    userEntry: userEntry.value ? userEntry : null,
    next: newLink(
      userId,
      idpId,
      {
        ...state,
        externalId: state.externalId ?? prev.externalId,
        active: state.active ?? true,
      },
      now,
      prev.created,
    ),
    how: "POST relinked by userName",
    isCreate: false,
    eventType: "scim_user_received",
  };
}

/** (d) A new person. */
function planNewPerson(ctx: ChangeContext, state: UserState, now: string, how: string): WritePlan {
  const userId = crypto.randomUUID();
  return {
    userId,
    linkEntry: null,
    userEntry: null,
    next: newLink(userId, ctx.idpId, state, now),
    how,
    isCreate: true,
  };
}

/**
 * The mirroring configuration each tenant had when this process last read it, per store. Only a
 * guess: a write that uses it checks its versionstamp at commit.
 */
const knownMirroring = new WeakMap<
  Deno.Kv,
  Map<string, { versionstamp: string | null; config: MirroringConfig }>
>();

function rememberMirroring(
  kv: Deno.Kv,
  tenantId: string,
  entry: Deno.KvEntryMaybe<MirroringConfig>,
): void {
  let byTenant = knownMirroring.get(kv);
  if (!byTenant) knownMirroring.set(kv, byTenant = new Map());
  if (byTenant.size >= 10_000) byTenant.clear();
  byTenant.set(tenantId, {
    versionstamp: entry.versionstamp,
    config: entry.value ?? DEFAULT_MIRRORING,
  });
}

/**
 * Most POSTs bring a new person. This commits one without reading first, on the condition that
 * it is new — no user of this IdP holds its userName or externalId and no tombstone of a deleted
 * one holds the externalId — and that the tenant's mirroring configuration is still the one this
 * process last read. When any condition fails nothing is written and the caller takes the path
 * that reads (merge, relink, 409). Null when it did not commit.
 */
async function createOptimistically(
  kv: Deno.Kv,
  ctx: ChangeContext,
  state: UserState,
  how: string,
): Promise<UserWriteResult | null> {
  const { tenantId, idpId } = ctx;
  const known = knownMirroring.get(kv)?.get(tenantId);
  if (!known) return null;
  const assumed: Deno.AtomicCheck[] = [
    { key: keys.setting(tenantId, "mirroring"), versionstamp: known.versionstamp },
  ];
  if (state.externalId !== undefined && mergesOnExternalId(ctx)) {
    // commitWrite checks the userName and externalId indexes; the tombstone is checked here.
    assumed.push({
      key: keys.idpUnlinkedByExternalId(tenantId, idpId, state.externalId),
      versionstamp: null,
    });
  }
  const userId = crypto.randomUUID();
  const plan: WritePlan = {
    userId,
    linkEntry: null,
    userEntry: null,
    next: newLink(userId, idpId, state, new Date().toISOString()),
    how,
    isCreate: true,
    assumed,
  };
  const res = await commitWrite(kv, ctx, plan, known.config);
  return res.ok
    ? { link: plan.next, versionstamp: res.versionstamp, status: 201, changed: true }
    : null;
}

/** Options for {@linkcode updateUser}. */
export interface UpdateOptions {
  /** The `If-Match` ETag versionstamp; mismatch → 412. */
  ifMatch?: string;
  /** Event summary verb, e.g. "PATCH" or "PUT". */
  how: string;
}

/**
 * Read-modify-write of one IdP row: `mutate` gets the current state and returns the next one
 * (pure; it may be called again after a concurrent change). 404 when the row does not exist.
 */
export async function updateUser(
  kv: Deno.Kv,
  ctx: ChangeContext,
  userId: string,
  mutate: (current: UserState & { active: boolean }) => UserState,
  options: UpdateOptions,
): Promise<UserWriteResult> {
  const { tenantId, idpId } = ctx;
  if (!fitsKey(userId)) throw ScimError.notFound(`User "${userId.slice(0, 64)}…" not found`);
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    if (attempt > 0) await backoff(attempt);
    // The first attempt derives with the mirroring configuration this process last read and
    // checks at commit that it is still current; a retry reads it.
    const known = attempt === 0 ? knownMirroring.get(kv)?.get(tenantId) : undefined;
    const reads: Deno.KvKey[] = [
      keys.idpUser(tenantId, idpId, userId),
      keys.user(tenantId, userId),
    ];
    if (!known) reads.push(keys.setting(tenantId, "mirroring"));
    const [linkEntry, userEntry, config] = await kv.getMany(reads) as [
      Deno.KvEntryMaybe<IdpUser>,
      Deno.KvEntryMaybe<User>,
      Deno.KvEntryMaybe<MirroringConfig> | undefined,
    ];
    if (config) rememberMirroring(kv, tenantId, config);
    const mirroring = known?.config ?? config?.value ?? DEFAULT_MIRRORING;
    const prev = linkEntry.value;
    if (!prev) throw ScimError.notFound(`User "${userId}" not found`);
    if (options.ifMatch !== undefined && options.ifMatch !== linkEntry.versionstamp) {
      throw ScimError.preconditionFailed(
        "The user changed since it was read (If-Match does not match meta.version)",
      );
    }
    const state = mutate({
      resource: prev.resource,
      externalId: prev.externalId,
      active: prev.active,
    });
    const now = new Date().toISOString();
    const next: IdpUser = {
      ...newLink(
        userId,
        idpId,
        { ...state, active: state.active ?? prev.active },
        now,
        prev.created,
      ),
    };
    const plan: WritePlan = {
      userId,
      linkEntry,
      userEntry: userEntry.value ? userEntry : null,
      next,
      how: options.how,
      isCreate: false,
      assumed: known
        ? [{ key: keys.setting(tenantId, "mirroring"), versionstamp: known.versionstamp }]
        : undefined,
    };
    const res = await commitWrite(kv, ctx, plan, mirroring);
    if (res.ok) {
      return {
        link: res.changed ? next : prev,
        versionstamp: res.versionstamp,
        status: 200,
        changed: res.changed,
      };
    }
    const conflict = await uniquenessConflict(kv, ctx, userId, next);
    if (conflict) throw conflict;
  }
  throw new ContentionError("user");
}

/**
 * DELETE /Users/{id}: deprovision. The user is deactivated, removed from this IdP's view and its
 * groups; the canonical record and history stay, and a later POST with the same externalId relinks.
 */
export async function deleteUser(
  kv: Deno.Kv,
  ctx: ChangeContext,
  userId: string,
  options: { ifMatch?: string } = {},
): Promise<void> {
  const { tenantId, idpId } = ctx;
  if (!fitsKey(userId)) throw ScimError.notFound(`User "${userId.slice(0, 64)}…" not found`);
  for (let attempt = 0, started = Date.now(); mayRetry(attempt, started); attempt++) {
    if (attempt > 0) await backoff(attempt);
    // The IdP's member-add version is read before the user's memberships are listed: a group
    // that adds the user after the listing changes it, and this commit fails and lists again.
    const [linkEntry, userEntry, adds] = await kv.getMany<[IdpUser, User, unknown]>([
      keys.idpUser(tenantId, idpId, userId),
      keys.user(tenantId, userId),
      membershipGuards.adds(tenantId, idpId),
    ]);
    const link = linkEntry.value;
    if (!link) throw ScimError.notFound(`User "${userId}" not found`);
    if (options.ifMatch !== undefined && options.ifMatch !== linkEntry.versionstamp) {
      throw ScimError.preconditionFailed("The user changed since it was read");
    }
    // One operation takes the first memberships, within the store's checks beside four others
    // (the link, the user, the add version, and the user's sign-in sessions: none may start
    // meanwhile); the rest follow.
    const memberships = await firstMemberships(kv, tenantId, userId, 4);
    const ending = await readSessionEnding(kv, tenantId, userId);
    const op = kv.atomic().check(linkEntry).check(userEntry).check(adds);
    // Groups adding members check this, so none adds the user once it is unlinked.
    op.sum(membershipGuards.unlinks(tenantId, idpId), u64Delta(1));
    const now = new Date().toISOString();
    op.delete(linkEntry.key);
    op.delete(keys.idpUserByUserName(tenantId, idpId, userNameOf(link).toLowerCase()));
    if (link.externalId !== undefined) {
      op.delete(keys.idpUserByExternalIdAny(tenantId, idpId, link.externalId, userId));
      if (mergesOnExternalId(ctx)) {
        op.delete(keys.idpUserByExternalId(tenantId, idpId, link.externalId));
        op.set(keys.idpUnlinkedByExternalId(tenantId, idpId, link.externalId), userId);
      }
    }
    for (const e of emailsOf(link.resource)) {
      op.delete(keys.idpUserByEmail(tenantId, idpId, e, userId));
    }
    op.sum(keys.counter(tenantId, "idp_users", idpId), u64Delta(-1));
    leaveGroups(op, tenantId, userId, memberships.rows, now);
    if (userEntry.value) {
      const deprovisioned: User = { ...userEntry.value, status: "deactivated", updatedAt: now };
      op.set(keys.user(tenantId, userId), deprovisioned);
      noteUserChange(kv, op, tenantId, {
        idpId,
        at: now,
        before: { user: userEntry.value, row: link },
        after: { user: deprovisioned, row: null },
        deleted: { left: memberships.rows.map((r) => String(r.key.at(-1))) },
      });
    }
    addEvent(op, ctx, {
      type: "scim_user_deleted",
      target: { kind: "user", id: userId },
      counts: { groupsLeft: memberships.rows.length },
      summary: "DELETE: user deprovisioned and unlinked from this IdP",
    });
    endSessionsIn(op, ctx, userId, ending, "DELETE");
    const res = await withLockRetry(() => op.commit());
    if (res.ok) {
      if (memberships.more) await leaveAllGroups(kv, tenantId, userId, idpId);
      return;
    }
  }
  throw new ContentionError("user deletion");
}

/** Canonical user records by id, in order (null where there is none). */
export async function getUsers(
  kv: Deno.Kv,
  tenantId: string,
  userIds: string[],
): Promise<(User | null)[]> {
  const entries = await getManyBatched<User>(
    kv,
    userIds.map((id) => fitsKey(id) ? keys.user(tenantId, id) : keys.user(tenantId, "")),
  );
  return entries.map((e, i) => fitsKey(userIds[i]) ? e.value : null);
}

/** Canonical user record. */
export async function getUser(kv: Deno.Kv, tenantId: string, userId: string): Promise<User | null> {
  if (!fitsKey(userId)) return null;
  return (await kv.get<User>(keys.user(tenantId, userId))).value;
}
