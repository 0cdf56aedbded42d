/**
 * The SCIM request log of a connection, through the console: every request with what was sent
 * and answered (passwords and secrets redacted, bodies capped), filters, failed authentications at
 * their exact time — a valid token sent to another connection's URL counts on its own connection —
 * and the link from an event to the request that caused it.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml } from "./admin_helpers.ts";
import { expectScim, expectScimError, randomUser } from "./_helpers.ts";
import { flushRequestLog, listRequestLog } from "../lib/store/request_log.ts";
import { listEvents } from "../lib/store/events.ts";

const PASSWORD = "Tr0ub4dor&3-never-logged";

async function dump(kv: Deno.Kv): Promise<string> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: [] })) {
    const v = e.value instanceof Uint8Array
      ? new TextDecoder().decode(e.value)
      : JSON.stringify(e.value, (_k, x) => typeof x === "bigint" ? String(x) : x);
    out.push(v ?? "");
  }
  return out.join("\n");
}

Deno.test("Request log - each request with its bodies, secrets redacted, filters and detail", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const user = randomUser({ password: PASSWORD });
  const created = await expectScim(
    await t.scim("POST", "/Users", user, { "user-agent": "Okta SCIM Client 1.0" }),
    201,
  );
  await expectScimError(
    await t.scim("PATCH", `/Users/${created.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "password", value: PASSWORD }, { op: "frobnicate" }],
    }),
    400,
  );
  await expectScim(
    await t.scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${user.userName}"`)}`),
    200,
  );
  await flushRequestLog(t.kv);
  // The password was never stored anywhere, log included.
  assert.ok(!(await dump(t.kv)).includes(PASSWORD));

  const all = await listRequestLog(t.kv, t.tenant.id, t.idp.id);
  assert.deepEqual(all.entries.map((e) => [e.method, e.status]), [["GET", 200], ["PATCH", 400], [
    "POST",
    201,
  ]]);
  const [, patch, post] = all.entries;
  assert.equal(patch.scimType, "invalidSyntax");
  assert.equal(post.userId, created.id);
  assert.equal(post.tokenName, "test");
  assert.equal(post.userAgent, "Okta SCIM Client 1.0");

  const list = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/requests`, { as: s }));
  assert.match(list, /PATCH/);
  const errorsOnly = await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/requests?errors=1`, { as: s }),
  );
  assert.match(errorsOnly, /400 invalidSyntax/);
  assert.doesNotMatch(errorsOnly, /data-status="201"/);
  const byMethod = await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/requests?method=POST`, { as: s }),
  );
  assert.match(byMethod, /data-status="201"/);
  assert.doesNotMatch(byMethod, /data-status="400"/);
  const byUser = await expectHtml(
    await t.admin(
      `/admin/idps/${t.idp.id}/requests?user=${encodeURIComponent(String(user.userName))}`,
      { as: s },
    ),
  );
  assert.match(byUser, /data-status="201"/);
  assert.match(byUser, /data-status="400"/);
  assert.doesNotMatch(byUser, /data-status="200"/);

  const detail = await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/requests/${post.id}`, { as: s }),
  );
  assert.match(detail, /\[redacted\]/);
  assert.ok(detail.includes(String(user.userName)));
  assert.match(detail, /Response body/);
  assert.ok(detail.includes(`/admin/users/${created.id}`));

  // The event of the create links to its request.
  const [received] = (await listEvents(t.kv, t.tenant.id, { type: "scim_user_received" })).events;
  const event = await expectHtml(await t.admin(`/admin/events/${received.id}`, { as: s }));
  assert.ok(event.includes(`/admin/idps/${t.idp.id}/requests/${post.id}`));
  // The SCIM tab shows the latest requests.
  const tab = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s }));
  assert.match(tab, /id="recent-requests"/);
  assert.ok(tab.includes(`/admin/idps/${t.idp.id}/requests/${patch.id}`));
});

Deno.test("Request log - bodies are capped at 64 KiB and say so", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const big = JSON.stringify({ schemas: ["x"], blob: "a".repeat(300_000) });
  await t.scim("POST", "/Users", big).then((r) => r.body?.cancel());
  await flushRequestLog(t.kv);
  const [e] = (await listRequestLog(t.kv, t.tenant.id, t.idp.id)).entries;
  assert.equal(e.requestBytes, big.length);
  const detail = await expectHtml(
    await t.admin(`/admin/idps/${t.idp.id}/requests/${e.id}`, { as: s }),
  );
  assert.match(detail, /Kept 65536 of 300\d+ bytes/);
});

Deno.test("Request log - failed authentications at their exact time; a wrong URL counts on the token's connection", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const other = await t.addIdp("Entra prod");
  // This connection's token, sent to the other connection's URL.
  await expectScimError(
    await t.scim("GET", `${other.base}/Users`, undefined, { "user-agent": "Okta/2026.11" }),
    401,
  );
  await expectScimError(
    await t.scim("GET", "/Users", undefined, { authorization: "Bearer weft_scim_nope" }),
    401,
  );
  await flushRequestLog(t.kv);
  const mine = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}/scim`, { as: s }));
  assert.match(mine, /data-reason="wrong_idp"/);
  assert.ok(mine.includes(`/scim/v2/inbound/${other.idp.id}/`), "shows the URL called");
  assert.match(mine, /Okta\/2026\.11/);
  assert.match(mine, /data-reason="unknown_token"/);
  assert.match(mine, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  const theirs = await expectHtml(await t.admin(`/admin/idps/${other.idp.id}/scim`, { as: s }));
  assert.doesNotMatch(theirs, /data-reason="wrong_idp"/);
  // And the event is in the token's connection's Event Log filter.
  const events =
    (await listEvents(t.kv, t.tenant.id, { idpId: t.idp.id, type: "scim_auth_failed" })).events;
  assert.ok(events.some((e) => e.summary.includes("wrong_idp")));
});

Deno.test("Request log - WEFT_REQUEST_LOG_DAYS=0 keeps nothing", async () => {
  await using t = await createAdminTestApp({ WEFT_REQUEST_LOG_DAYS: "0" });
  await expectScim(await t.scim("GET", "/Users"), 200);
  await flushRequestLog(t.kv);
  assert.deepEqual((await listRequestLog(t.kv, t.tenant.id, t.idp.id)).entries, []);
});
