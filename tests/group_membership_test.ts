/**
 * Group membership at scale through the HTTP surface: member batches of the sizes IdPs send commit
 * exactly (and in one operation when they fit), user deletion racing member PATCHes leaves
 * counters and mirror rows exact, whole-group reads stream their members with the same body the
 * in-memory rendering gives, and `If-None-Match` answers 304.
 * @module
 */
import assert from "node:assert/strict";
import {
  createGroup,
  createTestApp,
  createUsers,
  expectScim,
  expectScimError,
  groupMemberIds,
  patchGroup,
  type TestApp,
} from "./_helpers.ts";
import { checkInvariants } from "./reliability/_server.ts";
import { getGroup } from "../lib/store/groups.ts";
import { countMembers, listMembers, listUserGroupIds } from "../lib/store/memberships.ts";
import { listEvents } from "../lib/store/events.ts";
import { project } from "../lib/scim/projection.ts";
import { renderGroup } from "../lib/scim/resource.ts";
import { keys } from "../lib/store/keys.ts";
import { maxChecks } from "../lib/store/kv.ts";

function add(t: TestApp, groupId: string, ids: string[]) {
  return patchGroup(t, groupId, [
    { op: "add", path: "members", value: ids.map((value) => ({ value })) },
  ]);
}

function remove(t: TestApp, groupId: string, ids: string[]) {
  return patchGroup(t, groupId, [
    { op: "remove", path: "members", value: ids.map((value) => ({ value })) },
  ]);
}

/** Counts atomic commits made through the app's KV while `fn` runs. */
async function commitsDuring(t: TestApp, fn: () => Promise<unknown>): Promise<number> {
  const kv = t.kv as Deno.Kv & { atomic: () => Deno.AtomicOperation };
  const original = kv.atomic;
  let n = 0;
  kv.atomic = function () {
    const op = original.call(kv);
    const commit = op.commit.bind(op);
    op.commit = () => {
      n++;
      return commit();
    };
    return op;
  };
  try {
    await fn();
  } finally {
    kv.atomic = original;
  }
  return n;
}

async function assertExact(t: TestApp, groupId: string, expected: string[]) {
  assert.deepEqual(await groupMemberIds(t, groupId), [...expected].sort());
  assert.equal(await countMembers(t.kv, t.tenant.id, groupId), expected.length);
  for (const id of expected) {
    assert.ok((await listUserGroupIds(t.kv, t.tenant.id, id)).includes(groupId), `mirror ${id}`);
  }
  assert.deepEqual(await checkInvariants(t.kv, t.tenant.id), []);
}

Deno.test("PATCH /Groups - 100 members commit in one operation, exactly, with one event", async () => {
  // The SCIM request log writes its batches on its own timer; it is off here so that only the
  // change's own commits are counted.
  await using t = await createTestApp({ WEFT_REQUEST_LOG_DAYS: "0" });
  const ids = await createUsers(t, 101);
  const g = await createGroup(t);
  const one = await commitsDuring(
    t,
    async () => await expectScim(await add(t, g, [ids[100]]), 204),
  );
  const hundred = await commitsDuring(
    t,
    async () => await expectScim(await add(t, g, ids.slice(0, 100)), 204),
  );
  assert.equal(hundred, one, "a 100-member add commits as often as a 1-member add");
  await assertExact(t, g, ids);
  const events = (await listEvents(t.kv, t.tenant.id, { type: "scim_group_updated" })).events
    .filter((e) => e.target?.id === g);
  assert.equal(events.length, 2);
  assert.deepEqual(events.map((e) => e.counts?.membersAdded).sort(), [1, 100]);
  // Repeating the batch changes nothing; removing 100 leaves the first add.
  await expectScim(await add(t, g, ids.slice(0, 100)), 204);
  await expectScim(await remove(t, g, ids.slice(0, 100)), 204);
  await assertExact(t, g, [ids[100]]);
});

Deno.test("PATCH /Groups - 300 members, added then half removed, are exact", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 300);
  const g = await createGroup(t);
  await expectScim(await add(t, g, ids), 204);
  await assertExact(t, g, ids);
  await expectScim(await remove(t, g, ids.slice(0, 150)), 204);
  await assertExact(t, g, ids.slice(150));
  // A replace that crosses the one-operation size goes through the journal, still exact.
  const next = [...ids.slice(0, 150), ...ids.slice(290)];
  await expectScim(
    await t.scim("PUT", `/Groups/${g}`, {
      displayName: "Three hundred",
      members: next.map((value) => ({ value })),
    }),
    200,
  );
  await assertExact(t, g, next);
  for (const id of ids.slice(150, 290)) {
    assert.deepEqual(await listUserGroupIds(t.kv, t.tenant.id, id), [], `no mirror for ${id}`);
  }
  // Nothing is left pending.
  const journals = await Array.fromAsync(t.kv.list({ prefix: keys.memberJournals(t.tenant.id) }));
  assert.equal(journals.length, 0);
});

Deno.test("PATCH /Groups racing DELETE /Users: counters and mirror rows stay exact", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 240);
  const doomed = new Set(ids.filter((_, i) => i % 4 === 0));
  const groups = await Promise.all([createGroup(t), createGroup(t), createGroup(t)]);
  // Half the users are members of every group before the race.
  for (const g of groups) await expectScim(await add(t, g, ids.slice(0, 120)), 204);
  const jobs: Promise<Response>[] = [];
  for (const [k, g] of groups.entries()) {
    for (let j = 0; j < ids.length; j += 30) {
      const batch = ids.slice(j, j + 30);
      jobs.push(add(t, g, batch));
      if ((j / 30 + k) % 3 === 0) jobs.push(remove(t, g, batch.slice(0, 10)));
    }
    jobs.push(add(t, g, ids.slice(100, 220))); // 120 at once
  }
  for (const id of doomed) jobs.push(t.scim("DELETE", `/Users/${id}`));
  const results = await Promise.all(jobs);
  for (const r of results) {
    // An add naming a user deleted before it was planned is a 400 (nothing of it applied).
    assert.ok([204, 400].includes(r.status), `status ${r.status}: ${await r.text()}`);
  }
  for (const id of doomed) {
    await expectScimError(await t.scim("GET", `/Users/${id}`), 404);
    assert.deepEqual(await listUserGroupIds(t.kv, t.tenant.id, id), [], `mirror of ${id}`);
  }
  for (const g of groups) {
    const listed = await groupMemberIds(t, g);
    assert.ok(listed.every((id) => !doomed.has(id)), "no deleted user is a member");
    assert.equal(await countMembers(t.kv, t.tenant.id, g), listed.length);
    for (const id of listed) {
      assert.ok((await listUserGroupIds(t.kv, t.tenant.id, id)).includes(g));
    }
  }
  assert.deepEqual(await checkInvariants(t.kv, t.tenant.id), []);
});

Deno.test("GET /Groups/{id} - If-None-Match with the current ETag is 304", async () => {
  await using t = await createTestApp();
  const [u1, u2] = await createUsers(t, 2);
  const g = await createGroup(t);
  await expectScim(await add(t, g, [u1]), 204);
  const got = await t.scim("GET", `/Groups/${g}`);
  const etag = got.headers.get("etag")!;
  await expectScim(got, 200);
  const cached = await t.scim("GET", `/Groups/${g}`, undefined, { "if-none-match": etag });
  assert.equal(cached.status, 304);
  assert.equal(cached.headers.get("etag"), etag);
  assert.equal(await cached.text(), "");
  // A membership change (even by a user deletion) makes the old ETag stale.
  await expectScim(await add(t, g, [u2]), 204);
  const stale = await t.scim("GET", `/Groups/${g}`, undefined, { "if-none-match": etag });
  const body = await expectScim(stale, 200);
  assert.equal((body.members as unknown[]).length, 2);
  const etag2 = stale.headers.get("etag")!;
  assert.notEqual(etag2, etag);
  await expectScim(await t.scim("DELETE", `/Users/${u2}`), 204);
  const after = await t.scim("GET", `/Groups/${g}`, undefined, { "if-none-match": etag2 });
  assert.equal((await expectScim(after, 200) as { members: unknown[] }).members.length, 1);
  await expectScimError(
    await t.scim("GET", `/Groups/nope`, undefined, { "if-none-match": etag }),
    404,
  );
});

Deno.test("GET /Groups/{id} - members stream in with the in-memory rendering's body", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 1100);
  const res = await t.scim("POST", "/Groups", {
    displayName: "Streamed",
    externalId: "ext-streamed",
    members: ids.slice(0, 40).map((value, i) => ({ value, display: `Member ${i}` })),
  });
  const g = String((await expectScim(res, 201)).id);
  for (let i = 40; i < ids.length; i += 200) {
    await expectScim(await add(t, g, ids.slice(i, i + 200)), 204);
  }
  const empty = await createGroup(t, "Empty");
  const queries = [
    "",
    "?attributes=members",
    "?attributes=members.value",
    "?attributes=members.display",
    "?attributes=displayName,members.$ref",
    "?excludedAttributes=members.display,meta",
    "?excludedAttributes=members.value,members.$ref,members.type",
    "?excludedAttributes=members",
    "?attributes=displayName",
  ];
  for (const id of [g, empty]) {
    const current = (await getGroup(t.kv, t.tenant.id, t.idp.id, id))!;
    const { members: all } = await listMembers(t.kv, t.tenant.id, id);
    const rendered = all.map((m) => ({
      value: m.userId,
      ...(m.display !== undefined ? { display: m.display } : {}),
      $ref: `${t.base}/Users/${m.userId}`,
      type: "User" as const,
    }));
    for (const q of queries) {
      const params = new URLSearchParams(q);
      const p = {
        attributes: params.get("attributes")?.split(","),
        excludedAttributes: params.get("excludedAttributes")?.split(","),
      };
      const wants = q !== "?excludedAttributes=members" && q !== "?attributes=displayName";
      const want = project(
        renderGroup(
          current.group,
          current.versionstamp,
          `${t.base}/Groups/${id}`,
          wants ? rendered : undefined,
        ),
        "Group",
        p,
      );
      const got = await t.scim("GET", `/Groups/${id}${q}`);
      assert.equal(got.headers.get("etag"), `W/"${current.versionstamp}"`);
      assert.deepEqual(await expectScim(got, 200), want, `${id === g ? "group" : "empty"} ${q}`);
    }
  }
});

Deno.test("PATCH /Groups - parallel small PATCHes of one group commit side by side, each once", async () => {
  // Entra and Okta send membership PATCHes of one group in parallel (idp-behaviour E14): changes
  // naming different members must not make each other fail and retry. "Small" is what the store
  // lets one operation check row by row: 20 members on Deno's own store, 8 on KV Connect (whose
  // operations hold 10 checks, two of them the group's and the IdP's guards).
  // The request log commits on its own: only the membership writes are counted here.
  await using t = await createTestApp({ WEFT_REQUEST_LOG_DAYS: "0" });
  const size = Math.min(20, maxChecks(t.kv) - 2);
  const ids = await createUsers(t, 16 * size);
  const g = await createGroup(t);
  await expectScim(await add(t, g, ids.slice(15 * size)), 204);
  const batches = Array.from({ length: 15 }, (_, i) => ids.slice(i * size, i * size + size));
  const commits = await commitsDuring(t, async () => {
    const results = await Promise.all(batches.map((b) => add(t, g, b)));
    for (const r of results) await expectScim(r, 204);
  });
  assert.equal(commits, batches.length, "one commit per PATCH: none failed and retried");
  await assertExact(t, g, ids);
  // Removals in parallel with adds of other members, likewise.
  const removes = Array.from({ length: 8 }, (_, i) => ids.slice(i * size, i * size + size));
  const adds = ids.slice(8 * size);
  const mixed = await commitsDuring(t, async () => {
    const results = await Promise.all([
      ...removes.map((b) => remove(t, g, b)),
      add(t, g, adds.slice(0, 10)),
    ]);
    for (const r of results) await expectScim(r, 204);
  });
  assert.equal(mixed, removes.length, "the add names existing members: it changes nothing");
  await assertExact(t, g, ids.slice(8 * size));
});

Deno.test("PATCH /Groups racing DELETE /Groups: no membership outlives its group", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 160);
  for (let round = 0; round < 60; round++) {
    const g = await createGroup(t);
    // Some rounds race a new group that has never had a member change.
    if (round % 3) await expectScim(await add(t, g, ids.slice(0, 5)), 204);
    const changes = [
      () => add(t, g, ids.slice(10 + round, 30 + round)),
      () => remove(t, g, ids.slice(0, 2)),
      // Beyond the row checks: this one checks the membership version instead.
      ...(round % 5 === 0 ? [() => add(t, g, ids.slice(40, 150))] : []),
    ];
    const results = await Promise.all([
      ...changes.map((f) => f()),
      t.scim("DELETE", `/Groups/${g}`),
    ]);
    for (const r of results) {
      // A change that lost the race finds no group (404); one that won went first.
      assert.ok([204, 404].includes(r.status), `status ${r.status}: ${await r.text()}`);
    }
    await expectScimError(await t.scim("GET", `/Groups/${g}`), 404);
  }
  assert.deepEqual(await checkInvariants(t.kv, t.tenant.id), []);
});

Deno.test("PATCH /Groups - parallel overlapping 100-member adds to one group re-plan exactly", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 450);
  const g = await createGroup(t);
  // Eight batches of 100, each overlapping the next by half: every commit but the first finds
  // rows changed since it planned, re-reads them and adds only the members still missing.
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => add(t, g, ids.slice(i * 50, i * 50 + 100))),
  );
  for (const r of results) await expectScim(r, 204);
  await assertExact(t, g, ids);
  const added = (await listEvents(t.kv, t.tenant.id, { type: "scim_group_updated", limit: 100 }))
    .events.filter((e) => e.target?.id === g)
    .reduce((n, e) => n + (e.counts?.membersAdded ?? 0), 0);
  assert.equal(added, ids.length, "the events count each member once");
});
