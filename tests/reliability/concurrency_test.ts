/**
 * Concurrency on real servers over loopback (issue 5, "Concurrency"): duplicate creates, parallel
 * membership changes, interleaved add/remove, optimistic concurrency with `If-Match`, and
 * last-writer PUTs that must never be half-merged. The same suite runs against one process,
 * `deno serve --parallel` with 2 workers, and two server processes sharing one SQLite KV file.
 * Every answer is recorded: zero 5xx, zero lost or duplicated writes, and the store's structural
 * invariants hold at the end.
 * @module
 */
import assert from "node:assert/strict";
import {
  checkInvariants,
  describe5xx,
  join,
  PATCH_OP,
  pool,
  provision,
  rng,
  ScimClient,
  type ServerOptions,
  sized,
  userBody,
  withKv,
  withServers,
  withTempDir,
} from "./_server.ts";

const TENANT = "rel";

interface Mode {
  name: string;
  specs(kvPath: string): ServerOptions[];
}

const MODES: Mode[] = [
  { name: "one process", specs: (kvPath) => [{ kvPath, tenant: TENANT }] },
  {
    name: "deno serve --parallel (2 workers)",
    specs: (kvPath) => [{ kvPath, tenant: TENANT, parallel: 2 }],
  },
  {
    name: "two processes on one SQLite KV file",
    specs: (kvPath) => [{ kvPath, tenant: TENANT }, { kvPath, tenant: TENANT }],
  },
];

/** Sizes (CI / soak). */
const N = {
  dupPosts: 50,
  memberClients: 16,
  membersPerClient: sized(100, 250),
  interleaveClients: 8,
  interleaveOps: sized(12, 40),
  journalOps: sized(25, 100),
  putClients: 10,
};

function statuses(results: { status: number | "error" }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[String(r.status)] = (out[String(r.status)] ?? 0) + 1;
  return out;
}

async function memberIds(c: ScimClient, groupId: string): Promise<string[]> {
  const res = await c.send("GET", `/Groups/${groupId}`);
  assert.equal(res.status, 200, `GET group: ${JSON.stringify(res.json).slice(0, 300)}`);
  return ((res.json.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}

async function createGroup(c: ScimClient, displayName: string): Promise<string> {
  const res = await c.send("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName,
    members: [],
  });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return String(res.json.id);
}

function patchMembers(op: string, ids: string[]) {
  return {
    schemas: [PATCH_OP],
    Operations: [{ op, path: "members", value: ids.map((value) => ({ value })) }],
  };
}

for (const mode of MODES) {
  Deno.test({
    name: `Concurrency [${mode.name}]: no lost, duplicated or half-merged writes, no 5xx`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      await withTempDir(async (dir) => {
        const kvPath = join(dir, "weft.kv");
        const p = await provision(kvPath, TENANT, [
          { name: "Okta", kind: "okta" },
          { name: "Entra", kind: "entra" },
        ]);
        const [okta, entra] = p.idps;
        const clients: ScimClient[] = [];
        const client = (idp = okta, label = "c") => {
          const c = new ScimClient(origins, idp.idp.id, idp.token, label);
          clients.push(c);
          return c;
        };
        let origins: string[] = [];
        await withServers(mode.specs(kvPath), async (servers) => {
          origins = servers.map((s) => s.origin);
          const admin = client();

          await t.step(
            "50 concurrent POSTs of one userName (no externalId) → one 201, 49 × 409, one user",
            async () => {
              for (const idp of [okta, entra]) {
                const c = client(idp, "dup");
                const body = {
                  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
                  userName: `dup.${idp.idp.kind}@example.test`,
                  name: { givenName: "Dup", familyName: "Licate" },
                };
                const results = await Promise.all(
                  Array.from({ length: N.dupPosts }, () => c.send("POST", "/Users", body)),
                );
                const s = statuses(results);
                assert.deepEqual(
                  s,
                  { "201": 1, "409": N.dupPosts - 1 },
                  `${idp.idp.kind}: ${JSON.stringify(s)}`,
                );
                for (const r of results.filter((r) => r.status === 409)) {
                  assert.equal(r.json.scimType, "uniqueness");
                }
                const list = await c.send(
                  "GET",
                  `/Users?filter=${encodeURIComponent(`userName eq "${body.userName}"`)}`,
                );
                assert.equal(list.json.totalResults, 1, JSON.stringify(list.json));
              }
            },
          );

          await t.step(
            "50 concurrent POSTs of one externalId → one user (one 201, the rest merge)",
            async () => {
              const c = client(okta, "ext");
              const body = userBody("sameext", 0);
              const results = await Promise.all(
                Array.from({ length: N.dupPosts }, () => c.send("POST", "/Users", body)),
              );
              const s = statuses(results);
              assert.equal(s["201"], 1, JSON.stringify(s));
              assert.equal(s["200"], N.dupPosts - 1, JSON.stringify(s));
              assert.equal(
                new Set(results.map((r) => r.json.id)).size,
                1,
                "all answers name one user",
              );
              const list = await c.send(
                "GET",
                `/Users?filter=${encodeURIComponent(`externalId eq "${body.externalId}"`)}`,
              );
              assert.equal(list.json.totalResults, 1);
            },
          );

          const total = N.memberClients * N.membersPerClient;
          const userIds: string[] = [];
          await t.step(`seed ${total} users (16 concurrent clients)`, async () => {
            const c = client(okta, "seed");
            const results = await pool(
              total,
              16,
              (i) => c.send("POST", "/Users", userBody("m", i)),
            );
            assert.deepEqual(statuses(results), { "201": total });
            userIds.push(...results.map((r) => String(r.json.id)));
            assert.equal(new Set(userIds).size, total);
          });

          await t.step(
            `16 clients × ${N.membersPerClient} single-member PATCHes on one group → all ${total} present`,
            async () => {
              const groupId = await createGroup(admin, "parallel single adds");
              const results = await Promise.all(
                Array.from({ length: N.memberClients }, async (_, k) => {
                  const c = client(okta, `add1-${k}`);
                  const out = [];
                  for (let j = 0; j < N.membersPerClient; j++) {
                    const id = userIds[k * N.membersPerClient + j];
                    out.push(
                      await c.send("PATCH", `/Groups/${groupId}`, patchMembers("add", [id])),
                    );
                  }
                  return out;
                }),
              );
              assert.deepEqual(statuses(results.flat()), { "204": total });
              assert.deepEqual(await memberIds(admin, groupId), [...userIds].sort());
            },
          );

          await t.step(
            `16 clients × batches of 10 members at once → all ${total} present`,
            async () => {
              const groupId = await createGroup(admin, "parallel batch adds");
              const results = await Promise.all(
                Array.from({ length: N.memberClients }, async (_, k) => {
                  const c = client(okta, `add10-${k}`);
                  const mine = userIds.slice(k * N.membersPerClient, (k + 1) * N.membersPerClient);
                  const out = [];
                  for (let j = 0; j < mine.length; j += 10) {
                    out.push(
                      await c.send(
                        "PATCH",
                        `/Groups/${groupId}`,
                        patchMembers("add", mine.slice(j, j + 10)),
                      ),
                    );
                  }
                  return out;
                }),
              );
              assert.deepEqual(statuses(results.flat()), { "204": results.flat().length });
              assert.deepEqual(await memberIds(admin, groupId), [...userIds].sort());
            },
          );

          await t.step(
            `16 clients × one ${N.membersPerClient}-member PATCH (journalled) at once → all ${total} present`,
            async () => {
              const groupId = await createGroup(admin, "parallel journalled adds");
              const results = await Promise.all(
                Array.from({ length: N.memberClients }, (_, k) => {
                  const c = client(okta, `add100-${k}`);
                  const mine = userIds.slice(k * N.membersPerClient, (k + 1) * N.membersPerClient);
                  return c.send("PATCH", `/Groups/${groupId}`, patchMembers("add", mine));
                }),
              );
              assert.deepEqual(
                statuses(results),
                { "204": N.memberClients },
                describe5xx(clients.flatMap((c) => c.serverErrors())),
              );
              assert.deepEqual(await memberIds(admin, groupId), [...userIds].sort());
            },
          );

          await t.step(
            "interleaved add/remove of one member set ends all-or-nothing (a serial order explains it)",
            async () => {
              for (const size of [40, 150]) {
                const set = userIds.slice(0, size);
                const groupId = await createGroup(admin, `interleaved ${size}`);
                const random = rng(size);
                const shapes = [
                  () => patchMembers("add", set),
                  () => patchMembers("remove", set),
                  () => patchMembers("replace", set),
                  () => ({
                    schemas: [PATCH_OP],
                    Operations: [{ op: "replace", path: "members", value: [] }],
                  }),
                  () => ({
                    schemas: [PATCH_OP],
                    Operations: [{
                      op: "remove",
                      path: `members[${set.map((id) => `value eq "${id}"`).join(" or ")}]`,
                    }],
                  }),
                  () => ({ schemas: [PATCH_OP], Operations: [{ op: "remove", path: "members" }] }),
                ];
                // 150 members: every change is journalled (> 90 per atomic operation).
                const clientsN = N.interleaveClients;
                const ops = size > 90 ? N.journalOps : N.interleaveOps;
                const results = await Promise.all(
                  Array.from({ length: clientsN }, async (_, k) => {
                    const c = client(okta, `mix${size}-${k}`);
                    const out = [];
                    for (let j = 0; j < ops; j++) {
                      const body = shapes[Math.floor(random() * shapes.length)]();
                      out.push(await c.send("PATCH", `/Groups/${groupId}`, body));
                    }
                    return out;
                  }),
                );
                assert.deepEqual(statuses(results.flat()), { "204": clientsN * ops });
                const members = await memberIds(admin, groupId);
                assert.ok(
                  members.length === 0 || members.length === size,
                  `group of ${size}: ${members.length} members left; whole-set operations can only leave 0 or ${size}`,
                );
                if (members.length) assert.deepEqual(members, [...set].sort());
              }
            },
          );

          await t.step(
            "per-member adds and removes from many clients: no add or remove is lost",
            async () => {
              // A: only added (by several clients); R: present at first, only removed; M: both.
              const A = userIds.slice(200, 260);
              const R = userIds.slice(260, 320);
              const M = userIds.slice(320, 360);
              const groupId = await createGroup(admin, "per-member interleave");
              for (let j = 0; j < R.length; j += 30) {
                const r = await admin.send(
                  "PATCH",
                  `/Groups/${groupId}`,
                  patchMembers("add", R.slice(j, j + 30)),
                );
                assert.equal(r.status, 204);
              }
              const random = rng(7);
              const plan: { op: string; id: string }[] = [
                ...A.flatMap((id) => [{ op: "add", id }, { op: "add", id }]),
                ...R.flatMap((id) => [{ op: "remove", id }, { op: "remove", id }]),
                ...M.flatMap((id) => [{ op: "add", id }, { op: "remove", id }]),
              ].sort(() => random() - 0.5);
              const pm = Array.from({ length: 4 }, (_, k) => client(okta, `pm-${k}`));
              const results = await pool(plan.length, 16, (i) => {
                const c = pm[i % pm.length];
                const { op, id } = plan[i];
                return c.send(
                  "PATCH",
                  `/Groups/${groupId}`,
                  op === "add" ? patchMembers("add", [id]) : {
                    schemas: [PATCH_OP],
                    Operations: [{ op: "remove", path: `members[value eq "${id}"]` }],
                  },
                );
              });
              assert.deepEqual(statuses(results), { "204": plan.length });
              const members = new Set(await memberIds(admin, groupId));
              assert.deepEqual(A.filter((id) => !members.has(id)), [], "added members missing");
              assert.deepEqual(
                R.filter((id) => members.has(id)),
                [],
                "removed members still present",
              );
              assert.ok([...members].every((id) => A.includes(id) || M.includes(id)));
            },
          );

          await t.step(
            "concurrent PUT/PATCH with one If-Match → exactly one wins, the others 412",
            async () => {
              const created = await admin.send("POST", "/Users", userBody("ifmatch", 0));
              const id = String(created.json.id);
              for (const method of ["PUT", "PATCH"]) {
                const got = await admin.send("GET", `/Users/${id}`);
                const etag = got.headers.get("etag")!;
                assert.ok(etag, "GET returns an ETag");
                const results = await Promise.all(
                  Array.from({ length: N.putClients }, (_, k) => {
                    const c = client(okta, `ifm-${k}`);
                    const body = method === "PUT"
                      ? userBody("ifmatch", 0, { displayName: `winner ${k}` })
                      : {
                        schemas: [PATCH_OP],
                        Operations: [{ op: "replace", path: "displayName", value: `patched ${k}` }],
                      };
                    return c.send(method, `/Users/${id}`, body, { "if-match": etag });
                  }),
                );
                assert.deepEqual(statuses(results), { "200": 1, "412": N.putClients - 1 }, method);
                const winner = results.find((r) => r.status === 200)!.json.displayName;
                const now = await admin.send("GET", `/Users/${id}`);
                assert.equal(now.json.displayName, winner);
              }
              const groupId = await createGroup(admin, "if-match group");
              for (const method of ["PUT", "PATCH"]) {
                const got = await admin.send("GET", `/Groups/${groupId}`);
                const etag = got.headers.get("etag")!;
                const results = await Promise.all(
                  Array.from({ length: N.putClients }, (_, k) => {
                    const c = client(okta, `gifm-${k}`);
                    const body = method === "PUT"
                      ? { displayName: `if-match group ${k}`, members: [{ value: userIds[k] }] }
                      : patchMembers("add", [userIds[100 + k]]);
                    return c.send(method, `/Groups/${groupId}`, body, { "if-match": etag });
                  }),
                );
                const ok = method === "PUT" ? "200" : "204";
                assert.deepEqual(
                  statuses(results),
                  { [ok]: 1, "412": N.putClients - 1 },
                  `group ${method}`,
                );
              }
            },
          );

          await t.step(
            "concurrent PUTs without If-Match: the result is one whole PUT, never a merge",
            async () => {
              const created = await admin.send("POST", "/Users", userBody("lww", 0));
              const id = String(created.json.id);
              const version = (k: number) => ({
                schemas: [
                  "urn:ietf:params:scim:schemas:core:2.0:User",
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                ],
                userName: `lww.v${k}@example.test`,
                externalId: `ext-lww-0`,
                displayName: `Version ${k}`,
                title: `title-${k}`,
                name: { givenName: `Given${k}`, familyName: `Family${k}` },
                emails: [{ value: `lww.v${k}@example.test`, type: "work", primary: true }],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                  department: `dept-${k}`,
                },
              });
              const results = await Promise.all(
                Array.from(
                  { length: N.putClients },
                  (_, k) => client(okta, `lww-${k}`).send("PUT", `/Users/${id}`, version(k)),
                ),
              );
              assert.deepEqual(statuses(results), { "200": N.putClients });
              const now = (await admin.send("GET", `/Users/${id}`)).json;
              const k = Number(/^Version (\d+)$/.exec(String(now.displayName))?.[1]);
              assert.ok(Number.isInteger(k), `displayName ${now.displayName}`);
              const want = version(k);
              assert.equal(now.userName, want.userName);
              assert.equal(now.title, want.title);
              assert.deepEqual(now.name, want.name);
              assert.equal((now.emails as { value: string }[])[0].value, want.emails[0].value);
              assert.equal(
                (now["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] as Record<
                  string,
                  unknown
                >)
                  .department,
                `dept-${k}`,
              );
              // Only the winner's userName and email find the user; the losers' are free again.
              for (let j = 0; j < N.putClients; j++) {
                const byName = await admin.send(
                  "GET",
                  `/Users?filter=${encodeURIComponent(`userName eq "lww.v${j}@example.test"`)}`,
                );
                const byEmail = await admin.send(
                  "GET",
                  `/Users?filter=${encodeURIComponent(`emails.value eq "lww.v${j}@example.test"`)}`,
                );
                assert.equal(byName.json.totalResults, j === k ? 1 : 0, `userName v${j}`);
                assert.equal(byEmail.json.totalResults, j === k ? 1 : 0, `email v${j}`);
              }

              const groupId = await createGroup(admin, "lww group");
              const sets = Array.from(
                { length: N.putClients },
                (_, j) => userIds.slice(400 + j * 5, 405 + j * 5),
              );
              const gResults = await Promise.all(
                Array.from(
                  { length: N.putClients },
                  (_, j) =>
                    client(okta, `glww-${j}`).send("PUT", `/Groups/${groupId}`, {
                      displayName: `lww group ${j}`,
                      members: sets[j].map((value) => ({ value })),
                    }),
                ),
              );
              assert.deepEqual(statuses(gResults), { "200": N.putClients });
              const g = (await admin.send("GET", `/Groups/${groupId}`)).json;
              const j = Number(/^lww group (\d+)$/.exec(String(g.displayName))?.[1]);
              assert.deepEqual(
                ((g.members ?? []) as { value: string }[]).map((m) => m.value).sort(),
                [...sets[j]].sort(),
                `group named "${g.displayName}" must hold exactly that PUT's members`,
              );
            },
          );

          await t.step(
            "the list total equals the users created: nothing lost or duplicated",
            async () => {
              const created = clients.flatMap((c) =>
                c.log.filter((e) =>
                  e.method === "POST" && e.url.endsWith("/Users") && e.status === 201 &&
                  e.url.includes(okta.idp.id)
                )
              ).length;
              const list = await admin.send("GET", "/Users?count=1");
              assert.equal(list.json.totalResults, created);
            },
          );
        });
        // Servers stopped: the whole store must be consistent, and no request got a 5xx.
        const problems = await withKv(kvPath, (kv) => checkInvariants(kv, p.tenant.id));
        assert.deepEqual(problems, [], "store invariants");
        const errors = clients.flatMap((c) => c.serverErrors());
        const netErrors = clients.flatMap((c) => c.log.filter((e) => e.status === "error"));
        assert.equal(errors.length, 0, `5xx answers:\n${describe5xx(errors)}`);
        assert.equal(netErrors.length, 0, `network errors:\n${describe5xx(netErrors)}`);
      });
    },
  });
}
