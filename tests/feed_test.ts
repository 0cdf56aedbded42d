/**
 * The public events feed (issue 11): every accepted SCIM change gives its public events with the
 * right type, data, previous_attributes and idp_id, in sequence order; a refused write gives
 * none; a journalled member PATCH gives one `group.user_added` per member; role events follow
 * memberships, mappings and state; events expire after the retention; `WEFT_EVENTS_FEED=off`
 * writes none.
 * @module
 */
import assert from "node:assert/strict";
import {
  createGroup,
  createTestApp,
  createUsers,
  expectScim,
  PATCH_OP,
  patchGroup,
  randomUser,
  type TestApp,
} from "./_helpers.ts";
import { readFeed } from "../lib/store/feed.ts";
import { startFeedWorker } from "../lib/store/feed_worker.ts";
import { createLogger } from "../lib/log.ts";
import { createRole, deleteRole, setRoleMapping } from "../lib/store/roles.ts";
import { keys } from "../lib/store/keys.ts";
import { checkInvariants } from "../lib/store/invariants.ts";
import { readRecords, writeRecords } from "../lib/store/dump.ts";
import { estimateBytes, sharedSizer } from "../lib/store/feed_notes.ts";
import { getMirroring, setMirroring } from "../lib/store/mirroring.ts";
import { runMirroringJob, startMirroringJob } from "../lib/store/mirroring_job.ts";
import type {
  ApiGroup,
  ApiUser,
  MembershipEventData,
  PublicEvent,
  RoleEventData,
} from "../lib/directory/types.ts";

/** Every event of the feed after `after`, paged. */
async function allEvents(t: TestApp, after?: string): Promise<PublicEvent[]> {
  const out: PublicEvent[] = [];
  for (;;) {
    const page = await readFeed(t.kv, t.tenant.id, { after, limit: 100 });
    out.push(...page.events);
    if (!page.events.length) return out;
    after = page.next ?? undefined;
  }
}

function types(events: PublicEvent[]): string[] {
  return events.map((e) => e.type);
}

async function createUser(t: TestApp, overrides: Record<string, unknown> = {}): Promise<string> {
  return String((await expectScim(await t.scim("POST", "/Users", randomUser(overrides)), 201)).id);
}

Deno.test("feed - user lifecycle: created, updated with previous_attributes, deactivated, reactivated, deleted", async () => {
  await using t = await createTestApp();
  const id = await createUser(t, { name: { givenName: "Ada", familyName: "Lovelace" } });
  let events = await allEvents(t);
  assert.deepEqual(types(events), ["user.created"]);
  const created = events[0];
  assert.equal(created.id, "evt_0000000000000001");
  assert.equal(created.idp_id, t.idp.id);
  assert.equal((created.data as ApiUser).id, id);
  assert.equal((created.data as ApiUser).first_name, "Ada");
  assert.ok(!Number.isNaN(Date.parse(created.occurred_at)));

  const patch = (ops: unknown[]) =>
    t.scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: ops });
  await expectScim(await patch([{ op: "replace", path: "name.givenName", value: "Augusta" }]), 200);
  events = await allEvents(t, created.id);
  assert.deepEqual(types(events), ["user.updated"]);
  assert.equal((events[0].data as ApiUser).first_name, "Augusta");
  assert.equal(events[0].previous_attributes?.first_name, "Ada");
  assert.ok(!("state" in (events[0].previous_attributes ?? {})));

  await expectScim(await patch([{ op: "replace", path: "active", value: false }]), 200);
  await expectScim(await patch([{ op: "replace", path: "active", value: true }]), 200);
  events = await allEvents(t, events[0].id);
  assert.deepEqual(types(events), ["user.deactivated", "user.reactivated"]);
  // Rendered when sequenced: both show the state the user has now.
  assert.equal((events[1].data as ApiUser).state, "active");

  // Both at once: the update first, then the state change.
  await expectScim(
    await patch([
      { op: "replace", path: "active", value: false },
      { op: "replace", path: "displayName", value: "A. L." },
    ]),
    200,
  );
  const both = await allEvents(t, events[1].id);
  assert.deepEqual(types(both), ["user.updated", "user.deactivated"]);
  assert.ok("display_name" in (both[0].previous_attributes ?? {}));

  await expectScim(await t.scim("DELETE", `/Users/${id}`), 204);
  const deleted = await allEvents(t, both[1].id);
  assert.deepEqual(types(deleted), ["user.deleted"]);
  assert.equal((deleted[0].data as ApiUser).state, "inactive");
  // Ids strictly increase, one by one.
  const all = await allEvents(t);
  assert.deepEqual(
    all.map((e) => e.id),
    all.map((_, i) => `evt_${String(i + 1).padStart(16, "0")}`),
  );
});

Deno.test("feed - refused writes and no-op PATCHes give no event", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  await expectScim(await t.scim("POST", "/Users", user), 201);
  const before = (await allEvents(t)).length;
  assert.equal((await t.scim("POST", "/Users", { ...user, externalId: "other" })).status, 409);
  assert.equal((await t.scim("POST", "/Users", { schemas: [] })).status, 400);
  assert.equal((await t.scim("GET", "/Users/nope")).status, 404);
  assert.equal(
    (await t.scim("PATCH", "/Users/nope", { schemas: [PATCH_OP], Operations: [] })).status >= 400,
    true,
  );
  assert.equal((await allEvents(t)).length, before);
});

Deno.test("feed - groups: created with members, renamed, members removed, deleted", async () => {
  await using t = await createTestApp();
  const [a, b] = await createUsers(t, 2);
  const body = await expectScim(
    await t.scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: "Engineering",
      members: [{ value: a }, { value: b }],
    }),
    201,
  );
  const gid = String(body.id);
  let events = await allEvents(t);
  const start = events.at(-1)!.id;
  assert.deepEqual(types(events).slice(2), [
    "group.created",
    "group.user_added",
    "group.user_added",
  ]);
  const added = events[3].data as MembershipEventData;
  assert.equal(added.group.id, gid);
  assert.deepEqual(
    events.slice(3).map((e) => (e.data as MembershipEventData).user.id).sort(),
    [a, b].sort(),
  );

  await expectScim(
    await patchGroup(t, gid, [
      { op: "replace", path: "displayName", value: "Eng" },
      { op: "remove", path: `members[value eq "${a}"]` },
    ]),
    204,
  );
  events = await allEvents(t, start);
  assert.deepEqual(types(events), ["group.updated", "group.user_removed"]);
  assert.equal(events[0].previous_attributes?.name, "Engineering");
  assert.equal((events[0].data as ApiGroup).name, "Eng");
  assert.equal((events[1].data as MembershipEventData).user.id, a);

  await expectScim(await t.scim("DELETE", `/Groups/${gid}`), 204);
  events = await allEvents(t, events[1].id);
  assert.deepEqual(types(events), ["group.user_removed", "group.deleted"]);
  // The deleted group still renders, from its last record.
  assert.equal((events[1].data as ApiGroup).id, gid);
  assert.equal((events[0].data as MembershipEventData).group.name, "Eng");
});

Deno.test("feed - a journalled 1200-member PATCH gives exactly one group.user_added per member", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 1200);
  const gid = await createGroup(t, "Everyone");
  const start = (await allEvents(t)).at(-1)!.id;
  await expectScim(
    await patchGroup(t, gid, [{
      op: "add",
      path: "members",
      value: ids.map((value) => ({ value })),
    }]),
    204,
  );
  const events = await allEvents(t, start);
  assert.ok(events.every((e) => e.type === "group.user_added"));
  const users = events.map((e) => (e.data as MembershipEventData).user.id);
  assert.equal(users.length, 1200);
  assert.deepEqual([...new Set(users)].sort(), [...ids].sort());
  // Sequenced after the journal completed: every event shows the whole group.
  assert.ok(events.every((e) => (e.data as MembershipEventData).group.member_count === 1200));
  assert.deepEqual(await checkInvariants(t.kv, t.tenant.id), []);
});

Deno.test("feed - filters by type and IdP; next skips what a filtered page examined", async () => {
  await using t = await createTestApp();
  await createUsers(t, 3);
  const other = await t.addIdp();
  await expectScim(
    await t.scim("POST", `${other.base}/Users`, randomUser(), {
      authorization: `Bearer ${other.token}`,
    }),
    201,
  );
  const all = await allEvents(t);
  const page = await readFeed(t.kv, t.tenant.id, { idpId: other.idp.id, limit: 10 });
  assert.equal(page.events.length, 1);
  assert.equal(page.events[0].idp_id, other.idp.id);
  assert.equal(page.next, all.at(-1)!.id);
  const none = await readFeed(t.kv, t.tenant.id, { types: ["group.created"], limit: 10 });
  assert.equal(none.events.length, 0);
  await assert.rejects(readFeed(t.kv, t.tenant.id, { after: "evt_x", limit: 10 }), RangeError);
  await assert.rejects(readFeed(t.kv, t.tenant.id, { limit: 501 }), RangeError);
});

Deno.test("feed - roles follow memberships, mappings and state", async () => {
  await using t = await createTestApp();
  const [a, b] = await createUsers(t, 2);
  const gid = await createGroup(t, "Admins");
  await createRole(t.kv, t.tenant.id, { slug: "admin", name: "Administrator" }, "test");
  await expectScim(
    await patchGroup(t, gid, [{ op: "add", path: "members", value: [{ value: a }] }]),
    204,
  );
  let start = (await allEvents(t)).at(-1)!.id;

  // Mapping the group assigns the role to its members.
  await setRoleMapping(t.kv, t.tenant.id, {
    slug: "admin",
    idpId: t.idp.id,
    group: "admins",
    mapped: true,
  }, "test");
  let events = await allEvents(t, start);
  assert.deepEqual(types(events), ["role.assigned"]);
  const data = events[0].data as RoleEventData;
  assert.equal(data.user.id, a);
  assert.deepEqual(data.role, { slug: "admin", name: "Administrator" });
  assert.deepEqual(data.user.roles, [{ slug: "admin", name: "Administrator" }]);
  start = events[0].id;

  // A new member gains it, a removed one loses it.
  await expectScim(
    await patchGroup(t, gid, [
      { op: "add", path: "members", value: [{ value: b }] },
      { op: "remove", path: `members[value eq "${a}"]` },
    ]),
    204,
  );
  events = await allEvents(t, start);
  // Role events follow the membership events, one user after another (in user id order).
  assert.deepEqual(types(events).slice(0, 2), ["group.user_added", "group.user_removed"]);
  const roleEvents = events.slice(2).map((e) => [e.type, (e.data as RoleEventData).user.id]);
  assert.deepEqual(
    roleEvents.sort(),
    [["role.assigned", b], ["role.unassigned", a]],
  );
  start = events.at(-1)!.id;

  // Deactivation takes it away, reactivation gives it back.
  const patch = (value: boolean) =>
    t.scim("PATCH", `/Users/${b}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "active", value }],
    });
  await expectScim(await patch(false), 200);
  events = await allEvents(t, start);
  assert.deepEqual(types(events), ["user.deactivated", "role.unassigned"]);
  await expectScim(await patch(true), 200);
  events = await allEvents(t, events.at(-1)!.id);
  assert.deepEqual(types(events), ["user.reactivated", "role.assigned"]);
  start = events.at(-1)!.id;

  // Deleting the role unassigns it.
  await deleteRole(t.kv, t.tenant.id, "admin", "test");
  events = await allEvents(t, start);
  assert.deepEqual(types(events), ["role.unassigned"]);
  assert.equal((events[0].data as RoleEventData).user.id, b);
});

Deno.test("feed - events are written with the retention's expireIn", async () => {
  await using t = await createTestApp({ WEFT_EVENT_RETENTION_DAYS: "2" });
  await createUser(t);
  const [event] = await allEvents(t);
  const entry = await t.kv.get<{ expiresAt: string }>(keys.feedEntry(t.tenant.id, 1));
  const left = Date.parse(entry.value!.expiresAt) - Date.parse(event.occurred_at);
  assert.ok(Math.abs(left - 2 * 86_400_000) < 60_000, `expires in ${left} ms`);
});

Deno.test("feed - WEFT_EVENTS_FEED=off writes no notes and no events", async () => {
  await using t = await createTestApp({ WEFT_EVENTS_FEED: "off" });
  await createUsers(t, 3);
  const gid = await createGroup(t);
  await expectScim(await t.scim("DELETE", `/Groups/${gid}`), 204);
  const notes = await Array.fromAsync(t.kv.list({ prefix: keys.feedNotes(t.tenant.id) }));
  assert.equal(notes.length, 0);
  assert.equal((await allEvents(t)).length, 0);
});

Deno.test("feed - a backup's records restore the feed, its head, outbox, roles and snapshots", async () => {
  await using t = await createTestApp();
  const [a] = await createUsers(t, 2);
  const gid = await createGroup(t, "Ops");
  await createRole(t.kv, t.tenant.id, { slug: "ops", name: "Ops" }, "test");
  await setRoleMapping(t.kv, t.tenant.id, {
    slug: "ops",
    idpId: t.idp.id,
    group: gid,
    mapped: true,
  }, "test");
  await expectScim(
    await patchGroup(t, gid, [{ op: "add", path: "members", value: [{ value: a }] }]),
    204,
  );
  await expectScim(await t.scim("DELETE", `/Groups/${gid}`), 204);
  const sequenced = await allEvents(t);
  // One change still waiting in the outbox when the backup reads.
  await createUser(t);
  const copy = await Deno.openKv(":memory:");
  try {
    const records = async function* () {
      for await (const r of readRecords(t.kv, { tenant: t.tenant })) {
        yield { ...r, size: r.value instanceof Deno.KvU64 ? 64 : estimateBytes(r.value) + 256 };
      }
    };
    await writeRecords(copy, records());
    const restored: PublicEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await readFeed(copy, t.tenant.id, { after, limit: 100 });
      if (!page.events.length) break;
      restored.push(...page.events);
      after = page.next ?? undefined;
    }
    assert.deepEqual(restored.slice(0, sequenced.length), sequenced);
    assert.deepEqual(types(restored.slice(sequenced.length)), ["user.created"]);
    assert.deepEqual(await checkInvariants(copy, t.tenant.id), []);
    const entry = await copy.get(keys.role(t.tenant.id, "ops"));
    assert.ok(entry.value);
  } finally {
    copy.close();
  }
});

Deno.test("feed - the background worker sequences marked tenants without a read and clears the mark", async () => {
  await using t = await createTestApp();
  const worker = startFeedWorker(t.kv, { log: createLogger("off"), pollMs: 20 });
  try {
    await createUsers(t, 3);
    assert.ok((await t.kv.get(keys.feedPending(t.tenant.id))).value, "the note's commit marks");
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const notes = await Array.fromAsync(t.kv.list({ prefix: keys.feedNotes(t.tenant.id) }));
      const mark = await t.kv.get(keys.feedPending(t.tenant.id));
      if (!notes.length && mark.value === null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const entries = await Array.fromAsync(t.kv.list({ prefix: keys.feedEntries(t.tenant.id) }));
    assert.equal(entries.length, 3, "sequenced by the worker, not by a read");
    assert.equal((await t.kv.get(keys.feedPending(t.tenant.id))).value, null);
    // A later write marks again and is sequenced too.
    await createUsers(t, 1);
    while (Date.now() < deadline) {
      const n =
        (await Array.fromAsync(t.kv.list({ prefix: keys.feedEntries(t.tenant.id) }))).length;
      if (n === 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(
      (await Array.fromAsync(t.kv.list({ prefix: keys.feedEntries(t.tenant.id) }))).length,
      4,
    );
  } finally {
    await worker.close();
  }
});

Deno.test("feed - deleting a mapped group unassigns its members' role; its mapping can be removed", async () => {
  await using t = await createTestApp();
  const [a] = await createUsers(t, 1);
  const gid = await createGroup(t, "Temp");
  await expectScim(
    await patchGroup(t, gid, [{ op: "add", path: "members", value: [{ value: a }] }]),
    204,
  );
  await createRole(t.kv, t.tenant.id, { slug: "temp", name: "Temp" }, "test");
  const mapping = { slug: "temp", idpId: t.idp.id, group: gid };
  await setRoleMapping(t.kv, t.tenant.id, { ...mapping, mapped: true }, "test");
  const start = (await allEvents(t)).at(-1)!.id;
  await expectScim(await t.scim("DELETE", `/Groups/${gid}`), 204);
  const events = await allEvents(t, start);
  assert.deepEqual(types(events), ["group.user_removed", "group.deleted", "role.unassigned"]);
  const res = await setRoleMapping(t.kv, t.tenant.id, { ...mapping, mapped: false }, "test");
  assert.equal(res.changed, true);
});

Deno.test("feed - an event larger than one value is stored in parts and read whole", async () => {
  await using t = await createTestApp();
  // Two bytes a character in the store: the row fits one value, the event (with its IdP
  // attributes) does not.
  const big = (c: string) =>
    Array.from({ length: 8 }, (_, i) => ({ type: `t${i}`, formatted: c.repeat(3_500) }));
  const id = await createUser(t, { addresses: big("ā") });
  const [created] = await allEvents(t);
  assert.deepEqual((created.data as ApiUser).idps[0].attributes.addresses, big("ā"));
  const parts = await Array.fromAsync(t.kv.list({ prefix: ["t", t.tenant.id, "feed_parts"] }));
  assert.ok(parts.length >= 2, `parts: ${parts.length}`);
  // Its update's note is too large to keep the old IdP attributes; the event still says what
  // changed in the fields it can.
  await expectScim(
    await t.scim("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "replace", path: "addresses", value: big("ē") },
        { op: "replace", path: "displayName", value: "Big" },
      ],
    }),
    200,
  );
  const [updated] = await allEvents(t, created.id);
  assert.equal(updated.type, "user.updated");
  assert.ok("display_name" in (updated.previous_attributes ?? {}));
  assert.deepEqual(await checkInvariants(t.kv, t.tenant.id), []);
});

Deno.test("feed - re-applying attribute mirroring gives user.updated with the old canonical fields", async () => {
  await using t = await createTestApp();
  const id = await createUser(t, { title: "Engineer" });
  const start = (await allEvents(t)).at(-1)!.id;
  const config = await getMirroring(t.kv, t.tenant.id);
  await setMirroring(t.kv, t.tenant.id, {
    rules: [...config.rules, { field: "jobTitle", sources: ["title"], enabled: true }],
  }, "test");
  const { job } = await startMirroringJob(t.kv, t.tenant.id, "test");
  await runMirroringJob(t.kv, t.tenant.id, job.id);
  const events = await allEvents(t, start);
  assert.deepEqual(types(events), ["user.updated"]);
  assert.equal((events[0].data as ApiUser).id, id);
  assert.deepEqual((events[0].data as ApiUser).custom, { jobTitle: "Engineer" });
  assert.deepEqual(events[0].previous_attributes, { custom: {} });
});

Deno.test("feed - the sequencer's shared sizer gives exactly estimateBytes of every event", async () => {
  await using t = await createTestApp();
  const plain = await createUser(t);
  const accented = await createUser(t, { name: { givenName: "Zoë", familyName: "Ørsted ✓" } });
  const group = await createGroup(t, "Ärzte");
  await expectScim(
    await patchGroup(t, group, [{
      op: "add",
      path: "members",
      value: [{ value: plain }, { value: accented }],
    }]),
    204,
  );
  await createRole(t.kv, t.tenant.id, { slug: "doctor", name: "Doctor ✓" }, "test");
  await setRoleMapping(t.kv, t.tenant.id, {
    slug: "doctor",
    idpId: t.idp.id,
    group,
    mapped: true,
  }, "test");
  const events = await allEvents(t);
  assert.ok(events.some((e) => e.type === "group.user_added"));
  assert.ok(events.some((e) => e.type === "role.assigned"));
  // Events of one round share their user and group objects; the sizer must not care.
  const user = events.find((e) => e.type === "user.created")!.data as ApiUser;
  const shared = events.map((e) =>
    e.type === "group.user_added" ? { ...e, data: { ...(e.data as object), user } } : e
  );
  const size = sharedSizer();
  for (const e of [...events, ...shared, ...events]) {
    assert.equal(size(e as { data: object }), estimateBytes(e), e.type);
  }
});
