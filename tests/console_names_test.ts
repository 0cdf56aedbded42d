/**
 * The console shows names, not ids: the Event Log (page, its JSON and each event's detail) and a
 * user's events name the target user or group, the token and the IdP, with the ids kept in the
 * detail view and in exports. Users and the Event Log's user filter are found by externalId and
 * email as well as userName and id. Every time is shown in one format, to the second, in UTC.
 * The token the first start minted is marked on the SCIM tab until it is revoked.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml } from "./admin_helpers.ts";
import { expectScim, PATCH_OP, randomUser } from "./_helpers.ts";
import { createToken, revokeToken } from "../lib/store/tenants.ts";
import { FIRST_RUN } from "../lib/auth/token_state.ts";

type App = Awaited<ReturnType<typeof createAdminTestApp>>;

async function seed(t: App) {
  const user = await expectScim(
    await t.scim(
      "POST",
      "/Users",
      randomUser({
        userName: "grace.hopper@example.com",
        externalId: "00uGRACE123abc",
        emails: [{ value: "grace@navy.example.mil", type: "work", primary: true }],
      }),
    ),
    201,
  );
  const group = await expectScim(
    await t.scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: "COBOL Committee",
      members: [{ value: user.id }],
    }),
    201,
  );
  await expectScim(
    await t.scim("PATCH", `/Users/${user.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "title", value: "Rear Admiral" }],
    }),
    200,
  );
  return { userId: String(user.id), groupId: String(group.id) };
}

Deno.test("Event Log - targets, tokens and IdPs by name; ids in the detail and the export", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const { userId, groupId } = await seed(t);

  const html = await expectHtml(await t.admin("/admin/events", { as: s }));
  const rows = [...html.matchAll(/<tr data-event-type="([^"]+)">([\s\S]*?)<\/tr>/g)];
  const row = (type: string) => rows.find((r) => r[1] === type)?.[2] ?? "";
  assert.match(row("scim_user_received"), /grace\.hopper@example\.com/);
  assert.match(row("scim_user_updated"), /grace\.hopper@example\.com/);
  assert.match(row("scim_group_received"), /COBOL Committee/);
  // The actor is the token by its name, the IdP by its name.
  assert.match(row("scim_user_received"), /token test/);
  assert.match(row("scim_user_received"), /Okta/);
  for (const [, , cells] of rows) {
    assert.doesNotMatch(cells, new RegExp(`>user ${userId.slice(0, 8)}<`));
    assert.doesNotMatch(cells, new RegExp(`scim:${"[A-Za-z0-9]{12}"}`));
  }
  // Event types are words in the filter too.
  assert.match(html, /<option value="scim_user_received">SCIM user received<\/option>/);

  // The island's JSON carries the same names.
  const json = await (await t.admin("/admin/api/events", { as: s })).json() as {
    events: { id: string; type: string }[];
    names: Record<string, { target?: string; token?: string; idp?: string }>;
  };
  const created = json.events.find((e) => e.type === "scim_group_received")!;
  assert.deepEqual(json.names[created.id], {
    target: "COBOL Committee",
    token: "test",
    idp: "Okta",
  });

  // The detail view shows the names and keeps the ids.
  const detail = await expectHtml(await t.admin(`/admin/events/${created.id}`, { as: s }));
  assert.match(detail, /COBOL Committee/);
  assert.ok(detail.includes(groupId));
  assert.ok(detail.includes(t.idp.id));
  assert.match(detail, /<code class="muted small">scim:[A-Za-z0-9]+<\/code>/);

  // The export keeps ids.
  const csv = await (await t.admin("/admin/events/export?format=csv", { as: s })).text();
  assert.ok(csv.includes(userId));
  assert.ok(csv.includes(groupId));

  // A user's events name who made each change.
  const mine = await expectHtml(await t.admin(`/admin/users/${userId}/events`, { as: s }));
  assert.match(mine, /token test/);
  assert.match(mine, /Okta/);
});

Deno.test("Search - users and the Event Log's user filter by externalId and email", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const { userId } = await seed(t);
  const usersOf = async (q: string) => {
    const html = await expectHtml(
      await t.admin(`/admin/users?q=${encodeURIComponent(q)}`, { as: s }),
    );
    return html.includes(`/admin/users/${userId}"`);
  };
  assert.ok(await usersOf("00uGRACE123abc"), "by externalId");
  assert.ok(await usersOf("00uGRACE"), "by the start of an externalId");
  assert.ok(await usersOf("grace@navy"), "by the start of an email");
  assert.ok(await usersOf("GRACE.HOPPER"), "by userName, any case");
  assert.ok(await usersOf(userId), "by id");
  assert.ok(!await usersOf("00ugrace123abc"), "an externalId is matched in its own case");

  for (const target of ["00uGRACE123abc", "grace@navy.example.mil", "grace.hopper@example.com"]) {
    const res = await t.admin(`/admin/api/events?target=${encodeURIComponent(target)}`, { as: s });
    const body = await res.json() as { events: { target?: { id: string } }[] };
    assert.ok(body.events.length >= 2, `events of ${target}`);
    assert.ok(body.events.every((e) => e.target?.id === userId), target);
  }
});

Deno.test("Times - every console page shows times to the second in UTC, one format", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const { userId, groupId } = await seed(t);
  const pages = [
    "/admin",
    "/admin/idps",
    `/admin/idps/${t.idp.id}`,
    `/admin/idps/${t.idp.id}/scim`,
    "/admin/users",
    `/admin/users/${userId}`,
    `/admin/users/${userId}/attributes`,
    `/admin/users/${userId}/events`,
    "/admin/groups",
    `/admin/groups/${t.idp.id}/${groupId}`,
    "/admin/events",
    "/admin/admins",
  ];
  for (const path of pages) {
    const html = await expectHtml(await t.admin(path, { as: s }));
    const times = [...html.matchAll(/<time datetime="([^"]+)">([^<]*)<\/time>/g)];
    for (const [, iso, shown] of times) {
      const when = new Date(iso).toISOString();
      assert.equal(shown, `${when.slice(0, 10)} ${when.slice(11, 19)} UTC`, path);
    }
    // No time is shown another way (to the minute, or in a local format).
    const text = html.replace(/<[^>]+>/g, " ");
    assert.doesNotMatch(text, /\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/, path);
  }
  // Times where their age helps carry it beside them.
  const users = await expectHtml(await t.admin("/admin/users", { as: s }));
  assert.match(users, /<\/time><span class="muted small age"> \(just now\)<\/span>/);
});

Deno.test("SCIM tab - the first-run token is marked, with a reminder to revoke it", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const scimTab = async () =>
    await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s }));
  // Only the tokens the tests made: no mark, no reminder.
  assert.doesNotMatch(await scimTab(), /first-run token/);

  // What the first start mints.
  const first = await createToken(t.kv, t.tenant.id, t.idp.id, {
    name: FIRST_RUN,
    createdBy: FIRST_RUN,
  });
  let html = await scimTab();
  const row = new RegExp(`data-token-id="${first.token.id}"[\\s\\S]*?</tr>`).exec(html)?.[0];
  assert.match(row ?? "", /first-run token/);
  assert.match(row ?? "", /the first start/);
  assert.match(html, /id="first-run-token"[\s\S]*?printed its plaintext to the terminal/);
  // A named token exists (the test app's "test"): the reminder names it.
  assert.match(html, /Now that “<bdi class="idp-text">test<\/bdi>” exists, revoke the first-run/);

  // Revoked, it keeps its mark in the list and the reminder goes.
  assert.ok(await revokeToken(t.kv, t.tenant.id, t.idp.id, first.token.id, "admin:root@acme.test"));
  html = await scimTab();
  assert.doesNotMatch(html, /id="first-run-token"/);
  assert.match(html, /first-run token/);
});

Deno.test("SCIM tab - the activity chart labels each UTC day with its count and busiest hour", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  await seed(t);
  const html = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s }));
  const days = [...html.matchAll(/<li title="([^"]+)" data-date="([\d-]+)" data-count="(\d+)">/g)];
  assert.ok(days.length >= 7 && days.length <= 8, `${days.length} days`);
  const today = new Date().toISOString().slice(0, 10);
  const last = days.at(-1)!;
  assert.equal(last[2], today);
  // Today's bar counts the IdP's events of today (its creation, its token, the seed's changes).
  const listed = await (await t.admin(`/admin/api/events?idp=${t.idp.id}`, { as: s })).json() as {
    events: { at: string }[];
  };
  const n = listed.events.filter((e) => e.at.startsWith(today)).length;
  assert.ok(n >= 5, `${n} events today`);
  assert.equal(last[3], String(n));
  const day = String.raw`\w{3} \d{1,2} \w{3}`;
  assert.match(
    last[1],
    new RegExp(String.raw`^${day}: ${n} events, most at \d{2}:00–\d{2}:00 UTC`),
  );
  assert.match(days[0][1], /: 0 events$/);
  assert.match(
    html,
    new RegExp(String.raw`${n} events in the last 7 days \(since ${day}, \d{2}:00 UTC\), by UTC`),
  );
});
