/**
 * Security (issue 5, "Security"): the tenant and IdP isolation matrix over every SCIM route,
 * leak scans of every answer (bodies, `409`/`400` details, filters, root search), timing of `eq`
 * lookups, token revocation (in-process and across processes via the CLI), throttling of failed
 * authentication per client address (sequential, concurrent, spoofed `X-Forwarded-For`) without
 * slowing valid traffic, and no token plaintext anywhere in the store.
 *
 * The admin console's routes are not in this matrix (see docs/reliability.md).
 * @module
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { createApp } from "../../routes/mod.ts";
import { createIdp, createTenant, createToken, revokeToken } from "../../lib/store/tenants.ts";
import type { IdpKind } from "../../lib/store/types.ts";
import {
  cli,
  join,
  PATCH_OP,
  provision,
  report,
  ScimClient,
  sleep,
  withServers,
  withTempDir,
} from "./_server.ts";

type Json = Record<string, unknown>;

/** One IdP connection as an attacker or a victim sees it. */
interface Actor {
  label: string;
  tenantId: string;
  host: string;
  idpId: string;
  token: string;
  tokenId: string;
  users: Json[];
  groups: Json[];
  /** Every identifying string of this IdP's data: what must never reach another actor. */
  secrets: string[];
}

interface World {
  app: ReturnType<typeof createApp>;
  kv: Deno.Kv;
  actors: Actor[];
  send(
    actor: { host: string; token: string | null },
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; headers: Headers }>;
  close(): void;
}

async function world(env: Record<string, string> = {}): Promise<World> {
  const kv = await Deno.openKv(":memory:");
  const config = loadConfig({ WEFT_KV_PATH: ":memory:", WEFT_LOG: "off", ...env });
  const app = createApp({ kv, config, log: createLogger("off") });
  const send: World["send"] = async (actor, method, path, body, headers = {}) => {
    const res = await app.request(`http://${actor.host}${path}`, {
      method,
      headers: {
        ...(actor.token !== null ? { authorization: `Bearer ${actor.token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/scim+json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  const actors: Actor[] = [];
  const specs: [string, [string, IdpKind][]][] = [
    ["alpha", [["X", "okta"], ["Y", "entra"]]],
    ["bravo", [["Z", "okta"], ["W", "generic"]]],
  ];
  for (const [subdomain, idps] of specs) {
    const tenant = await createTenant(kv, { subdomain });
    for (const [name, kind] of idps) {
      const idp = await createIdp(kv, tenant.id, { name, kind });
      const t = await createToken(kv, tenant.id, idp.id, { name: "iso", createdBy: "test" });
      const a: Actor = {
        label: `${subdomain}/${name}`,
        tenantId: tenant.id,
        host: `${subdomain}.localhost`,
        idpId: idp.id,
        token: t.secret,
        tokenId: t.token.id,
        users: [],
        groups: [],
        secrets: [],
      };
      const base = `/scim/v2/inbound/${idp.id}`;
      for (let i = 0; i < 2; i++) {
        const tag = `${subdomain}${name}${i}`;
        const res = await send(a, "POST", `${base}/Users`, {
          userName: `secret.${tag}@victim.test`,
          externalId: `ext-${tag}`,
          displayName: `Secret Person ${tag}`,
          name: { givenName: `Given${tag}`, familyName: `Family${tag}` },
          emails: [{ value: `mail.${tag}@victim.test`, type: "work", primary: true }],
          title: `Title${tag}`,
        });
        assert.equal(res.status, 201, res.text);
        a.users.push(JSON.parse(res.text));
      }
      const g = await send(a, "POST", `${base}/Groups`, {
        displayName: `Secret Group ${subdomain}${name}`,
        externalId: `gext-${subdomain}${name}`,
        members: a.users.map((u) => ({ value: u.id })),
      });
      assert.equal(g.status, 201, g.text);
      a.groups.push(JSON.parse(g.text));
      for (const u of a.users) {
        a.secrets.push(
          String(u.id),
          String(u.userName),
          String(u.externalId),
          String(u.displayName),
          String((u.emails as Json[])[0].value),
          String((u.name as Json).givenName),
          String(u.title),
        );
      }
      for (const grp of a.groups) {
        a.secrets.push(String(grp.id), String(grp.displayName), String(grp.externalId));
      }
      a.secrets.push(a.token, a.tokenId, a.idpId, tenant.id);
      actors.push(a);
    }
  }
  return { app, kv, actors, send, close: () => kv.close() };
}

/** The victim's strings found in an answer, minus those the attacker itself sent. */
function leaks(victim: Actor, sent: string, answer: string): string[] {
  return victim.secrets.filter((s) => !sent.includes(s) && answer.includes(s));
}

/** Each of an IdP's original resources as its owner reads it (to prove nothing changed it). */
async function view(w: World, a: Actor): Promise<string> {
  const base = `/scim/v2/inbound/${a.idpId}`;
  const out: string[] = [];
  for (const u of a.users) out.push((await w.send(a, "GET", `${base}/Users/${u.id}`)).text);
  for (const g of a.groups) out.push((await w.send(a, "GET", `${base}/Groups/${g.id}`)).text);
  return out.join("\n");
}

Deno.test("Isolation matrix: every SCIM route with another tenant's or IdP's credentials or ids → 401/404, nothing leaked or changed", async (t) => {
  // Every in-process request comes from one address: lift the failure throttle (tested below)
  // so each refusal shows its own reason.
  const w = await world({ WEFT_AUTH_FAILURES_PER_MINUTE: "1000000" });
  try {
    const before = new Map<string, string>();
    for (const a of w.actors) before.set(a.label, await view(w, a));
    const problems: string[] = [];
    let requests = 0;
    const check = async (
      attacker: Actor,
      victim: Actor,
      how: string,
      host: string,
      idpId: string,
      method: string,
      path: string,
      allowed: number[],
      body?: unknown,
    ) => {
      const url = `/scim/v2/inbound/${idpId}${path}`;
      const res = await w.send({ host, token: attacker.token }, method, url, body);
      requests++;
      const sent = url + JSON.stringify(body ?? "");
      if (!allowed.includes(res.status)) {
        problems.push(
          `${attacker.label} → ${victim.label} [${how}] ${method} ${path}: ${res.status} ${
            res.text.slice(0, 160)
          }`,
        );
      }
      const found = leaks(victim, sent, res.text + JSON.stringify([...res.headers]));
      if (found.length) {
        problems.push(
          `${attacker.label} → ${victim.label} [${how}] ${method} ${path}: leaked ${
            found.join(", ")
          }`,
        );
      }
    };

    await t.step("resource routes: the victim's ids through every credential path", async () => {
      for (const attacker of w.actors) {
        for (const victim of w.actors) {
          if (attacker === victim) continue;
          const uid = String(victim.users[0].id);
          const gid = String(victim.groups[0].id);
          const sameTenant = attacker.tenantId === victim.tenantId;
          // How the attacker may try: its own endpoint with the victim's ids; the victim's
          // endpoint on its own host; the victim's host and endpoint; the victim's host with its
          // own endpoint.
          const routes: [string, string, string, number[]][] = [
            ["own host, own IdP, victim ids", attacker.host, attacker.idpId, [404]],
            ["own host, victim IdP", attacker.host, victim.idpId, [401, 404]],
            ["victim host, victim IdP", victim.host, victim.idpId, [401, 404]],
            ["victim host, own IdP", victim.host, attacker.idpId, sameTenant ? [404] : [401, 404]],
          ];
          for (const [how, host, idpId, allowed] of routes) {
            const userBody = { userName: "attacker@evil.test", externalId: "evil" };
            const patch = {
              schemas: [PATCH_OP],
              Operations: [{ op: "replace", path: "displayName", value: "pwned" }],
            };
            await check(attacker, victim, how, host, idpId, "GET", `/Users/${uid}`, allowed);
            await check(
              attacker,
              victim,
              how,
              host,
              idpId,
              "PUT",
              `/Users/${uid}`,
              allowed,
              userBody,
            );
            await check(
              attacker,
              victim,
              how,
              host,
              idpId,
              "PATCH",
              `/Users/${uid}`,
              allowed,
              patch,
            );
            await check(attacker, victim, how, host, idpId, "DELETE", `/Users/${uid}`, allowed);
            await check(attacker, victim, how, host, idpId, "GET", `/Groups/${gid}`, allowed);
            await check(attacker, victim, how, host, idpId, "PUT", `/Groups/${gid}`, allowed, {
              displayName: "pwned",
              members: [],
            });
            await check(attacker, victim, how, host, idpId, "PATCH", `/Groups/${gid}`, allowed, {
              schemas: [PATCH_OP],
              Operations: [{ op: "replace", path: "members", value: [] }],
            });
            await check(attacker, victim, how, host, idpId, "DELETE", `/Groups/${gid}`, allowed);
            if (how !== "own host, own IdP, victim ids") {
              const list = how === "victim host, own IdP" && sameTenant ? [200] : allowed;
              await check(attacker, victim, how, host, idpId, "GET", "/Users", list);
              await check(attacker, victim, how, host, idpId, "GET", "/Groups", list);
              await check(
                attacker,
                victim,
                how,
                host,
                idpId,
                "POST",
                "/Users",
                list.map((s) => s === 200 ? 201 : s),
                {
                  userName: `probe.${crypto.randomUUID()}@evil.test`,
                },
              );
              await check(attacker, victim, how, host, idpId, "POST", "/.search", list, {
                schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                filter: "userName pr",
              });
            }
          }
        }
      }
    });

    await t.step(
      "filters and searches on the attacker's own endpoint find nothing of the victim",
      async () => {
        for (const attacker of w.actors) {
          for (const victim of w.actors) {
            if (attacker === victim) continue;
            const u = victim.users[0];
            const g = victim.groups[0];
            const filters = [
              `userName eq "${u.userName}"`,
              `externalId eq "${u.externalId}"`,
              `emails.value eq "${(u.emails as Json[])[0].value}"`,
              `emails[type eq "work"].value eq "${(u.emails as Json[])[0].value}"`,
              `id eq "${u.id}"`,
              `userName sw "secret"`,
              `displayName co "Secret Person"`,
              `title pr`,
            ];
            const groupFilters = [
              `displayName eq "${g.displayName}"`,
              `externalId eq "${g.externalId}"`,
              `id eq "${g.id}"`,
              `members.value eq "${u.id}"`,
              `members[value eq "${u.id}"]`,
              `displayName sw "Secret Group"`,
            ];
            const base = `/scim/v2/inbound/${attacker.idpId}`;
            const look = async (method: string, path: string, body?: unknown) => {
              const res = await w.send(attacker, method, base + path, body);
              requests++;
              const sent = path + JSON.stringify(body ?? "");
              const found = leaks(victim, sent, res.text);
              if (found.length) {
                problems.push(
                  `${attacker.label} → ${victim.label} ${method} ${path}: leaked ${
                    found.join(", ")
                  }`,
                );
              }
              if (res.status !== 200) {
                problems.push(
                  `${attacker.label} ${method} ${path}: ${res.status} ${res.text.slice(0, 120)}`,
                );
                return;
              }
              const body2 = JSON.parse(res.text) as Json;
              const ids = ((body2.Resources ?? []) as Json[]).map((r) => r.id);
              const victimIds = [...victim.users, ...victim.groups].map((r) => r.id);
              if (ids.some((id) => victimIds.includes(id))) {
                problems.push(
                  `${attacker.label} → ${victim.label} ${method} ${path}: returned the victim's resource`,
                );
              }
            };
            for (const f of filters) {
              await look("GET", `/Users?filter=${encodeURIComponent(f)}`);
              await look("POST", "/Users/.search", {
                schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                filter: f,
              });
              await look("POST", "/.search", {
                schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                filter: f,
              });
            }
            for (const f of groupFilters) {
              await look("GET", `/Groups?filter=${encodeURIComponent(f)}`);
              await look("POST", "/Groups/.search", {
                schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                filter: f,
              });
            }
            await look("GET", `/Users?filter=${encodeURIComponent("userName pr")}&count=200`);
            await look("GET", `/Groups?count=200`);
            await look("GET", `/Users/${attacker.users[0].id}?attributes=groups`);
          }
        }
      },
    );

    await t.step(
      "writes naming the victim's users or values: refused or separate, never adopted, no leak in details",
      async () => {
        for (const attacker of w.actors) {
          for (const victim of w.actors) {
            if (attacker === victim) continue;
            const base = `/scim/v2/inbound/${attacker.idpId}`;
            const vu = victim.users[1];
            const own = attacker.groups[0];
            const tryWrite = async (
              method: string,
              path: string,
              body: unknown,
              allowed: number[],
            ) => {
              const res = await w.send(attacker, method, base + path, body);
              requests++;
              const sent = path + JSON.stringify(body);
              if (!allowed.includes(res.status)) {
                problems.push(
                  `${attacker.label} → ${victim.label} ${method} ${path} ${
                    JSON.stringify(body).slice(0, 80)
                  }: ${res.status} ${res.text.slice(0, 160)}`,
                );
              }
              const found = leaks(victim, sent, res.text);
              if (found.length) {
                problems.push(
                  `${attacker.label} → ${victim.label} ${method} ${path}: leaked ${
                    found.join(", ")
                  }`,
                );
              }
              return res;
            };
            // Membership of another IdP's user: refused (400), the detail names only what was sent.
            await tryWrite("PATCH", `/Groups/${own.id}`, {
              schemas: [PATCH_OP],
              Operations: [{ op: "add", path: "members", value: [{ value: vu.id }] }],
            }, [400]);
            await tryWrite("PATCH", `/Groups/${own.id}`, {
              schemas: [PATCH_OP],
              Operations: [{ op: "add", path: "members", value: [{ value: vu.externalId }] }],
            }, [400]);
            await tryWrite("POST", "/Groups", {
              displayName: `attacker group ${crypto.randomUUID()}`,
              members: [{ value: vu.id }],
            }, [400]);
            await tryWrite("PUT", `/Groups/${own.id}`, {
              displayName: String(own.displayName),
              members: [...attacker.users.map((u) => ({ value: u.id })), { value: vu.id }],
            }, [400]);
            // Removing the victim's user from the attacker's group: a no-op that reveals nothing.
            await tryWrite("PATCH", `/Groups/${own.id}`, {
              schemas: [PATCH_OP],
              Operations: [{ op: "remove", path: `members[value eq "${vu.id}"]` }],
            }, [200, 204]);
          }
        }
        // The same userName / externalId / group name as another IdP's: a separate resource.
        const [x, y] = w.actors;
        const vu = y.users[0];
        const res = await w.send(x, "POST", `/scim/v2/inbound/${x.idpId}/Users`, {
          userName: vu.userName,
          externalId: vu.externalId,
          emails: vu.emails,
        });
        requests++;
        assert.equal(res.status, 201, `same userName in another IdP: ${res.text}`);
        assert.notEqual(JSON.parse(res.text).id, vu.id, "never adopted across IdPs");
        const gres = await w.send(x, "POST", `/scim/v2/inbound/${x.idpId}/Groups`, {
          displayName: y.groups[0].displayName,
        });
        requests++;
        assert.equal(gres.status, 201, gres.text);
        assert.notEqual(JSON.parse(gres.text).id, y.groups[0].id);
      },
    );

    await t.step("the victims' data is exactly as before", async () => {
      for (const a of w.actors) {
        assert.equal(await view(w, a), before.get(a.label), `${a.label} changed`);
      }
    });
    report(`isolation matrix: ${w.actors.length} IdPs in 2 tenants, ${requests} requests`);
    assert.deepEqual(problems, [], `\n${problems.slice(0, 40).join("\n")}`);
  } finally {
    w.close();
  }
});

Deno.test("Isolation: eq lookups of another tenant's userName take no longer than of a name nobody has", async () => {
  const w = await world();
  try {
    const [attacker, , victim] = w.actors;
    const base = `/scim/v2/inbound/${attacker.idpId}/Users?filter=`;
    const time = async (userName: string) => {
      const s = performance.now();
      const res = await w.send(
        attacker,
        "GET",
        base + encodeURIComponent(`userName eq "${userName}"`),
      );
      assert.equal(JSON.parse(res.text).totalResults, 0);
      return performance.now() - s;
    };
    const existing: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < 30; i++) await time("warm-up@x.test");
    for (let i = 0; i < 300; i++) {
      existing.push(await time(String(victim.users[i % 2].userName)));
      missing.push(await time(`nobody.${i}@victim.test`));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const [e, m] = [median(existing), median(missing)];
    report(
      `eq lookup timing: other tenant's userName ${e.toFixed(3)} ms, unknown ${m.toFixed(3)} ms`,
    );
    assert.ok(
      Math.abs(e - m) < 0.5 || (e / m < 1.5 && m / e < 1.5),
      `medians differ: ${e.toFixed(3)} ms vs ${m.toFixed(3)} ms`,
    );
  } finally {
    w.close();
  }
});

Deno.test("Tokens: a revoked or expired token is refused at once", async () => {
  const w = await world();
  try {
    const a = w.actors[0];
    const base = `/scim/v2/inbound/${a.idpId}`;
    const ok = await w.send(a, "GET", `${base}/Users?count=1`);
    assert.equal(ok.status, 200);
    assert.ok(await revokeToken(w.kv, a.tenantId, a.idpId, a.tokenId, "test"));
    const refused = await w.send(a, "GET", `${base}/Users?count=1`);
    assert.equal(refused.status, 401, refused.text);
    assert.match(JSON.parse(refused.text).detail, /revoked/);
    const expired = await createToken(w.kv, a.tenantId, a.idpId, {
      name: "expired",
      createdBy: "test",
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    const e = await w.send({ host: a.host, token: expired.secret }, "GET", `${base}/Users`);
    assert.equal(e.status, 401);
    assert.match(JSON.parse(e.text).detail, /expired/);
  } finally {
    w.close();
  }
});

Deno.test({
  name: "Tokens: revoking with the CLI (another process) is refused by a running server at once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, "rev");
      const { idp, token, tokenId } = p.idps[0];
      await withServers([{ kvPath, tenant: "rev" }, { kvPath, tenant: "rev" }], async (servers) => {
        const c = new ScimClient(servers.map((s) => s.origin), idp.id, token);
        for (let i = 0; i < 4; i++) {
          assert.equal((await c.send("GET", "/Users?count=1")).status, 200);
        }
        await cli(
          kvPath,
          "token",
          "revoke",
          "--tenant",
          "rev",
          "--idp",
          idp.id,
          "--token",
          tokenId,
        );
        for (let i = 0; i < 4; i++) {
          const res = await c.send("GET", "/Users?count=1");
          assert.equal(
            res.status,
            401,
            `server ${i % 2} after revocation: ${JSON.stringify(res.json)}`,
          );
        }
      });
    });
  },
});

/** Waits until at least 8 s remain in the current throttle minute. */
async function awayFromMinuteEdge() {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 8000) await sleep(left + 200);
}

Deno.test("Throttling: failed authentication is throttled per client address (429 + Retry-After); valid traffic never is", async () => {
  const w = await world({ WEFT_TRUST_PROXY: "true", WEFT_AUTH_FAILURES_PER_MINUTE: "20" });
  try {
    const a = w.actors[0];
    const base = `/scim/v2/inbound/${a.idpId}/Users?count=1`;
    const bad = (ip: string, i: number) =>
      w.send({ host: a.host, token: `weft_scim_${"x".repeat(40)}${i}` }, "GET", base, undefined, {
        "x-forwarded-for": ip,
      });
    const good = (ip: string) => w.send(a, "GET", base, undefined, { "x-forwarded-for": ip });
    await awayFromMinuteEdge();
    const statuses: number[] = [];
    const goodTimes: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await bad("203.0.113.5", i);
      statuses.push(r.status);
      if (r.status === 429) {
        const after = Number(r.headers.get("retry-after"));
        assert.ok(after >= 1 && after <= 60, `Retry-After ${r.headers.get("retry-after")}`);
        assert.equal(JSON.parse(r.text).status, "429");
      }
      const s = performance.now();
      const g = await good("203.0.113.5");
      goodTimes.push(performance.now() - s);
      assert.equal(g.status, 200, `valid token from the attacking address: ${g.text}`);
    }
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(401));
    assert.deepEqual(statuses.slice(20), Array(10).fill(429));
    // Another address is not affected.
    assert.equal((await bad("198.51.100.7", 0)).status, 401);
    assert.equal((await good("198.51.100.7")).status, 200);
    goodTimes.sort((x, y) => x - y);
    assert.ok(goodTimes[Math.floor(goodTimes.length * 0.95)] < 250, "valid requests stay fast");
  } finally {
    w.close();
  }
});

Deno.test("Throttling: a spoofed X-Forwarded-For does not buy a fresh budget when proxies are not trusted", async () => {
  const w = await world({ WEFT_AUTH_FAILURES_PER_MINUTE: "20" });
  try {
    const a = w.actors[0];
    await awayFromMinuteEdge();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await w.send(
        { host: a.host, token: `weft_scim_${"y".repeat(40)}${i}` },
        "GET",
        `/scim/v2/inbound/${a.idpId}/Users`,
        undefined,
        { "x-forwarded-for": `192.0.2.${i}` },
      );
      statuses.push(r.status);
    }
    assert.equal(statuses.filter((s) => s === 429).length, 10, JSON.stringify(statuses));
  } finally {
    w.close();
  }
});

Deno.test("Throttling: 200 concurrent failed attempts from one address get at most 2 × the limit through", async () => {
  const w = await world({ WEFT_TRUST_PROXY: "true", WEFT_AUTH_FAILURES_PER_MINUTE: "20" });
  try {
    const a = w.actors[0];
    await awayFromMinuteEdge();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        w.send(
          { host: a.host, token: `weft_scim_${"z".repeat(40)}${i}` },
          "GET",
          `/scim/v2/inbound/${a.idpId}/Users`,
          undefined,
          { "x-forwarded-for": "203.0.113.99" },
        )),
    );
    const through = results.filter((r) => r.status === 401).length;
    report(`concurrent brute force: ${through} of 200 attempts answered 401 (limit 20/min)`);
    assert.ok(results.every((r) => r.status === 401 || r.status === 429));
    assert.ok(
      through <= 40,
      `${through} of 200 concurrent attempts were evaluated (limit 20 per minute)`,
    );
  } finally {
    w.close();
  }
});

Deno.test({
  name:
    "Throttling on a real server: brute force from 127.0.0.1 meets 429 while the valid token keeps working",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, "brute");
      const { idp, token } = p.idps[0];
      await awayFromMinuteEdge();
      await withServers([{ kvPath, tenant: "brute" }], async ([s]) => {
        const good = new ScimClient([s.origin], idp.id, token);
        const statuses: (number | "error")[] = [];
        for (let i = 0; i < 30; i++) {
          const bad = new ScimClient([s.origin], idp.id, `weft_scim_${"q".repeat(40)}${i}`);
          statuses.push((await bad.send("GET", "/Users")).status);
          assert.equal((await good.send("GET", "/Users?count=1")).status, 200);
        }
        assert.ok(statuses.includes(429), JSON.stringify(statuses));
        assert.ok(statuses.slice(0, 20).every((x) => x === 401), JSON.stringify(statuses));
      });
    });
  },
});

Deno.test({
  name:
    "Throttling on a real server: 200 concurrent failed attempts from 127.0.0.1 get at most 2 × the limit through",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, "flood");
      const { idp } = p.idps[0];
      await awayFromMinuteEdge();
      await withServers([{ kvPath, tenant: "flood" }], async ([s]) => {
        const results = await Promise.all(
          Array.from(
            { length: 200 },
            (_, i) =>
              new ScimClient([s.origin], idp.id, `weft_scim_${"f".repeat(40)}${i}`).send(
                "GET",
                "/Users",
              ),
          ),
        );
        const through = results.filter((r) => r.status === 401).length;
        report(
          `concurrent brute force on a real server: ${through} of 200 attempts answered 401 (limit 20/min)`,
        );
        assert.ok(results.every((r) => r.status === 401 || r.status === 429));
        assert.ok(
          through <= 40,
          `${through} of 200 concurrent attempts were evaluated (limit 20 per minute)`,
        );
      });
    });
  },
});

Deno.test("Tokens: no plaintext secret (or 12+ characters of one) anywhere in the store", async () => {
  const w = await world();
  try {
    const a = w.actors[0];
    const base = `/scim/v2/inbound/${a.idpId}/Users`;
    const extra = await createToken(w.kv, a.tenantId, a.idpId, { name: "extra", createdBy: "t" });
    const secrets = [...w.actors.map((x) => x.token), extra.secret];
    // Use them, and fail with near misses that carry a real secret in the header.
    for (const s of secrets) {
      await w.send({ host: a.host, token: s }, "GET", base);
      await w.send({ host: a.host, token: `Bearer ${s}` }, "GET", base);
      await w.send({ host: a.host, token: ` ${s}` }, "GET", base);
      await w.send({ host: a.host, token: s.slice(0, -1) }, "GET", base);
      await w.send({ host: a.host, token: `${s}x` }, "GET", base);
    }
    await revokeToken(w.kv, a.tenantId, a.idpId, extra.token.id, "t");
    await w.send({ host: a.host, token: extra.secret }, "GET", base);
    const dump: string[] = [];
    for await (const e of w.kv.list({ prefix: [] })) {
      dump.push(
        JSON.stringify(e.key) +
          JSON.stringify(
            e.value,
            (_k, v) =>
              typeof v === "bigint" ? String(v) : v instanceof Deno.KvU64 ? String(v.value) : v,
          ),
      );
    }
    const all = dump.join("\n");
    for (const s of secrets) {
      const random = s.slice("weft_scim_".length);
      for (let i = 0; i + 12 <= random.length; i += 4) {
        const piece = random.slice(i, i + 12);
        assert.ok(!all.includes(piece), `store holds "${piece}" of a token secret`);
      }
    }
  } finally {
    w.close();
  }
});
