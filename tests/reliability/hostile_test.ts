/**
 * Sends every request of the hostile corpus (`hostile_corpus.ts`, at least 300) through
 * `app.request()` and checks, request by request: the answer is a 4xx in the RFC 7644 §3.12 error
 * schema (never a 5xx, never a hang), the store is byte-for-byte unchanged (except what a refused
 * authentication legitimately records: failure tallies, throttle windows, the aggregated
 * `scim_auth_failed` event; and the at-most-once-a-minute token last use), each answer comes within
 * a time budget (one request must not tie up the server), the app keeps answering, and no prototype
 * was polluted.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, expectScim, type TestApp } from "../_helpers.ts";
import { type BadRequest, buildCorpus, type Fixture } from "./hostile_corpus.ts";
import { keys } from "../../lib/store/keys.ts";
import { report, REQUEST_LOG_KINDS } from "./_server.ts";

/** Key kinds a refused request may legitimately write (see module doc). */
const VOLATILE = new Set([
  ...REQUEST_LOG_KINDS,
  "rate_limits",
  "auth_failures",
  "auth_failure_event_marks",
  "token_last_used",
  "page_anchors",
]);

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Deno.KvU64) return `u64:${v.value}`;
  if (v instanceof Uint8Array) return `bytes:${Array.from(v).join(",")}`;
  return v;
}

/** The store minus volatile keys and the aggregated authentication-failure events. */
async function storeState(kv: Deno.Kv, tenantId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const authEvents = new Set<string>();
  for await (const e of kv.list({ prefix: [] })) {
    if (e.key[0] === "t" && e.key[1] === tenantId) {
      const kind = String(e.key[2]);
      if (VOLATILE.has(kind)) continue;
      if (kind === "events" && (e.value as { type?: string }).type === "scim_auth_failed") {
        authEvents.add(String(e.key[3]));
        continue;
      }
      if (kind.startsWith("events_by_") && authEvents.has(String(e.key.at(-1)))) continue;
    }
    out.set(JSON.stringify(e.key, replacer), JSON.stringify(e.value, replacer));
  }
  return out;
}

function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of b) {
    if (!a.has(k)) out.push(`+ ${k.slice(0, 160)}`);
    else if (a.get(k) !== v) out.push(`~ ${k.slice(0, 160)}`);
  }
  for (const k of a.keys()) if (!b.has(k)) out.push(`- ${k.slice(0, 160)}`);
  return out;
}

const enc = new TextEncoder();

/** Longest acceptable time for one refusal: a single request must not tie up the server. */
const BUDGET_MS = 3000;

async function send(t: TestApp, r: BadRequest): Promise<Response> {
  const origin = new URL(t.base).origin;
  const url = r.path.startsWith("//") ? origin + r.path.slice(1) : t.base + r.path;
  const headers: Record<string, string> = { ...r.headers };
  if (r.auth === undefined) headers.authorization = `Bearer ${t.token}`;
  else if (r.auth !== null) headers.authorization = r.auth;
  if (
    r.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")
  ) {
    headers["content-type"] = "application/scim+json";
  }
  if (r.host) headers.host = r.host;
  const init: RequestInit & { duplex?: string } = { method: r.method, headers };
  if (typeof r.body === "function") {
    init.body = r.body();
    init.duplex = "half";
  } else if (r.body !== undefined) {
    init.body = typeof r.body === "string" ? enc.encode(r.body) : r.body;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer within 20 s")), 20_000);
  });
  try {
    return await Promise.race([Promise.resolve(t.app.request(url, init)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function fixture(t: TestApp): Promise<Fixture> {
  const post = async (path: string, body: unknown) =>
    await expectScim(await t.scim("POST", path, body), 201);
  const admin = await post("/Users", {
    userName: "admin.user@example.test",
    externalId: "00uADMIN",
    name: { givenName: "Admin", familyName: "User" },
    emails: [{ value: "admin.user@example.test", type: "work", primary: true }],
  });
  await post("/Users", { userName: "kelly.other@example.test", externalId: "00uKELLY" });
  await post("/Users", { userName: "josé.accent@example.test", externalId: "00uJOSE" });
  const group = await post("/Groups", {
    displayName: "Admins",
    members: [{ value: admin.id }],
  });
  return {
    userId: String(admin.id),
    userName: "admin.user@example.test",
    externalId: "00uADMIN",
    otherUserName: "kelly.other@example.test",
    accentedUserName: "josé.accent@example.test",
    groupId: String(group.id),
    groupName: "Admins",
    idpId: t.idp.id,
    basePath: new URL(t.base).pathname,
  };
}

interface Failure {
  name: string;
  category: string;
  problem: string;
}

Deno.test({
  name: "Hostile input: ≥ 300 bad requests → 4xx SCIM errors, store unchanged, app alive",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using t = await createTestApp();
    const f = await fixture(t);
    // Warm up: the first authenticated request records the token's last use.
    await expectScim(await t.scim("GET", `/Users/${f.userId}`), 200);
    const corpus = buildCorpus(f);
    assert.ok(corpus.length >= 300, `corpus has ${corpus.length} requests`);
    assert.equal(new Set(corpus.map((r) => r.name)).size, corpus.length, "unique names");

    const failures: Failure[] = [];
    const perCategory = new Map<string, { sent: number; failed: number }>();
    let before = await storeState(t.kv, t.tenant.id);
    for (const [i, r] of corpus.entries()) {
      const stat = perCategory.get(r.category) ?? { sent: 0, failed: 0 };
      perCategory.set(r.category, stat);
      stat.sent++;
      const fail = (problem: string) => {
        failures.push({ name: r.name, category: r.category, problem });
      };
      const failedBefore = failures.length;
      let res: Response;
      const started = performance.now();
      try {
        res = await send(t, r);
      } catch (error) {
        fail(`threw: ${error instanceof Error ? error.message : error}`);
        stat.failed++;
        continue;
      }
      const text = await res.text();
      const ms = performance.now() - started;
      if (ms > BUDGET_MS) {
        fail(
          `took ${Math.round(ms)} ms (budget ${BUDGET_MS} ms): one request can tie up the server`,
        );
      }
      const okStatus = (res.status >= 400 && res.status < 500) ||
        (r.allow ?? []).includes(res.status);
      if (!okStatus) fail(`status ${res.status}: ${text.slice(0, 240)}`);
      if (res.status >= 400) {
        const type = res.headers.get("content-type") ?? "";
        if (!/^application\/scim\+json/.test(type)) {
          fail(`error content type "${type}": ${text.slice(0, 120)}`);
        } else {
          try {
            const body = JSON.parse(text);
            if (
              JSON.stringify(body.schemas) !==
                '["urn:ietf:params:scim:api:messages:2.0:Error"]' ||
              body.status !== String(res.status) || typeof body.detail !== "string"
            ) fail(`not an RFC 7644 error body: ${text.slice(0, 200)}`);
          } catch {
            fail(`error body is not JSON: ${text.slice(0, 120)}`);
          }
        }
      }
      const after = await storeState(t.kv, t.tenant.id);
      const changes = diff(before, after);
      if (changes.length) {
        fail(`store changed (status ${res.status}): ${changes.slice(0, 4).join(" | ")}`);
        before = after;
      }
      if (failures.length > failedBefore) stat.failed++;
      if (i % 25 === 24) {
        const alive = await t.scim("GET", `/Users/${f.userId}`);
        await alive.body?.cancel();
        assert.equal(alive.status, 200, `app stopped answering after "${r.name}"`);
      }
    }

    // The app still works, and nothing reached a prototype.
    const created = await t.scim("POST", "/Users", {
      userName: "after.corpus@example.test",
      externalId: "after-corpus",
    });
    assert.equal(created.status, 201, await created.text());
    const patched = await t.scim("PATCH", `/Groups/${f.groupId}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "displayName", value: "Admins renamed" }],
    });
    assert.equal(patched.status, 204, await patched.text());
    const proto = Object.prototype as Record<string, unknown>;
    for (const key of ["polluted", "admin", "members", "filter"]) {
      assert.equal(proto[key], undefined, `Object.prototype.${key} was written`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined);
    assert.equal(
      (await t.kv.get(keys.user(t.tenant.id, "__proto__"))).value,
      null,
      "no user stored under __proto__",
    );

    const table = [...perCategory].map(([c, s]) =>
      `${c.padEnd(16)} ${String(s.sent).padStart(4)} sent ${String(s.failed).padStart(4)} failed`
    );
    report(`hostile corpus: ${corpus.length} requests\n${table.join("\n")}`);
    assert.equal(
      failures.length,
      0,
      `${failures.length} of ${corpus.length} hostile requests were mishandled:\n` +
        failures.map((x) => `  [${x.category}] ${x.name}: ${x.problem}`).join("\n"),
    );
  },
});
