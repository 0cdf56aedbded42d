import assert from "node:assert/strict";
import { createTestApp, expectScim, expectScimError, randomUser } from "./_helpers.ts";
import { getUser } from "../lib/store/users.ts";
import { listEvents } from "../lib/store/events.ts";
import { setMirroring } from "../lib/store/mirroring.ts";
import { ENTERPRISE_USER_SCHEMA } from "../lib/scim/urns.ts";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async function count(t: Awaited<ReturnType<typeof createTestApp>>, query = ""): Promise<number> {
  const body = await expectScim(await t.scim("GET", `/Users${query}`), 200);
  return body.totalResults as number;
}

Deno.test("POST /Users - creates a user: 201, Location, ETag, full body, no password", async () => {
  await using t = await createTestApp();
  const user = randomUser({ password: "1mz050nq", groups: [], locale: "en-US" });
  const res = await t.scim("POST", "/Users", user);
  const body = await expectScim(res, 201);
  assert.equal(res.headers.get("location"), `${t.base}/Users/${body.id}`);
  assert.equal(res.headers.get("etag"), (body.meta as { version: string }).version);
  assert.equal(body.userName, user.userName);
  assert.equal(body.externalId, user.externalId);
  assert.equal(body.active, true);
  assert.equal(body.locale, "en-US");
  assert.deepEqual(body.emails, user.emails);
  assert.equal("password" in body, false);
  // `groups` are returned when asked for (the schema says returned: "request").
  assert.equal("groups" in body, false);
  assert.equal((body.meta as { location: string }).location, `${t.base}/Users/${body.id}`);
});

Deno.test("POST /Users - a plain duplicate userName (any case) is 409 uniqueness", async () => {
  await using t = await createTestApp();
  const user = randomUser({ externalId: undefined });
  await expectScim(await t.scim("POST", "/Users", user), 201);
  const dup = { ...user, userName: String(user.userName).toUpperCase() };
  await expectScimError(await t.scim("POST", "/Users", dup), 409, "uniqueness");
  assert.equal(await count(t), 1);
});

Deno.test("POST /Users - same userName, active, different externalId is 409", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  await expectScim(await t.scim("POST", "/Users", user), 201);
  await expectScimError(
    await t.scim("POST", "/Users", { ...user, externalId: "00uSOMEONEELSE" }),
    409,
    "uniqueness",
  );
});

Deno.test("POST /Users - re-POST with the same externalId merges an email change (no duplicate)", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  const created = await expectScim(await t.scim("POST", "/Users", user), 201);
  const renamed = {
    ...user,
    userName: "renamed@example.com",
    emails: [{ primary: true, type: "work", value: "renamed@example.com" }],
  };
  const merged = await expectScim(await t.scim("POST", "/Users", renamed), 200);
  assert.equal(merged.id, created.id);
  assert.equal(merged.userName, "renamed@example.com");
  assert.equal(await count(t), 1);
  // The old userName is free again, the new one is indexed.
  assert.equal(await count(t, `?filter=userName eq "${user.userName}"`), 0);
  assert.equal(await count(t, `?filter=userName eq "RENAMED@example.com"`), 1);
  const canonical = await getUser(t.kv, t.tenant.id, String(created.id));
  assert.equal(canonical?.email, "renamed@example.com");
  assert.equal(canonical?.userName, "renamed@example.com");
});

Deno.test("PATCH /Users - Okta pathless deactivate keeps the user readable; re-POST reactivates it", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  const created = await expectScim(await t.scim("POST", "/Users", user), 201);
  const off = await expectScim(
    await t.scim("PATCH", `/Users/${created.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", value: { active: false } }],
    }),
    200,
  );
  assert.equal(off.active, false);
  const read = await expectScim(await t.scim("GET", `/Users/${created.id}`), 200);
  assert.equal(read.active, false);
  assert.equal(await count(t, "?filter=active eq false"), 1);
  assert.equal((await getUser(t.kv, t.tenant.id, String(created.id)))?.status, "deactivated");
  const again = await expectScim(await t.scim("POST", "/Users", user), 200);
  assert.equal(again.id, created.id);
  assert.equal(again.active, true);
  assert.equal(await count(t), 1);
  const types = (await listEvents(t.kv, t.tenant.id, { targetId: String(created.id) })).events
    .map((e) => e.type);
  assert.ok(types.includes("scim_user_deactivated"));
  assert.ok(types.includes("scim_user_reactivated"));
});

Deno.test("POST /Users - relinks a deactivated user with the same userName and a new externalId", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  const created = await expectScim(await t.scim("POST", "/Users", user), 201);
  await expectScim(
    await t.scim("PATCH", `/Users/${created.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Replace", path: "active", value: "False" }],
    }),
    200,
  );
  const relinked = await expectScim(
    await t.scim("POST", "/Users", { ...user, externalId: "00uNEWID" }),
    200,
  );
  assert.equal(relinked.id, created.id);
  assert.equal(relinked.externalId, "00uNEWID");
  assert.equal(relinked.active, true);
});

Deno.test("POST /Users - adopts a user without externalId when the POST brings one", async () => {
  await using t = await createTestApp();
  const user = randomUser({ externalId: undefined });
  const created = await expectScim(await t.scim("POST", "/Users", user), 201);
  const adopted = await expectScim(
    await t.scim("POST", "/Users", { ...user, externalId: "00uADOPT" }),
    200,
  );
  assert.equal(adopted.id, created.id);
  assert.equal(adopted.externalId, "00uADOPT");
});

Deno.test("PUT /Users - full replace that ignores id/meta and keeps active when omitted", async () => {
  await using t = await createTestApp();
  const created = await expectScim(
    await t.scim("POST", "/Users", randomUser({ title: "Engineer", nickName: "Babs" })),
    201,
  );
  const { active: _active, nickName: _nick, ...rest } = created;
  const body = { ...rest, id: "not-the-id", title: "Manager", meta: { version: "bogus" } };
  const replaced = await expectScim(await t.scim("PUT", `/Users/${created.id}`, body), 200);
  assert.equal(replaced.id, created.id);
  assert.equal(replaced.title, "Manager");
  assert.equal(replaced.active, true, "an omitted active never suspends the user");
  assert.equal("nickName" in replaced, false, "PUT replaces: attributes not sent are gone");
  assert.equal(replaced.externalId, created.externalId);
});

Deno.test("PUT /Users - the Okta round-trip of its own GET body loses nothing", async () => {
  await using t = await createTestApp();
  const created = await expectScim(
    await t.scim(
      "POST",
      "/Users",
      randomUser({
        name: { givenName: "Test", familyName: "User", middleName: "" },
        [ENTERPRISE_USER_SCHEMA]: { department: "R&D", manager: { value: "boss" } },
      }),
    ),
    201,
  );
  const got = await expectScim(await t.scim("GET", `/Users/${created.id}`), 200);
  const put = await expectScim(await t.scim("PUT", `/Users/${created.id}`, got), 200);
  for (const key of Object.keys(got)) {
    if (key === "meta") continue;
    assert.deepEqual(put[key], got[key], `attribute ${key} changed in the round-trip`);
  }
});

Deno.test("DELETE /Users - deprovisions: 204, then 404 and gone from lists; a re-POST relinks", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  const created = await expectScim(await t.scim("POST", "/Users", user), 201);
  await expectScim(await t.scim("DELETE", `/Users/${created.id}`), 204);
  await expectScimError(await t.scim("GET", `/Users/${created.id}`), 404);
  await expectScimError(await t.scim("DELETE", `/Users/${created.id}`), 404);
  assert.equal(await count(t), 0);
  assert.equal(await count(t, `?filter=userName eq "${user.userName}"`), 0);
  const canonical = await getUser(t.kv, t.tenant.id, String(created.id));
  assert.equal(canonical?.status, "deactivated", "the canonical record and history are kept");
  const back = await expectScim(await t.scim("POST", "/Users", user), 201);
  assert.equal(back.id, created.id, "the same externalId relinks the same person");
  assert.equal(await count(t), 1);
});

Deno.test("Users - IdPs are isolated: same userName in another IdP is another user", async () => {
  await using t = await createTestApp();
  const other = await t.addIdp();
  const user = randomUser();
  const a = await expectScim(await t.scim("POST", "/Users", user), 201);
  const b = await expectScim(
    await t.scim("POST", `${other.base}/Users`, user, {
      authorization: `Bearer ${other.token}`,
    }),
    201,
  );
  assert.notEqual(a.id, b.id);
  await expectScimError(
    await t.scim("GET", `${other.base}/Users/${a.id}`, undefined, {
      authorization: `Bearer ${other.token}`,
    }),
    404,
  );
});

Deno.test("Users - an Entra IdP matches by userName: a shared externalId does not merge", async () => {
  await using t = await createTestApp();
  const entra = await t.addIdp("Entra");
  const auth = { authorization: `Bearer ${entra.token}` };
  const first = await expectScim(
    await t.scim("POST", `${entra.base}/Users`, randomUser({ externalId: "jdoe" }), auth),
    201,
  );
  const second = await expectScim(
    await t.scim("POST", `${entra.base}/Users`, randomUser({ externalId: "jdoe" }), auth),
    201,
  );
  assert.notEqual(first.id, second.id);
  const found = await expectScim(
    await t.scim("GET", `${entra.base}/Users?filter=externalId eq "jdoe"`, undefined, auth),
    200,
  );
  assert.equal(found.totalResults, 2);
});

Deno.test("PATCH /Users - userName change propagates to the canonical user", async () => {
  await using t = await createTestApp();
  const created = await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
  await expectScim(
    await t.scim("PATCH", `/Users/${created.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Replace", path: "userName", value: "new.name@example.com" },
        { op: "Replace", path: 'emails[type eq "work"].value', value: "new.name@example.com" },
      ],
    }),
    200,
  );
  const canonical = await getUser(t.kv, t.tenant.id, String(created.id));
  assert.equal(canonical?.userName, "new.name@example.com");
  assert.equal(canonical?.email, "new.name@example.com");
  assert.equal(await count(t, `?filter=emails[type eq "work"].value eq "NEW.name@example.com"`), 1);
});

Deno.test("PATCH /Users - a 409 on a userName taken by another user changes nothing", async () => {
  await using t = await createTestApp();
  const a = await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
  const b = await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
  await expectScimError(
    await t.scim("PATCH", `/Users/${b.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "userName", value: a.userName }],
    }),
    409,
    "uniqueness",
  );
  const after = await expectScim(await t.scim("GET", `/Users/${b.id}`), 200);
  assert.equal(after.userName, b.userName);
});

Deno.test("Mirroring - canonical fields follow the tenant's configuration", async () => {
  await using t = await createTestApp();
  const created = await expectScim(
    await t.scim(
      "POST",
      "/Users",
      randomUser({
        emails: [
          { value: "home@example.com", type: "home" },
          { value: "work@example.com", type: "work", primary: true },
        ],
        [ENTERPRISE_USER_SCHEMA]: { department: "Finance", costCenter: "CC-1" },
      }),
    ),
    201,
  );
  let user = await getUser(t.kv, t.tenant.id, String(created.id));
  assert.equal(user?.email, "work@example.com");
  assert.equal(user?.firstName, "Test");
  assert.equal(user?.custom.department, "Finance");
  assert.equal(user?.mirroredFrom.department, `${ENTERPRISE_USER_SCHEMA}:department`);
  await setMirroring(t.kv, t.tenant.id, {
    rules: [
      { field: "userName", sources: ["userName"], enabled: true },
      { field: "email", sources: ['emails[type eq "home"].value'], enabled: true },
      { field: "costCenter", sources: [`${ENTERPRISE_USER_SCHEMA}:costCenter`], enabled: true },
      { field: "department", sources: [`${ENTERPRISE_USER_SCHEMA}:department`], enabled: false },
    ],
  }, "test");
  await expectScim(
    await t.scim("PATCH", `/Users/${created.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "title", value: "CFO" }],
    }),
    200,
  );
  user = await getUser(t.kv, t.tenant.id, String(created.id));
  assert.equal(user?.email, "home@example.com");
  assert.equal(user?.custom.costCenter, "CC-1");
  assert.equal(user?.custom.department, undefined);
});

Deno.test("POST /Users - a new user is derived with the mirroring set a moment before, by anyone", async () => {
  // Creates commit without reading the configuration when it has not changed; a change made
  // elsewhere (another instance, the console, the CLI) must still apply to the very next user.
  await using t = await createTestApp();
  const withDepartment = (department: string) =>
    randomUser({
      emails: [
        { value: `home.${crypto.randomUUID()}@example.com`, type: "home" },
        { value: `work.${crypto.randomUUID()}@example.com`, type: "work", primary: true },
      ],
      [ENTERPRISE_USER_SCHEMA]: { department, costCenter: `CC-${department}` },
    });
  const first = await expectScim(await t.scim("POST", "/Users", withDepartment("Finance")), 201);
  assert.equal((await getUser(t.kv, t.tenant.id, String(first.id)))?.custom.department, "Finance");
  await setMirroring(t.kv, t.tenant.id, {
    rules: [
      { field: "userName", sources: ["userName"], enabled: true },
      { field: "email", sources: ['emails[type eq "home"].value'], enabled: true },
      { field: "costCenter", sources: [`${ENTERPRISE_USER_SCHEMA}:costCenter`], enabled: true },
    ],
  }, "test");
  const second = await expectScim(await t.scim("POST", "/Users", withDepartment("Legal")), 201);
  const user = await getUser(t.kv, t.tenant.id, String(second.id));
  assert.match(String(user?.email), /^home\./);
  assert.equal(user?.custom.costCenter, "CC-Legal");
  assert.equal(user?.custom.department, undefined);
  assert.equal(await count(t), 2);
});

Deno.test("POST /Users - re-POST of a deleted user's externalId relinks it, not a new user", async () => {
  await using t = await createTestApp();
  const body = randomUser();
  const created = await expectScim(await t.scim("POST", "/Users", body), 201);
  await expectScim(await t.scim("POST", "/Users", randomUser()), 201); // another, as in a push
  const del = await t.scim("DELETE", `/Users/${created.id}`);
  assert.equal(del.status, 204);
  const again = await expectScim(await t.scim("POST", "/Users", body), 201);
  assert.equal(again.id, created.id, "the same person comes back");
  assert.equal(await count(t), 2);
});

Deno.test("POST /Users - 20 concurrent POSTs of one userName: one 201, the rest 409, one user", async () => {
  await using t = await createTestApp();
  const user = randomUser({ externalId: undefined });
  const results = await Promise.all(
    Array.from({ length: 20 }, () => t.scim("POST", "/Users", user)),
  );
  const statuses = results.map((r) => r.status).sort();
  await Promise.all(results.map((r) => r.body?.cancel()));
  assert.equal(statuses.filter((s) => s === 201).length, 1);
  assert.equal(statuses.filter((s) => s === 409).length, 19);
  assert.equal(await count(t), 1);
});

Deno.test("POST /Users - validation: missing userName and wrong types are 400 with the path", async () => {
  await using t = await createTestApp();
  const missing = await expectScimError(
    await t.scim("POST", "/Users", { schemas: [], name: { givenName: "x" } }),
    400,
    "invalidValue",
  );
  assert.match(String(missing.detail), /userName/);
  const wrong = await expectScimError(
    await t.scim("POST", "/Users", randomUser({ emails: [{ value: "a@b.c", primary: "yes" }] })),
    400,
    "invalidValue",
  );
  assert.match(String(wrong.detail), /emails\[0\]\.primary/);
  assert.equal(await count(t), 0);
});

Deno.test("GET /Users - index paging through the directory is exact, also after a change", async () => {
  await using t = await createTestApp();
  for (let i = 0; i < 25; i++) await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
  const page = async (startIndex: number) =>
    ((await expectScim(await t.scim("GET", `/Users?startIndex=${startIndex}&count=10`), 200))
      .Resources as { id: string }[]).map((r) => r.id);
  const first = [...await page(1), ...await page(11), ...await page(21)];
  assert.equal(first.length, 25);
  assert.equal(new Set(first).size, 25);
  // Pages left anchors; paging again gives the same order.
  assert.deepEqual([...await page(1), ...await page(11), ...await page(21)], first);
  // A deletion changes the size: anchors are not trusted, offsets stay exact.
  await expectScim(await t.scim("DELETE", `/Users/${first[3]}`), 204);
  const after = [...await page(1), ...await page(11), ...await page(21)];
  assert.deepEqual(after, first.filter((id) => id !== first[3]));
});

Deno.test("POST /Users - look-alike userNames: invisible characters refused, compatibility forms are duplicates", async () => {
  await using t = await createTestApp();
  await expectScim(
    await t.scim(
      "POST",
      "/Users",
      randomUser({ userName: "admin@example.com", externalId: undefined }),
    ),
    201,
  );
  for (
    const lookalike of [
      "ad\u200Bmin@example.com",
      "admin@example.com\u202E",
      "adm\u0000in@example.com",
      "a\ud800dmin@example.com",
    ]
  ) {
    await expectScimError(
      await t.scim("POST", "/Users", randomUser({ userName: lookalike, externalId: undefined })),
      400,
      "invalidValue",
    );
  }
  for (const lookalike of ["ａｄｍｉｎ@example.com", "𝐚dmin@example.com", " Admin@Example.com "]) {
    await expectScimError(
      await t.scim("POST", "/Users", randomUser({ userName: lookalike, externalId: undefined })),
      409,
      "uniqueness",
    );
  }
  assert.equal(await count(t), 1);
});

Deno.test("Users - identifiers beyond a key's size are refused or match nothing (no 5xx)", async () => {
  await using t = await createTestApp();
  const long = "x".repeat(3000);
  await expectScimError(
    await t.scim("POST", "/Users", randomUser({ userName: long })),
    400,
    "invalidValue",
  );
  await expectScimError(await t.scim("GET", `/Users/${long}`), 404);
  const found = await expectScim(await t.scim("GET", `/Users?filter=userName eq "${long}"`), 200);
  assert.equal(found.totalResults, 0);
  await expectScimError(await t.scim("GET", `${t.base.replace(/[^/]+$/, long)}/Users`), 404);
});
