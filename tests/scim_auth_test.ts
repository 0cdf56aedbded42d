/**
 * SCIM bearer authentication over HTTP (RFC 7644 §2, RFC 6750 §3; idp-behaviour part 3
 * "Security considerations"): every refusal is a 401 SCIM error naming its reason, failures are
 * tallied and aggregated into few events, a flooding client is throttled with 429 while valid
 * traffic is not, last use is recorded at most once a minute, and the plaintext token is stored
 * nowhere.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, expectScim, expectScimError, type TestApp } from "./_helpers.ts";
import { listAuthFailures } from "../lib/store/scim_credentials.ts";
import { createToken, listTokens, revokeToken } from "../lib/store/tenants.ts";
import { listEvents } from "../lib/store/events.ts";
import { keys } from "../lib/store/keys.ts";

type Json = Record<string, unknown>;

/** A GET /Users with exactly these headers (no default Authorization). */
function rawGet(t: TestApp, headers: Record<string, string>, base = t.base): Promise<Response> {
  return Promise.resolve(t.app.request(`${base}/Users`, { headers }));
}

/** Asserts a 401 SCIM error with a Bearer challenge whose detail names `reason`. */
async function expect401(res: Response, reason: string): Promise<Json> {
  const challenge = res.headers.get("www-authenticate") ?? "";
  const body = await expectScimError(res, 401);
  assert.match(challenge, /^Bearer\b/, `WWW-Authenticate: "${challenge}"`);
  assert.ok(
    String(body.detail).includes(reason),
    `detail should name "${reason}": ${body.detail}`,
  );
  return body;
}

/** Sum of the failure tallies per reason for an IdP. */
async function failureCounts(t: TestApp, idpId = t.idp.id): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const f of await listAuthFailures(t.kv, t.tenant.id, idpId)) {
    out[f.reason] = (out[f.reason] ?? 0) + f.count;
  }
  return out;
}

/** Every KV entry (keys and values) as one string; BigInt- and KvU64-safe. */
async function dumpKv(kv: Deno.Kv): Promise<string> {
  const entries = await Array.fromAsync(kv.list({ prefix: [] }));
  return JSON.stringify(
    entries.map((e) => ({ key: e.key, value: e.value })),
    (_k, v) =>
      typeof v === "bigint"
        ? v.toString()
        : v instanceof Deno.KvU64
        ? v.value.toString()
        : v instanceof Uint8Array
        ? Array.from(v)
        : v,
  );
}

/**
 * Waits until at least `seconds` remain in the current minute, so a test that counts failures
 * within one throttle window does not straddle two.
 */
async function awaitFreshWindow(seconds = 15): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 60_000 - seconds * 1000) {
    await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Refusals, one per reason
// ---------------------------------------------------------------------------------------------

Deno.test("Auth - no Authorization header is 401 missing_header with a Bearer challenge", async () => {
  await using t = await createTestApp();
  await expect401(await rawGet(t, {}), "missing_header");
});

Deno.test("Auth - Basic credentials are 401 not_bearer", async () => {
  await using t = await createTestApp();
  await expect401(
    await rawGet(t, { authorization: `Basic ${btoa("okta:secret")}` }),
    "not_bearer",
  );
});

Deno.test("Auth - Bearer with no token is 401 empty_token", async () => {
  await using t = await createTestApp();
  await expect401(await rawGet(t, { authorization: "Bearer " }), "empty_token");
  await expect401(await rawGet(t, { authorization: "Bearer" }), "empty_token");
});

Deno.test("Auth - Bearer Bearer <token> is 401 doubled_bearer and does not echo the token", async () => {
  await using t = await createTestApp();
  const body = await expect401(
    await rawGet(t, { authorization: `Bearer Bearer ${t.token}` }),
    "doubled_bearer",
  );
  assert.equal(JSON.stringify(body).includes(t.token), false);
});

Deno.test("Auth - a token with inner or extra whitespace is 401 whitespace", async () => {
  await using t = await createTestApp();
  const half = Math.floor(t.token.length / 2);
  for (
    const header of [
      `Bearer  ${t.token}`,
      `Bearer\t${t.token}`,
      `Bearer ${t.token.slice(0, half)} ${t.token.slice(half)}`,
    ]
  ) {
    await expect401(await rawGet(t, { authorization: header }), "whitespace");
  }
});

Deno.test("Auth - an unknown token is 401 unknown_token", async () => {
  await using t = await createTestApp();
  await expect401(
    await rawGet(t, {
      authorization: "Bearer weft_scim_notarealtokenatall000000000000000000000",
    }),
    "unknown_token",
  );
  await expect401(await rawGet(t, { authorization: "Bearer abc" }), "unknown_token");
  // A truncated copy of a real token.
  await expect401(
    await rawGet(t, { authorization: `Bearer ${t.token.slice(0, -1)}` }),
    "unknown_token",
  );
});

Deno.test("Auth - the bearer scheme name is case-insensitive", async () => {
  await using t = await createTestApp();
  await expectScim(await rawGet(t, { authorization: `bearer ${t.token}` }), 200);
  await expectScim(await rawGet(t, { authorization: `BEARER ${t.token}` }), 200);
});

Deno.test("Auth - a revoked token is refused at once", async () => {
  await using t = await createTestApp();
  const { token, secret } = await createToken(t.kv, t.tenant.id, t.idp.id, {
    name: "rotating",
    createdBy: "test",
  });
  await expectScim(await rawGet(t, { authorization: `Bearer ${secret}` }), 200);
  assert.equal(await revokeToken(t.kv, t.tenant.id, t.idp.id, token.id, "admin"), true);
  await expect401(await rawGet(t, { authorization: `Bearer ${secret}` }), "revoked_token");
  // The other token of the IdP keeps working (rotation without downtime).
  await expectScim(await t.scim("GET", "/Users"), 200);
});

Deno.test("Auth - an expired token is 401 expired_token", async () => {
  await using t = await createTestApp();
  const expired = await createToken(t.kv, t.tenant.id, t.idp.id, {
    name: "old",
    createdBy: "test",
    expiresAt: new Date(Date.now() - 60_000).toISOString(),
  });
  await expect401(
    await rawGet(t, { authorization: `Bearer ${expired.secret}` }),
    "expired_token",
  );
  const valid = await createToken(t.kv, t.tenant.id, t.idp.id, {
    name: "new",
    createdBy: "test",
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  await expectScim(await rawGet(t, { authorization: `Bearer ${valid.secret}` }), 200);
});

Deno.test("Auth - another IdP's token on this IdP's URL is 401 wrong_idp", async () => {
  await using t = await createTestApp();
  const other = await t.addIdp();
  await expect401(await rawGet(t, { authorization: `Bearer ${other.token}` }), "wrong_idp");
  // And the reverse.
  await expect401(
    await rawGet(t, { authorization: `Bearer ${t.token}` }, other.base),
    "wrong_idp",
  );
  // Each token works on its own URL.
  await expectScim(await rawGet(t, { authorization: `Bearer ${other.token}` }, other.base), 200);
  await expectScim(await rawGet(t, { authorization: `Bearer ${t.token}` }), 200);
});

Deno.test("Auth - an IdP with SCIM turned off is 401 scim_disabled", async () => {
  await using t = await createTestApp();
  await t.kv.set(keys.idp(t.tenant.id, t.idp.id), { ...t.idp, scimEnabled: false });
  await expect401(await rawGet(t, { authorization: `Bearer ${t.token}` }), "scim_disabled");
});

Deno.test("Auth - writes are refused as well as reads", async () => {
  await using t = await createTestApp();
  const res = await t.app.request(`${t.base}/Users`, {
    method: "POST",
    headers: { "content-type": "application/scim+json" },
    body: JSON.stringify({ userName: "nobody@example.com" }),
  });
  await expect401(res, "missing_header");
  const listed = await expectScim(await t.scim("GET", "/Users"), 200);
  assert.equal(listed.totalResults, 0);
});

// ---------------------------------------------------------------------------------------------
// Recording failures
// ---------------------------------------------------------------------------------------------

Deno.test("Auth - each failure is tallied by reason (listAuthFailures)", async () => {
  await using t = await createTestApp();
  await awaitFreshWindow();
  const other = await t.addIdp();
  for (let i = 0; i < 2; i++) await rawGet(t, {}).then((r) => r.body?.cancel());
  await rawGet(t, { authorization: "Basic eDp5" }).then((r) => r.body?.cancel());
  for (let i = 0; i < 3; i++) {
    await rawGet(t, { authorization: "Bearer weft_scim_nope" }).then((r) => r.body?.cancel());
  }
  await rawGet(t, { authorization: `Bearer Bearer ${t.token}` }).then((r) => r.body?.cancel());
  await rawGet(t, { authorization: `Bearer ${other.token}` }).then((r) => r.body?.cancel());
  // A success is not a failure.
  await expectScim(await t.scim("GET", "/Users"), 200);
  assert.deepEqual(await failureCounts(t), {
    missing_header: 2,
    not_bearer: 1,
    unknown_token: 3,
    doubled_bearer: 1,
  });
  // A valid token sent to this IdP's URL is its own connection's failure: it is counted there,
  // where its admin looks, and the event says which URL was called.
  assert.deepEqual(await failureCounts(t, other.idp.id), { wrong_idp: 1 });
  const [wrong] = (await listEvents(t.kv, t.tenant.id, { idpId: other.idp.id })).events.filter((
    e,
  ) => e.type === "scim_auth_failed");
  assert.match(
    wrong.summary,
    new RegExp(`wrong_idp \\(called the base URL of connection ${t.idp.id}\\)`),
  );
});

Deno.test("Auth - 20 identical failures write exactly 1 scim_auth_failed event", async () => {
  // Above the throttle, so all 21 failures below are recorded.
  await using t = await createTestApp({ WEFT_AUTH_FAILURES_PER_MINUTE: "100" });
  await awaitFreshWindow();
  for (let i = 0; i < 20; i++) {
    await expect401(
      await rawGet(t, { authorization: "Bearer weft_scim_nope" }),
      "unknown_token",
    );
  }
  assert.deepEqual(await failureCounts(t), { unknown_token: 20 });
  const { events } = await listEvents(t.kv, t.tenant.id, { type: "scim_auth_failed" });
  assert.equal(events.length, 1, JSON.stringify(events));
  const [e] = events;
  assert.equal(e.type, "scim_auth_failed");
  assert.equal(e.tenantId, t.tenant.id);
  assert.equal(e.idpId, t.idp.id);
  assert.deepEqual(e.changed, ["unknown_token"]);
  assert.equal(typeof e.clientIp, "string");
  // A different reason is a different event.
  await expect401(await rawGet(t, {}), "missing_header");
  const after = await listEvents(t.kv, t.tenant.id, { type: "scim_auth_failed" });
  assert.equal(after.events.length, 2);
  assert.deepEqual(after.events[0].changed, ["missing_header"]);
});

// ---------------------------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------------------------

Deno.test("Auth - after 5 failures a client gets 429 with Retry-After; valid traffic still passes", async () => {
  await using t = await createTestApp({
    WEFT_AUTH_FAILURES_PER_MINUTE: "5",
    WEFT_TRUST_PROXY: "true",
  });
  await awaitFreshWindow();
  const from = (ip: string, headers: Record<string, string> = {}) =>
    rawGet(t, { "x-forwarded-for": ip, ...headers });
  for (let i = 0; i < 5; i++) {
    await expect401(
      await from("198.51.100.7", { authorization: "Bearer nope" }),
      "unknown_token",
    );
  }
  const throttled = await from("198.51.100.7", { authorization: "Bearer nope" });
  const retryAfter = throttled.headers.get("retry-after") ?? "";
  await expectScimError(throttled, 429);
  assert.match(retryAfter, /^\d+$/, `Retry-After: "${retryAfter}"`);
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After: ${retryAfter}`);
  // Any kind of failure from that client is throttled now.
  await expectScimError(await from("198.51.100.7"), 429);
  // The valid token from the same client still succeeds: successful traffic is never throttled.
  await expectScim(await from("198.51.100.7", { authorization: `Bearer ${t.token}` }), 200);
  // Another client is not affected.
  await expect401(await from("198.51.100.8", { authorization: "Bearer nope" }), "unknown_token");
  // Throttled failures are not tallied (only the first 5 are).
  assert.equal((await failureCounts(t)).unknown_token, 6);
});

Deno.test("Auth - X-Forwarded-For is ignored unless WEFT_TRUST_PROXY is true", async () => {
  await using t = await createTestApp({ WEFT_AUTH_FAILURES_PER_MINUTE: "5" });
  await awaitFreshWindow();
  // Without a socket and without a trusted proxy, every request is the client "unknown": a
  // forged X-Forwarded-For cannot spread failures over many buckets.
  for (let i = 0; i < 5; i++) {
    await expect401(
      await rawGet(t, { "x-forwarded-for": `203.0.113.${i}`, authorization: "Bearer nope" }),
      "unknown_token",
    );
  }
  const res = await rawGet(t, {
    "x-forwarded-for": "203.0.113.99",
    authorization: "Bearer nope",
  });
  await expectScimError(res, 429);
  await expectScim(await t.scim("GET", "/Users"), 200);
});

Deno.test("Auth - a burst of 60 concurrent bad tokens gets exactly the limit's 401s, then 429s", async () => {
  await using t = await createTestApp({ WEFT_AUTH_FAILURES_PER_MINUTE: "20" });
  await awaitFreshWindow();
  const answers = await Promise.all(
    Array.from({ length: 60 }, () => rawGet(t, { authorization: "Bearer weft_scim_guess" })),
  );
  const statuses = answers.map((r) => r.status);
  await Promise.all(answers.map((r) => r.body?.cancel()));
  // Every attempt is counted (none slips through), and the first 20 still get their reason.
  assert.equal(statuses.filter((s) => s === 401).length, 20);
  assert.equal(statuses.filter((s) => s === 429).length, 40);
});

Deno.test("Auth - behind a trusted proxy the client is the address the proxy appended", async () => {
  await using t = await createTestApp({
    WEFT_AUTH_FAILURES_PER_MINUTE: "5",
    WEFT_TRUST_PROXY: "true",
  });
  await awaitFreshWindow();
  // An appending proxy forwards "<whatever the client sent>, <real client>": forging the first
  // entry must not spread one client's failures over many addresses.
  for (let i = 0; i < 5; i++) {
    await expect401(
      await rawGet(t, {
        "x-forwarded-for": `10.9.${i}.1, 203.0.113.7`,
        authorization: "Bearer nope",
      }),
      "unknown_token",
    );
  }
  await expectScimError(
    await rawGet(t, {
      "x-forwarded-for": "10.9.99.1, 203.0.113.7",
      authorization: "Bearer nope",
    }),
    429,
  );
});

// ---------------------------------------------------------------------------------------------
// Last use and secrecy
// ---------------------------------------------------------------------------------------------

Deno.test("Auth - last use (time and client) is shown by listTokens", async () => {
  await using t = await createTestApp({ WEFT_TRUST_PROXY: "true" });
  const [unused] = await listTokens(t.kv, t.tenant.id, t.idp.id);
  assert.equal(unused.lastUsed, undefined);
  const before = Date.now();
  await expectScim(
    await t.scim("GET", "/Users", undefined, { "x-forwarded-for": "192.0.2.10" }),
    200,
  );
  const after = Date.now();
  const [summary] = await listTokens(t.kv, t.tenant.id, t.idp.id);
  assert.ok(summary.lastUsed, `listTokens shows no lastUsed: ${JSON.stringify(summary)}`);
  const at = Date.parse(summary.lastUsed.at);
  assert.ok(at >= before && at <= after, `lastUsed.at ${summary.lastUsed.at}`);
  assert.equal(summary.lastUsed.ip, "192.0.2.10");
});

Deno.test("Auth - a second request within the minute does not rewrite last use", async () => {
  await using t = await createTestApp({ WEFT_TRUST_PROXY: "true" });
  const prefix = keys.tokenLastUsed(t.tenant.id, "").slice(0, -1);
  assert.equal((await Array.fromAsync(t.kv.list({ prefix }))).length, 0);
  await expectScim(
    await t.scim("GET", "/Users", undefined, { "x-forwarded-for": "192.0.2.10" }),
    200,
  );
  const first = await Array.fromAsync(t.kv.list({ prefix }));
  assert.equal(first.length, 1, "one last-use record after the first request");
  await expectScim(
    await t.scim("GET", "/Users", undefined, { "x-forwarded-for": "192.0.2.11" }),
    200,
  );
  const second = await Array.fromAsync(t.kv.list({ prefix }));
  assert.equal(second.length, 1);
  assert.equal(
    second[0].versionstamp,
    first[0].versionstamp,
    "last use rewritten within a minute",
  );
});

Deno.test("Auth - the plaintext token appears nowhere in KV nor in any event", async () => {
  await using t = await createTestApp();
  const other = await t.addIdp();
  const bogus = "weft_scim_thisisnotatokenbutlookslikeone00000000000";
  await expectScim(await t.scim("GET", "/Users"), 200);
  await expectScim(await t.scim("POST", "/Users", { userName: "secret.scan@example.com" }), 201);
  for (
    const header of [
      `Bearer Bearer ${t.token}`,
      `Bearer  ${t.token}`,
      `Bearer ${bogus}`,
      `Basic ${btoa(`x:${t.token}`)}`,
      `Bearer ${other.token}`,
    ]
  ) {
    await rawGet(t, { authorization: header }).then((r) => r.body?.cancel());
  }
  const dump = await dumpKv(t.kv);
  const random = (s: string) => s.slice("weft_scim_".length);
  for (const secret of [t.token, other.token, bogus]) {
    assert.equal(dump.includes(secret), false, "a plaintext token is stored in KV");
    assert.equal(dump.includes(random(secret)), false, "a token's random part is stored in KV");
  }
  const { events } = await listEvents(t.kv, t.tenant.id, { limit: 500 });
  assert.ok(events.length > 0);
  const text = JSON.stringify(events);
  for (const secret of [t.token, other.token, bogus]) {
    assert.equal(text.includes(random(secret)), false, "a token appears in an event");
  }
});
