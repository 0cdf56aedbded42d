/**
 * Replaying the events feed from the start rebuilds the directory (issue 11): after a random mix
 * of SCIM changes, applying every event in order — the latest data of each user and group, the
 * memberships from `group.user_added` / `group.user_removed`, groups gone on `group.deleted` —
 * gives exactly the users, groups and members the store renders now.
 * @module
 */
import assert from "node:assert/strict";
import {
  createTestApp,
  expectScim,
  PATCH_OP,
  patchGroup,
  randomUser,
  type TestApp,
} from "./_helpers.ts";
import { readFeed } from "../lib/store/feed.ts";
import { loadApiGroups, loadApiUsers } from "../lib/store/api_views.ts";
import { listMembers } from "../lib/store/memberships.ts";
import { keys } from "../lib/store/keys.ts";
import type {
  ApiGroup,
  ApiUser,
  MembershipEventData,
  PublicEvent,
  RoleEventData,
} from "../lib/directory/types.ts";
import { createRole, setRoleMapping } from "../lib/store/roles.ts";

/** A small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

async function feed(t: TestApp): Promise<PublicEvent[]> {
  const out: PublicEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await readFeed(t.kv, t.tenant.id, { after, limit: 200 });
    if (!page.events.length) return out;
    out.push(...page.events);
    after = page.next ?? undefined;
  }
}

for (const seed of [7, 42]) {
  Deno.test(`feed replay - rebuilds the directory the store renders (seed ${seed})`, async () => {
    await using t = await createTestApp();
    const random = rng(seed);
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
    const users: string[] = [];
    const groups: string[] = [];
    await createRole(t.kv, t.tenant.id, { slug: "staff", name: "Staff" }, "test");
    for (let step = 0; step < 120; step++) {
      const r = random();
      if (r < 0.25 || users.length < 3) {
        const body = await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
        users.push(String(body.id));
      } else if (r < 0.4) {
        await expectScim(
          await t.scim("PATCH", `/Users/${pick(users)}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: "replace", path: "displayName", value: `Name ${step}` }],
          }),
          200,
        );
      } else if (r < 0.5) {
        await expectScim(
          await t.scim("PATCH", `/Users/${pick(users)}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: "replace", path: "active", value: random() < 0.5 }],
          }),
          200,
        );
      } else if (r < 0.6 || groups.length < 2) {
        const body = await expectScim(
          await t.scim("POST", "/Groups", {
            schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            displayName: `Group ${step}`,
            members: [{ value: pick(users) }],
          }),
          201,
        );
        groups.push(String(body.id));
        if (random() < 0.5) {
          await setRoleMapping(t.kv, t.tenant.id, {
            slug: "staff",
            idpId: t.idp.id,
            group: String(body.id),
            mapped: true,
          }, "test");
        }
      } else if (r < 0.8) {
        const res = await patchGroup(t, pick(groups), [{
          op: random() < 0.6 ? "add" : "remove",
          path: "members",
          value: [{ value: pick(users) }, { value: pick(users) }],
        }]);
        assert.ok([200, 204].includes(res.status), String(res.status));
        await res.body?.cancel();
      } else if (r < 0.87) {
        await expectScim(
          await patchGroup(t, pick(groups), [
            { op: "replace", path: "displayName", value: `Renamed ${step}` },
          ]),
          204,
        );
      } else if (r < 0.93 && groups.length > 2) {
        const g = groups.splice(Math.floor(random() * groups.length), 1)[0];
        await expectScim(await t.scim("DELETE", `/Groups/${g}`), 204);
      } else if (users.length > 4) {
        const u = users.splice(Math.floor(random() * users.length), 1)[0];
        await expectScim(await t.scim("DELETE", `/Users/${u}`), 204);
      }
    }

    // Replay.
    const seenUsers = new Map<string, ApiUser>();
    const seenGroups = new Map<string, ApiGroup>();
    const members = new Map<string, Set<string>>();
    const events = await feed(t);
    assert.ok(events.length > 120, `events: ${events.length}`);
    assert.ok(events.some((e) => e.type === "role.assigned"), "some role was assigned");
    for (const e of events) {
      if (e.type.startsWith("user.")) seenUsers.set((e.data as ApiUser).id, e.data as ApiUser);
      else if (e.type === "group.deleted") {
        seenGroups.delete((e.data as ApiGroup).id);
        members.delete((e.data as ApiGroup).id);
      } else if (e.type.startsWith("group.user_")) {
        const { user, group } = e.data as MembershipEventData;
        seenUsers.set(user.id, user);
        seenGroups.set(group.id, group);
        const set = members.get(group.id) ?? new Set();
        if (e.type === "group.user_added") set.add(user.id);
        else set.delete(user.id);
        members.set(group.id, set);
      } else if (e.type.startsWith("group.")) {
        seenGroups.set((e.data as ApiGroup).id, e.data as ApiGroup);
      } else if (e.type.startsWith("role.")) {
        const { user } = e.data as RoleEventData;
        seenUsers.set(user.id, user);
      }
    }

    // The store, as the read API renders it.
    const allUsers = await Array.fromAsync(t.kv.list({ prefix: keys.users(t.tenant.id) }));
    const ids = allUsers.map((e) => String(e.key.at(-1)));
    const rendered = await loadApiUsers(t.kv, t.tenant.id, ids);
    assert.deepEqual(new Map([...seenUsers].sort()), new Map([...rendered].sort()));
    const liveGroups = await loadApiGroups(t.kv, t.tenant.id, t.idp.id, groups);
    assert.deepEqual(new Map([...seenGroups].sort()), new Map([...liveGroups].sort()));
    for (const g of groups) {
      const { members: stored } = await listMembers(t.kv, t.tenant.id, g);
      assert.deepEqual(
        [...(members.get(g) ?? [])].sort(),
        stored.map((m) => m.userId).sort(),
        `members of ${g}`,
      );
    }
  });
}
