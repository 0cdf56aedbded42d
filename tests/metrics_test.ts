/**
 * `GET /metrics`: off unless a token is configured, behind that bearer token, Prometheus text
 * with requests by surface and status, SCIM authentication failures by reason and the store's
 * backlog; nothing a client sent appears in it.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, expectScim, randomUser } from "./_helpers.ts";

const TOKEN = "metrics-token-0123456789";

Deno.test("GET /metrics - 404 without WEFT_METRICS_TOKEN", async () => {
  await using t = await createTestApp();
  const res = await t.app.request("http://acme.localhost/metrics");
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

Deno.test("GET /metrics - 401 without the bearer token or with another", async () => {
  await using t = await createTestApp({ WEFT_METRICS_TOKEN: TOKEN });
  for (const authorization of [undefined, "Bearer nope", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
    const res = await t.app.request("http://acme.localhost/metrics", {
      headers: authorization ? { authorization } : {},
    });
    assert.equal(res.status, 401, String(authorization));
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    await res.body?.cancel();
  }
});

Deno.test("GET /metrics - requests by surface and status, SCIM auth failures by reason, backlog", async () => {
  await using t = await createTestApp({ WEFT_METRICS_TOKEN: TOKEN });
  await expectScim(
    await t.scim("POST", "/Users", randomUser({ userName: "pii@example.com" })),
    201,
  );
  const bad = await t.app.request(`${t.base}/Users`, { headers: { authorization: "Bearer nope" } });
  assert.equal(bad.status, 401);
  await bad.body?.cancel();
  const res = await t.app.request("http://acme.localhost/metrics", {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^weft_http_requests_total\{status="201",surface="scim"\} [1-9]\d*$/m);
  assert.match(text, /^weft_http_requests_total\{status="401",surface="scim"\} [1-9]\d*$/m);
  assert.match(text, /^weft_scim_auth_failures_total\{reason="unknown_token"\} [1-9]\d*$/m);
  assert.match(text, /^weft_membership_journal_backlog 0$/m);
  assert.match(text, /^weft_write_pause_active 0$/m);
  assert.match(text, /^# TYPE weft_kv_retries_total counter$/m);
  assert.doesNotMatch(text, /pii@example\.com|nope/);
});
