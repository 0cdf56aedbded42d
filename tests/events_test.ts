/**
 * The audit trail of SCIM traffic (architecture §2 "Event", §5; lib/audit/events.ts): every
 * accepted change writes one typed event with who, what and from where; rejected or empty changes
 * write none; events name attributes but never carry their values, and never a password.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, expectScim, randomUser, type TestApp } from "./_helpers.ts";
import { type AuditEvent, type EventType } from "../lib/audit/events.ts";
import { listEvents } from "../lib/store/events.ts";
import { listTokens } from "../lib/store/tenants.ts";

type Json = Record<string, unknown>;

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group";
const CLIENT_IP = "203.0.113.9";
/** The placeholder password Okta sends on every create (idp-behaviour §2.1 step 3). */
const OKTA_PASSWORD = "1mz050nq";

/** A test app behind a trusted proxy, so events carry a known client address. */
function eventApp(): Promise<TestApp> {
  return createTestApp({ WEFT_TRUST_PROXY: "true" });
}

let requestCounter = 0;

/** Sends a SCIM request with a fresh request id and a known client address. */
async function send(
  t: TestApp,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ res: Response; requestId: string }> {
  const requestId = `req-${Date.now().toString(36)}-${requestCounter++}`;
  const res = await t.scim(method, path, body, {
    "x-request-id": requestId,
    "x-forwarded-for": CLIENT_IP,
  });
  return { res, requestId };
}

/** Sends a request, expects `status`, returns the body and the request id. */
async function sendOk(
  t: TestApp,
  method: string,
  path: string,
  body: unknown,
  status: number | number[],
): Promise<{ body: Json; requestId: string }> {
  const { res, requestId } = await send(t, method, path, body);
  const allowed = Array.isArray(status) ? status : [status];
  assert.ok(
    allowed.includes(res.status),
    `${method} ${path}: expected ${allowed}, got ${res.status}`,
  );
  return { body: await expectScim(res, res.status), requestId };
}

function patchOp(...operations: Json[]): Json {
  return { schemas: [PATCH_OP], Operations: operations };
}

async function allEvents(t: TestApp): Promise<AuditEvent[]> {
  return (await listEvents(t.kv, t.tenant.id, { limit: 500 })).events;
}

async function tokenIdOf(t: TestApp): Promise<string> {
  const [token] = await listTokens(t.kv, t.tenant.id, t.idp.id);
  return token.id;
}

/** The single event of `type` for `targetId`. */
function only(events: AuditEvent[], type: EventType, targetId: string): AuditEvent {
  const found = events.filter((e) => e.type === type && e.target?.id === targetId);
  assert.equal(
    found.length,
    1,
    `expected one ${type} for ${targetId}, got ${found.length}: ${
      JSON.stringify(events.map((e) => [e.type, e.target?.id]))
    }`,
  );
  return found[0];
}

/** Checks who/what/where on an event written for a SCIM request. */
function assertContext(
  t: TestApp,
  e: AuditEvent,
  expected: { tokenId: string; requestId: string; kind: "user" | "group"; id: string },
): void {
  assert.equal(e.tenantId, t.tenant.id, `${e.type} tenantId`);
  assert.equal(e.idpId, t.idp.id, `${e.type} idpId`);
  assert.equal(e.tokenId, expected.tokenId, `${e.type} tokenId`);
  assert.deepEqual(e.target, { kind: expected.kind, id: expected.id }, `${e.type} target`);
  assert.equal(e.requestId, expected.requestId, `${e.type} requestId`);
  assert.equal(e.clientIp, CLIENT_IP, `${e.type} clientIp`);
  assert.match(e.id, /^[0-9A-HJKMNP-TV-Z]{26}$/, `${e.type} id is a ULID`);
  assert.ok(!Number.isNaN(Date.parse(e.at)), `${e.type} at`);
  assert.equal(typeof e.summary, "string");
}

// ---------------------------------------------------------------------------------------------
// Lifecycles
// ---------------------------------------------------------------------------------------------

Deno.test("Events - user lifecycle: received, deactivated, reactivated, updated, deleted", async () => {
  await using t = await eventApp();
  const tokenId = await tokenIdOf(t);
  const created = await sendOk(
    t,
    "POST",
    "/Users",
    randomUser({ password: OKTA_PASSWORD, locale: "en-US", groups: [] }),
    201,
  );
  const id = String(created.body.id);
  const deactivated = await sendOk(
    t,
    "PATCH",
    `/Users/${id}`,
    patchOp({ op: "replace", value: { active: false } }),
    [200, 204],
  );
  const reactivated = await sendOk(
    t,
    "PATCH",
    `/Users/${id}`,
    patchOp({ op: "replace", value: { active: true } }),
    [200, 204],
  );
  // Okta's PUT: the whole object it read, with changes.
  const read = await expectScim(await t.scim("GET", `/Users/${id}`), 200);
  const updated = await sendOk(
    t,
    "PUT",
    `/Users/${id}`,
    {
      ...read,
      displayName: "Renamed Person",
      name: { ...(read.name as Json), familyName: "Renamedfamily" },
    },
    200,
  );
  const { res: del, requestId: deletedRid } = await send(t, "DELETE", `/Users/${id}`);
  assert.equal(del.status, 204);
  await del.body?.cancel();

  const events = await allEvents(t);
  const ctx = { tokenId, kind: "user" as const, id };
  const received = only(events, "scim_user_received", id);
  assertContext(t, received, { ...ctx, requestId: created.requestId });
  const deact = only(events, "scim_user_deactivated", id);
  assertContext(t, deact, { ...ctx, requestId: deactivated.requestId });
  assert.deepEqual(deact.changed, ["active"]);
  const react = only(events, "scim_user_reactivated", id);
  assertContext(t, react, { ...ctx, requestId: reactivated.requestId });
  assert.deepEqual(react.changed, ["active"]);
  const upd = only(events, "scim_user_updated", id);
  assertContext(t, upd, { ...ctx, requestId: updated.requestId });
  // Attribute NAMES of what changed, nothing else.
  assert.deepEqual([...(upd.changed ?? [])].sort(), ["displayName", "name"]);
  const gone = only(events, "scim_user_deleted", id);
  assertContext(t, gone, { ...ctx, requestId: deletedRid });
});

Deno.test("Events - group lifecycle: received, updated with exact member counts, deleted", async () => {
  await using t = await eventApp();
  const tokenId = await tokenIdOf(t);
  const users: string[] = [];
  for (let i = 0; i < 3; i++) {
    users.push(String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id));
  }
  const [u1, u2, u3] = users;
  const created = await sendOk(
    t,
    "POST",
    "/Groups",
    { schemas: [GROUP_URN], displayName: "Event Group", members: [] },
    201,
  );
  const id = String(created.body.id);

  const { res: add, requestId: addRid } = await send(
    t,
    "PATCH",
    `/Groups/${id}`,
    patchOp({ op: "add", path: "members", value: [{ value: u1 }, { value: u2 }] }),
  );
  assert.ok([200, 204].includes(add.status), `add: ${add.status}`);
  await add.body?.cancel();
  // Okta's mixed membership PATCH (O9): remove one by filter, add another.
  const { res: mixed, requestId: mixedRid } = await send(
    t,
    "PATCH",
    `/Groups/${id}`,
    patchOp(
      { op: "remove", path: `members[value eq "${u1}"]` },
      { op: "add", path: "members", value: [{ value: u3, display: "someone" }] },
    ),
  );
  assert.ok([200, 204].includes(mixed.status), `mixed: ${mixed.status}`);
  await mixed.body?.cancel();
  const { res: del, requestId: delRid } = await send(t, "DELETE", `/Groups/${id}`);
  assert.equal(del.status, 204);
  await del.body?.cancel();

  const events = await allEvents(t);
  const ctx = { tokenId, kind: "group" as const, id };
  assertContext(t, only(events, "scim_group_received", id), {
    ...ctx,
    requestId: created.requestId,
  });
  const updates = events.filter((e) => e.type === "scim_group_updated" && e.target?.id === id);
  assert.equal(updates.length, 2, JSON.stringify(updates));
  const byRid = new Map(updates.map((e) => [e.requestId, e]));
  const first = byRid.get(addRid)!;
  const second = byRid.get(mixedRid)!;
  assert.ok(first && second, `requestIds: ${[...byRid.keys()]}`);
  assertContext(t, first, { ...ctx, requestId: addRid });
  assertContext(t, second, { ...ctx, requestId: mixedRid });
  assert.deepEqual(first.counts, { membersAdded: 2, membersRemoved: 0 });
  assert.deepEqual(second.counts, { membersAdded: 1, membersRemoved: 1 });
  assert.deepEqual(first.changed, ["members"]);
  assert.deepEqual(second.changed, ["members"]);
  assertContext(t, only(events, "scim_group_deleted", id), { ...ctx, requestId: delRid });
});

// ---------------------------------------------------------------------------------------------
// Querying
// ---------------------------------------------------------------------------------------------

Deno.test("Events - listEvents filters by idpId, type and targetId", async () => {
  await using t = await eventApp();
  const other = await t.addIdp();
  const a = String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id);
  const b = String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id);
  await sendOk(t, "PATCH", `/Users/${a}`, patchOp({ op: "replace", value: { active: false } }), [
    200,
    204,
  ]);
  const theirs = await expectScim(
    await t.app.request(`${other.base}/Users`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${other.token}`,
        "content-type": "application/scim+json",
      },
      body: JSON.stringify(randomUser()),
    }),
    201,
  );

  const mine = (await listEvents(t.kv, t.tenant.id, { idpId: t.idp.id })).events;
  assert.ok(mine.length >= 3);
  assert.ok(mine.every((e) => e.idpId === t.idp.id));
  assert.equal(mine.some((e) => e.target?.id === theirs.id), false);
  const theirEvents = (await listEvents(t.kv, t.tenant.id, { idpId: other.idp.id })).events;
  assert.ok(theirEvents.every((e) => e.idpId === other.idp.id));
  assert.ok(
    theirEvents.some((e) => e.type === "scim_user_received" && e.target?.id === theirs.id),
  );

  const received = (await listEvents(t.kv, t.tenant.id, { type: "scim_user_received" })).events;
  assert.deepEqual(
    received.map((e) => e.target?.id).sort(),
    [a, b, String(theirs.id)].sort(),
  );
  assert.ok(received.every((e) => e.type === "scim_user_received"));

  const ofA = (await listEvents(t.kv, t.tenant.id, { targetId: a })).events;
  assert.deepEqual(ofA.map((e) => e.type), ["scim_user_deactivated", "scim_user_received"]);
  assert.ok(ofA.every((e) => e.target?.id === a));

  // Criteria combine.
  const combined = (await listEvents(t.kv, t.tenant.id, {
    idpId: t.idp.id,
    type: "scim_user_received",
  })).events;
  assert.deepEqual(combined.map((e) => e.target?.id).sort(), [a, b].sort());
});

Deno.test("Events - listEvents filters by time range (since inclusive, until exclusive)", async () => {
  await using t = await eventApp();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const a = String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id);
  await sleep(15);
  const mid = new Date().toISOString();
  await sleep(15);
  const b = String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id);
  await sleep(15);
  const end = new Date().toISOString();
  await sleep(15);
  const c = String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id);

  const targets = (events: AuditEvent[]) =>
    events.filter((e) => e.type === "scim_user_received").map((e) => e.target?.id);
  const since = (await listEvents(t.kv, t.tenant.id, { since: mid })).events;
  assert.deepEqual(targets(since), [c, b]);
  assert.ok(since.every((e) => e.at >= mid));
  const until = (await listEvents(t.kv, t.tenant.id, { until: mid })).events;
  assert.deepEqual(targets(until), [a]);
  assert.ok(until.every((e) => e.at < mid));
  const between = (await listEvents(t.kv, t.tenant.id, { since: mid, until: end })).events;
  assert.deepEqual(targets(between), [b]);
  // With an index as well.
  const typed = (await listEvents(t.kv, t.tenant.id, {
    type: "scim_user_received",
    since: mid,
    until: end,
  })).events;
  assert.deepEqual(typed.map((e) => e.target?.id), [b]);
  const byIdp = (await listEvents(t.kv, t.tenant.id, { idpId: t.idp.id, until: mid })).events;
  assert.deepEqual(targets(byIdp), [a]);
  const byTarget = (await listEvents(t.kv, t.tenant.id, { targetId: c, since: end })).events;
  assert.deepEqual(byTarget.map((e) => e.type), ["scim_user_received"]);
  assert.deepEqual((await listEvents(t.kv, t.tenant.id, { targetId: c, until: end })).events, []);
});

Deno.test("Events - listEvents returns newest first", async () => {
  await using t = await eventApp();
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    ids.push(String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id));
  }
  const events = await allEvents(t);
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i - 1].id > events[i].id, "ids descend");
    assert.ok(events[i - 1].at >= events[i].at, "times do not increase");
  }
  const received = events.filter((e) => e.type === "scim_user_received");
  assert.deepEqual(received.map((e) => e.target?.id), [...ids].reverse());
  const typed = (await listEvents(t.kv, t.tenant.id, { type: "scim_user_received" })).events;
  assert.deepEqual(typed.map((e) => e.target?.id), [...ids].reverse());
});

// ---------------------------------------------------------------------------------------------
// Privacy and silence
// ---------------------------------------------------------------------------------------------

Deno.test("Events - no password and no attribute values appear in any event", async () => {
  await using t = await eventApp();
  const user = randomUser({
    userName: "Secret.Person+scim@values.example",
    name: { givenName: "Zebulonvalue", familyName: "Quixotevalue", middleName: "" },
    displayName: "Zebulon Quixote Display",
    emails: [{ primary: true, value: "private.mailbox@values.example", type: "work" }],
    externalId: "00uSECRETEXTERNAL",
    title: "Chief Valuable Officer",
    password: OKTA_PASSWORD,
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      department: "Department Of Values",
      employeeNumber: "EMP-998877",
    },
  });
  const { body } = await sendOk(t, "POST", "/Users", user, 201);
  const id = String(body.id);
  // Password sync (O7 / §2.1 step 7) and value changes.
  await sendOk(
    t,
    "PATCH",
    `/Users/${id}`,
    patchOp({
      op: "replace",
      value: { password: "N3wPassw0rdValue!", title: "Second Title Value" },
    }),
    [200, 204],
  );
  await sendOk(
    t,
    "PATCH",
    `/Users/${id}`,
    patchOp({
      op: "replace",
      path: 'emails[type eq "work"].value',
      value: "changed.mailbox@values.example",
    }),
    [200, 204],
  );
  const group = await sendOk(t, "POST", "/Groups", {
    schemas: [GROUP_URN],
    displayName: "Confidential Group Name",
    members: [{ value: id, display: "Zebulon Quixote Display" }],
  }, 201);
  await sendOk(
    t,
    "PATCH",
    `/Groups/${group.body.id}`,
    patchOp({
      op: "replace",
      value: { displayName: "Renamed Confidential Group" },
    }),
    [200, 204],
  );

  const events = await allEvents(t);
  // The scan below is not vacuous: the changes were recorded, by name.
  const updates = events.filter((e) => e.type === "scim_user_updated" && e.target?.id === id);
  assert.equal(updates.length, 2, JSON.stringify(updates));
  assert.deepEqual(updates.map((e) => e.changed), [["emails"], ["title"]]);
  const text = JSON.stringify(events);
  for (
    const secret of [
      OKTA_PASSWORD,
      "N3wPassw0rdValue!",
      "Secret.Person",
      "secret.person",
      "values.example",
      "private.mailbox",
      "changed.mailbox",
      "Zebulonvalue",
      "Quixotevalue",
      "Zebulon Quixote Display",
      "00uSECRETEXTERNAL",
      "Chief Valuable Officer",
      "Second Title Value",
      "Department Of Values",
      "EMP-998877",
      "Confidential Group Name",
      "Renamed Confidential Group",
    ]
  ) {
    assert.equal(text.includes(secret), false, `an event contains "${secret}"`);
  }
  // The password is never reported as a changed attribute either: it is not stored.
  const changed = (await allEvents(t)).flatMap((e) => e.changed ?? []);
  assert.equal(changed.some((c) => /password/i.test(c)), false, `changed: ${changed}`);
});

Deno.test("Events - a rejected request (400/404/409/412) writes no event", async () => {
  await using t = await eventApp();
  const existing = await sendOk(t, "POST", "/Users", randomUser(), 201);
  const id = String(existing.body.id);
  const group = await sendOk(
    t,
    "POST",
    "/Groups",
    { schemas: [GROUP_URN], displayName: "Existing" },
    201,
  );
  const before = await allEvents(t);

  const rejected: [string, string, unknown, number][] = [
    ["POST", "/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"] }, 400],
    ["POST", "/Users", '{"userName":', 400],
    [
      "POST",
      "/Users",
      randomUser({ userName: existing.body.userName, externalId: "00uDIFFERENT" }),
      409,
    ],
    ["PATCH", `/Users/${id}`, patchOp({ op: "replace", path: "nosuch[[", value: 1 }), 400],
    ["PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "frobnicate" }] }, 400],
    [
      "PATCH",
      `/Users/${crypto.randomUUID()}`,
      patchOp({ op: "replace", value: { active: false } }),
      404,
    ],
    ["POST", "/Groups", { schemas: [GROUP_URN], displayName: "existing" }, 409],
    ["PATCH", `/Groups/${group.body.id}`, patchOp({ op: "add", path: "members" }), 400],
  ];
  for (const [method, path, body, status] of rejected) {
    const { res } = await send(t, method, path, body);
    const text = await res.text();
    assert.equal(
      res.status,
      status,
      `${method} ${path}: expected ${status}, got ${res.status} ${text}`,
    );
  }
  // A stale If-Match.
  const stale = await t.scim("PUT", `/Users/${id}`, { ...existing.body, displayName: "X" }, {
    "if-match": 'W/"00000000000000000000"',
  });
  assert.equal(stale.status, 412, await stale.text());

  assert.deepEqual(await allEvents(t), before);
});

Deno.test("Events - a PATCH that changes nothing writes no event", async () => {
  await using t = await eventApp();
  const created = await sendOk(t, "POST", "/Users", randomUser(), 201);
  const id = String(created.body.id);
  const member = String((await sendOk(t, "POST", "/Users", randomUser(), 201)).body.id);
  const group = await sendOk(t, "POST", "/Groups", {
    schemas: [GROUP_URN],
    displayName: "Steady",
    members: [{ value: member }],
  }, 201);
  const gid = String(group.body.id);
  const before = await allEvents(t);

  // Same values again, in Okta's and Entra's shapes.
  await sendOk(
    t,
    "PATCH",
    `/Users/${id}`,
    patchOp({
      op: "replace",
      value: { active: true, displayName: created.body.displayName },
    }),
    [200, 204],
  );
  await sendOk(
    t,
    "PATCH",
    `/Users/${id}`,
    patchOp({
      op: "Replace",
      path: "active",
      value: "True",
    }),
    [200, 204],
  );
  // Entra's validator sends an empty Operations list (E16): accepted or not, it changes nothing.
  await (await send(t, "PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [] })).res
    .body?.cancel();
  // Okta re-sends the rename with every membership update (O8), and JumpCloud re-adds members (X2).
  for (
    const body of [
      patchOp({ op: "replace", value: { id: gid, displayName: "Steady" } }),
      patchOp({ op: "add", path: "members", value: [{ value: member }] }),
      patchOp({ op: "remove", path: `members[value eq "${crypto.randomUUID()}"]` }),
    ]
  ) {
    const { res } = await send(t, "PATCH", `/Groups/${gid}`, body);
    const text = await res.text();
    assert.ok([200, 204].includes(res.status), `group PATCH ${res.status}: ${text}`);
  }

  const after = await allEvents(t);
  assert.deepEqual(
    after.map((e) => [e.type, e.target?.id, e.changed]),
    before.map((e) => [e.type, e.target?.id, e.changed]),
  );
  // A real change right after is recorded, so the silence above is not an accident.
  await sendOk(
    t,
    "PATCH",
    `/Users/${id}`,
    patchOp({
      op: "replace",
      path: "displayName",
      value: "Now Different",
    }),
    [200, 204],
  );
  const changed = await allEvents(t);
  assert.equal(changed.length, after.length + 1);
  assert.equal(changed[0].type, "scim_user_updated");
  assert.deepEqual(changed[0].changed, ["displayName"]);
});
