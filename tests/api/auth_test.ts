/**
 * Who may read the directory API, over HTTP: a live key of the tenant, with the scope of the
 * route. Another tenant's key on this host, a revoked or expired key and a SCIM token are each a
 * 401; an API key sent to SCIM is a 401 there too. The last use of a key is recorded.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, createUsers, expectScimError } from "../_helpers.ts";
import { apiGet, apiKeyOf, expectApiError, expectJson } from "./_api.ts";
import { createTenant } from "../../lib/store/tenants.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "../../lib/store/api_keys.ts";
import { keys } from "../../lib/store/keys.ts";
import { hashApiKeySecret } from "../../lib/auth/api_keys.ts";

const ROUTES = [
  ["/users", "directory:read"],
  ["/users/x", "directory:read"],
  ["/users/x/groups", "directory:read"],
  ["/groups", "directory:read"],
  ["/groups/x", "directory:read"],
  ["/groups/x/members", "directory:read"],
  ["/roles", "directory:read"],
  ["/events", "events:read"],
] as const;

Deno.test("/api/v1 - isolation: other tenants' keys, revoked and expired keys, SCIM tokens are 401", async () => {
  // Every refusal below comes from one address: keep the failure throttle out of the way.
  await using t = await createTestApp({ WEFT_AUTH_FAILURES_PER_MINUTE: "1000" });
  await createUsers(t, 2);
  const good = await apiKeyOf(t);
  const other = await createTenant(t.kv, { subdomain: "globex" });
  const foreign = (await createApiKey(t.kv, other.id, { name: "x", createdBy: "test" })).secret;
  const revoked = await createApiKey(t.kv, t.tenant.id, { name: "old", createdBy: "test" });
  await revokeApiKey(t.kv, t.tenant.id, revoked.key.id, { actor: "test" });
  const expiring = await apiKeyOf(t, { expiresAt: new Date(Date.now() + 60_000).toISOString() });
  const k = keys.apiKey(t.tenant.id, await hashApiKeySecret(expiring));
  const entry = await t.kv.get<Record<string, unknown>>(k);
  await t.kv.set(k, { ...entry.value, expiresAt: new Date(Date.now() - 1).toISOString() });

  const ok = await expectJson<{ data: unknown[] }>(await apiGet(t, "/users", good), 200);
  assert.equal(ok.data.length, 2);
  for (const [path] of ROUTES) {
    for (
      const [name, bearer] of [
        ["no key", null],
        ["another tenant's key", foreign],
        ["a revoked key", revoked.secret],
        ["an expired key", expiring],
        ["a SCIM token", t.token],
      ] as const
    ) {
      const res = await apiGet(t, path, bearer);
      await expectApiError(res, 401, "unauthorized");
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /, `${path} ${name}`);
    }
  }
  // The other tenant's key works on its own host.
  const theirs = await t.app.request("http://globex.localhost/api/v1/users", {
    headers: { authorization: `Bearer ${foreign}` },
  });
  assert.deepEqual((await expectJson<{ data: unknown[] }>(theirs, 200)).data, []);
  // An API key is not a SCIM token either.
  await expectScimError(
    await t.scim("GET", "/Users", undefined, { authorization: `Bearer ${good}` }),
    401,
  );
  // A host that names no tenant.
  await expectApiError(
    await t.app.request("http://nobody.localhost/api/v1/users", {
      headers: { authorization: `Bearer ${good}` },
    }),
    404,
    "not_found",
  );
});

Deno.test("/api/v1 - scopes: each route needs its own, 403 insufficient_scope without", async () => {
  await using t = await createTestApp();
  const directory = await apiKeyOf(t, { scopes: ["directory:read"] });
  const events = await apiKeyOf(t, { scopes: ["events:read"] });
  for (const [path, scope] of ROUTES) {
    const lacking = scope === "events:read" ? directory : events;
    const having = scope === "events:read" ? events : directory;
    assert.match(
      await expectApiError(await apiGet(t, path, lacking), 403, "insufficient_scope"),
      new RegExp(scope),
    );
    const res = await apiGet(t, path, having);
    assert.ok([200, 404].includes(res.status), `${path}: ${res.status}`);
    await res.body?.cancel();
  }
  // The document is public.
  await expectJson(await apiGet(t, "/openapi.json", null), 200);
});

Deno.test("/api/v1 - a key's last use is recorded (once a minute per process)", async () => {
  await using t = await createTestApp();
  const key = await apiKeyOf(t, { name: "used" });
  await apiKeyOf(t, { name: "unused" });
  await expectJson(await apiGet(t, "/users", key), 200);
  const listed = await listApiKeys(t.kv, t.tenant.id);
  assert.ok(listed.find((k) => k.name === "used")!.lastUsed?.at);
  assert.equal(listed.find((k) => k.name === "unused")!.lastUsed, undefined);
  assert.ok(listed.every((k) => !("hash" in k)));
});
