/**
 * The events feed rebuilds the directory: after random SCIM traffic (users created, updated,
 * deactivated, reactivated and deleted; groups created, renamed and deleted; members added and
 * removed), replaying `GET /api/v1/events` from the start into empty maps gives exactly the users,
 * groups and memberships that `GET /api/v1/users`, `/groups` and `/groups/{id}/members` serve.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createTestApp, expectScim, PATCH_OP, randomUser, type TestApp } from "./_helpers.ts";
import { apiGet, apiKeyOf, expectJson, pageAll } from "./api/_api.ts";
import type {
  ApiGroup,
  ApiUser,
  MembershipEventData,
  PublicEvent,
  RoleEventData,
} from "../lib/directory/types.ts";

const GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group";

/** One SCIM operation of the random traffic (users and groups by pool index). */
type Op =
  | { kind: "createUser"; u: number }
  | { kind: "updateUser"; u: number; name: string }
  | { kind: "setActive"; u: number; active: boolean }
  | { kind: "deleteUser"; u: number }
  | { kind: "createGroup"; g: number }
  | { kind: "renameGroup"; g: number; name: string }
  | { kind: "deleteGroup"; g: number }
  | { kind: "addMembers"; g: number; us: number[] }
  | { kind: "removeMember"; g: number; u: number };

const USERS = 6;
const GROUPS = 3;
const u = fc.integer({ min: 0, max: USERS - 1 });
const g = fc.integer({ min: 0, max: GROUPS - 1 });
const word = fc.stringMatching(/^[A-Za-z]{1,8}$/);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: u.map((u) => ({ kind: "createUser" as const, u })) },
  fc.record({ kind: fc.constant("updateUser" as const), u, name: word }),
  fc.record({ kind: fc.constant("setActive" as const), u, active: fc.boolean() }),
  u.map((u) => ({ kind: "deleteUser" as const, u })),
  { weight: 2, arbitrary: g.map((g) => ({ kind: "createGroup" as const, g })) },
  fc.record({ kind: fc.constant("renameGroup" as const), g, name: word }),
  g.map((g) => ({ kind: "deleteGroup" as const, g })),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("addMembers" as const),
      g,
      us: fc.uniqueArray(u, { minLength: 1, maxLength: 4 }),
    }),
  },
  fc.record({ kind: fc.constant("removeMember" as const), g, u }),
);

/** Some users and groups first (so later operations have targets), then anything. */
const traffic: fc.Arbitrary<Op[]> = fc.tuple(
  fc.array(
    fc.oneof(
      u.map((u): Op => ({ kind: "createUser", u })),
      g.map((g): Op => ({ kind: "createGroup", g })),
    ),
    { minLength: 3, maxLength: 9 },
  ),
  fc.array(op, { minLength: 5, maxLength: 40, size: "medium" }),
).map(([setup, rest]) => [...setup, ...rest]);

/** Runs one operation through SCIM; ids of what exists are kept in `ids`. */
async function apply(
  t: TestApp,
  ids: { users: (string | undefined)[]; groups: (string | undefined)[] },
  o: Op,
  n: number,
): Promise<void> {
  const patch = (path: string, Operations: unknown[]) =>
    t.scim("PATCH", path, { schemas: [PATCH_OP], Operations });
  switch (o.kind) {
    case "createUser": {
      if (ids.users[o.u]) return;
      const res = await t.scim("POST", "/Users", randomUser({ externalId: `ext-${o.u}-${n}` }));
      ids.users[o.u] = String((await expectScim(res, 201)).id);
      return;
    }
    case "updateUser": {
      const id = ids.users[o.u];
      if (id) {
        await (await patch(`/Users/${id}`, [{ op: "replace", path: "displayName", value: o.name }]))
          .body?.cancel();
      }
      return;
    }
    case "setActive": {
      const id = ids.users[o.u];
      if (id) {
        await (await patch(`/Users/${id}`, [{ op: "replace", path: "active", value: o.active }]))
          .body?.cancel();
      }
      return;
    }
    case "deleteUser": {
      const id = ids.users[o.u];
      if (!id) return;
      await (await t.scim("DELETE", `/Users/${id}`)).body?.cancel();
      ids.users[o.u] = undefined;
      return;
    }
    case "createGroup": {
      if (ids.groups[o.g]) return;
      const res = await t.scim("POST", "/Groups", {
        schemas: [GROUP_URN],
        displayName: `group-${o.g}-${n}`,
      });
      ids.groups[o.g] = String((await expectScim(res, 201)).id);
      return;
    }
    case "renameGroup": {
      const id = ids.groups[o.g];
      if (id) {
        await (await patch(`/Groups/${id}`, [{
          op: "replace",
          path: "displayName",
          value: `${o.name}-${o.g}-${n}`,
        }])).body?.cancel();
      }
      return;
    }
    case "deleteGroup": {
      const id = ids.groups[o.g];
      if (!id) return;
      await (await t.scim("DELETE", `/Groups/${id}`)).body?.cancel();
      ids.groups[o.g] = undefined;
      return;
    }
    case "addMembers": {
      const id = ids.groups[o.g];
      const members = o.us.flatMap((i) => ids.users[i] ? [{ value: ids.users[i] }] : []);
      if (id && members.length) {
        await (await patch(`/Groups/${id}`, [{ op: "add", path: "members", value: members }])).body
          ?.cancel();
      }
      return;
    }
    case "removeMember": {
      const id = ids.groups[o.g];
      const user = ids.users[o.u];
      if (id && user) {
        await (await patch(`/Groups/${id}`, [{
          op: "remove",
          path: `members[value eq "${user}"]`,
        }])).body?.cancel();
      }
      return;
    }
  }
}

/** The directory the feed describes, replayed from the first event. */
interface Replayed {
  users: Map<string, ApiUser>;
  groups: Map<string, ApiGroup>;
  members: Map<string, Set<string>>;
}

function replayEvents(events: PublicEvent[]): Replayed {
  const r: Replayed = { users: new Map(), groups: new Map(), members: new Map() };
  for (const e of events) {
    switch (e.type) {
      case "user.created":
      case "user.updated":
      case "user.deactivated":
      case "user.reactivated": {
        const user = e.data as ApiUser;
        r.users.set(user.id, user);
        break;
      }
      case "user.deleted":
        r.users.delete((e.data as ApiUser).id);
        break;
      case "group.created":
      case "group.updated": {
        const group = e.data as ApiGroup;
        r.groups.set(group.id, group);
        break;
      }
      case "group.deleted": {
        const group = e.data as ApiGroup;
        r.groups.delete(group.id);
        r.members.delete(group.id);
        break;
      }
      case "group.user_added":
      case "group.user_removed": {
        const { user, group } = e.data as MembershipEventData;
        const set = r.members.get(group.id) ?? new Set<string>();
        if (e.type === "group.user_added") set.add(user.id);
        else set.delete(user.id);
        r.members.set(group.id, set);
        r.groups.set(group.id, group);
        r.users.set(user.id, user);
        break;
      }
      case "role.assigned":
      case "role.unassigned":
        r.users.set((e.data as RoleEventData).user.id, (e.data as RoleEventData).user);
        break;
    }
  }
  return r;
}

/** Every event from the start, following `next_cursor` as `after` until a page is empty. */
async function readFeed(t: TestApp, key: string): Promise<PublicEvent[]> {
  const out: PublicEvent[] = [];
  let after: string | null = null;
  for (let i = 0; i < 10_000; i++) {
    const page: { data: PublicEvent[]; next_cursor: string | null } = await expectJson(
      await apiGet(t, `/events?limit=37${after ? `&after=${after}` : ""}`, key),
      200,
    );
    out.push(...page.data);
    if (!page.data.length) return out;
    after = page.next_cursor;
  }
  throw new Error("the feed did not end");
}

Deno.test({
  name: "GET /api/v1/events replayed from the start rebuilds what the read API serves",
  async fn() {
    await fc.assert(
      fc.asyncProperty(traffic, async (ops) => {
        await using t = await createTestApp();
        const ids = { users: [] as (string | undefined)[], groups: [] as (string | undefined)[] };
        for (const [n, o] of ops.entries()) await apply(t, ids, o, n);
        const key = await apiKeyOf(t);
        const replayed = replayEvents(await readFeed(t, key));

        const users = await pageAll<ApiUser>(t, "/users?limit=7", key);
        // Maps compare by their entries, in any order.
        assert.deepEqual(replayed.users, new Map(users.map((u) => [u.id, u])), "users");
        const groups = await pageAll<ApiGroup>(t, "/groups?limit=2", key);
        assert.deepEqual(replayed.groups, new Map(groups.map((g) => [g.id, g])), "groups");
        for (const group of groups) {
          const members = await pageAll<ApiUser>(t, `/groups/${group.id}/members?limit=3`, key);
          assert.deepEqual(
            [...(replayed.members.get(group.id) ?? [])].sort(),
            members.map((m) => m.id).sort(),
            `members of ${group.id}`,
          );
        }
      }),
      { numRuns: 40 },
    );
  },
});
