/**
 * Test harness: the whole app on an in-memory KV, a tenant with an IdP and a token, and a
 * request helper that speaks SCIM through `app.request()` (no network). With
 * `WEFT_TEST_KV=connect` each app gets its own database on a KV Connect server instead
 * (`_kv_connect.ts`).
 * @module
 */
import assert from "node:assert/strict";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { createApp } from "../routes/mod.ts";
import { createIdp, createTenant, createToken } from "../lib/store/tenants.ts";
import type { Idp, Tenant } from "../lib/store/types.ts";
import { flushRequestLog } from "../lib/store/request_log.ts";
import { KV_CONNECT_MODE, openTestKv, sharedKvConnect } from "./_kv_connect.ts";

if (KV_CONNECT_MODE) await sharedKvConnect();

/** A running test app. */
export interface TestApp {
  kv: Deno.Kv;
  app: ReturnType<typeof createApp>;
  tenant: Tenant;
  idp: Idp;
  token: string;
  /** `http://acme.localhost/scim/v2/inbound/<idp>` (no trailing slash). */
  base: string;
  /** Sends a SCIM request to a path under the IdP's base (or an absolute URL). */
  scim(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  /** Creates another IdP (with its own token) in the same tenant. */
  addIdp(name?: string): Promise<{ idp: Idp; token: string; base: string }>;
  /** Closes the store (safe to call twice). `await using` calls it when the test ends. */
  close(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Builds a test app; pass env overrides such as `WEFT_MAX_BODY_BYTES`. Use it with
 * `await using t = await createTestApp()`: the store closes when the test ends, however it ends.
 */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const kv = await openTestKv(":memory:");
  const config = loadConfig({ WEFT_KV_PATH: ":memory:", WEFT_LOG: "off", ...env });
  const app = createApp({ kv, config, log: createLogger("off") });
  const tenant = await createTenant(kv, { subdomain: "acme" });
  const idp = await createIdp(kv, tenant.id, { name: "Okta", kind: "okta" });
  const { secret } = await createToken(kv, tenant.id, idp.id, { name: "test", createdBy: "test" });
  const origin = "http://acme.localhost";
  const base = `${origin}/scim/v2/inbound/${idp.id}`;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    kv.close();
  };
  const send =
    (baseUrl: string, token: string) =>
    (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const url = path.startsWith("http") ? path : baseUrl + path;
      const init: RequestInit = {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "content-type": "application/scim+json" } : {}),
          ...headers,
        },
      };
      if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
      return Promise.resolve(app.request(url, init));
    };
  return {
    kv,
    app,
    tenant,
    idp,
    token: secret,
    base,
    scim: send(base, secret),
    async addIdp(name = "Entra") {
      const other = await createIdp(kv, tenant.id, { name, kind: "entra" });
      const t = await createToken(kv, tenant.id, other.id, { name: "test", createdBy: "test" });
      return { idp: other, token: t.secret, base: `${origin}/scim/v2/inbound/${other.id}` };
    },
    close,
    async [Symbol.asyncDispose]() {
      // The request log commits after the answer: let it finish before the store closes.
      await flushRequestLog(kv);
      close();
    },
  };
}

/** Asserts status and SCIM content type, and returns the parsed body. */
export async function expectScim(
  res: Response,
  status: number,
): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  if (status === 204) {
    assert.equal(text, "");
    return {};
  }
  assert.match(res.headers.get("content-type") ?? "", /^application\/scim\+json/);
  return JSON.parse(text);
}

/** Asserts a SCIM error response (status string, scimType, Error schema). */
export async function expectScimError(
  res: Response,
  status: number,
  scimType?: string,
): Promise<Record<string, unknown>> {
  const body = await expectScim(res, status);
  assert.deepEqual(body.schemas, ["urn:ietf:params:scim:api:messages:2.0:Error"]);
  assert.equal(body.status, String(status));
  assert.equal(typeof body.detail, "string");
  if (scimType !== undefined) assert.equal(body.scimType, scimType);
  return body;
}

let counter = 0;

/** An Okta-shaped user with unique userName and externalId. */
export function randomUser(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const n = `${Date.now().toString(36)}${(counter++).toString(36)}`;
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: `user.${n}@example.com`,
    name: { givenName: "Test", familyName: `User${n}` },
    emails: [{ primary: true, value: `user.${n}@example.com`, type: "work" }],
    displayName: `Test User ${n}`,
    externalId: `00u${n}`,
    active: true,
    ...overrides,
  };
}

/** Creates `n` users through SCIM (16 at a time) and returns their ids in creation order. */
export async function createUsers(t: TestApp, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 16) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(16, n - i) },
        async () => (await expectScim(await t.scim("POST", "/Users", randomUser()), 201)).id,
      ),
    );
    ids.push(...batch.map(String));
  }
  return ids;
}

/** The SCIM PatchOp message schema. */
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/** `PATCH /Groups/{id}` with the given operations. */
export function patchGroup(t: TestApp, groupId: string, Operations: unknown[]): Promise<Response> {
  return t.scim("PATCH", `/Groups/${groupId}`, { schemas: [PATCH_OP], Operations });
}

/** Creates an empty group through SCIM and returns its id. */
export async function createGroup(
  t: TestApp,
  displayName = `Group ${crypto.randomUUID()}`,
): Promise<string> {
  const body = await expectScim(
    await t.scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName,
      members: [],
    }),
    201,
  );
  return String(body.id);
}

/** A group's member ids as `GET /Groups/{id}` lists them, sorted. */
export async function groupMemberIds(t: TestApp, groupId: string): Promise<string[]> {
  const body = await expectScim(await t.scim("GET", `/Groups/${groupId}`), 200);
  return ((body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}
