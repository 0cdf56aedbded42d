/**
 * Planning a membership change: member references resolved to user ids of the IdP (a user id,
 * or, tolerated, the user's externalId), and ordered member operations (add, remove by value,
 * by filter or all, replace) turned into the exact adds and removes against the stored rows,
 * read in one wave. Nothing here writes: `groups.ts` commits the plan.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { getManyBatched, stripUndefined } from "./kv.ts";
import type { ChangeContext, IdpUser, MemberRow } from "./types.ts";
import { ScimError } from "../scim/errors.ts";
import type { MemberOperation } from "../scim/patch/mod.ts";
import { matches } from "../scim/filter/evaluate.ts";
import { attributeLookup, coreSchemaUrn } from "../scim/schema_defs.ts";
import type { Filter } from "../scim/filter/ast.ts";
import { listMembers, type Member } from "./memberships.ts";

/** Member references resolved to user ids, with the membership rows read alongside. */
export interface ResolvedRefs {
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
export async function resolveRefs(
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
export function assertResolved(values: string[], resolved: ResolvedRefs): void {
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
export interface MemberDelta {
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
export async function planMemberChanges(
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
