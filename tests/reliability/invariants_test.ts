/**
 * The whole-store invariant checker that the concurrency and fault suites rely on must itself see
 * damage: each corruption below is one a lost or half-applied write would leave.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, expectScim } from "../_helpers.ts";
import { keys } from "../../lib/store/keys.ts";
import { checkInvariants } from "./_server.ts";

async function damaged(
  corrupt: (
    kv: Deno.Kv,
    ids: { tenant: string; idp: string; user: string; group: string },
  ) => Promise<unknown>,
): Promise<string[]> {
  await using t = await createTestApp();
  const user = await expectScim(
    await t.scim("POST", "/Users", {
      userName: "inv@example.test",
      externalId: "inv-1",
      emails: [{ value: "inv@example.test", type: "work" }],
    }),
    201,
  );
  const group = await expectScim(
    await t.scim("POST", "/Groups", { displayName: "Inv", members: [{ value: user.id }] }),
    201,
  );
  assert.deepEqual(await checkInvariants(t.kv, t.tenant.id), [], "a healthy store passes");
  await corrupt(t.kv, {
    tenant: t.tenant.id,
    idp: t.idp.id,
    user: String(user.id),
    group: String(group.id),
  });
  return await checkInvariants(t.kv, t.tenant.id);
}

Deno.test("checkInvariants reports each kind of damage a lost or half-applied write leaves", async () => {
  const cases: [string, RegExp, Parameters<typeof damaged>[0]][] = [
    [
      "missing userName index",
      /userName index/,
      (kv, i) => kv.delete(keys.idpUserByUserName(i.tenant, i.idp, "inv@example.test")),
    ],
    [
      "missing externalId index",
      /externalId/,
      (kv, i) => kv.delete(keys.idpUserByExternalId(i.tenant, i.idp, "inv-1")),
    ],
    [
      "missing email index",
      /email index/,
      (kv, i) => kv.delete(keys.idpUserByEmail(i.tenant, i.idp, "inv@example.test", i.user)),
    ],
    [
      "dangling userName index",
      /dangling userName index/,
      (kv, i) => kv.set(keys.idpUserByUserName(i.tenant, i.idp, "ghost@example.test"), "nobody"),
    ],
    [
      "user row without canonical record",
      /canonical/,
      (kv, i) => kv.delete(keys.user(i.tenant, i.user)),
    ],
    [
      "user without event",
      /no event/,
      async (kv, i) => {
        for await (const e of kv.list({ prefix: ["t", i.tenant, "events_by_target", i.user] })) {
          await kv.delete(e.key);
        }
      },
    ],
    [
      "membership without reverse row",
      /reverse/,
      (kv, i) => kv.delete(keys.userGroup(i.tenant, i.user, i.group)),
    ],
    [
      "wrong member counter",
      /counter group_members/,
      (kv, i) => kv.set(keys.counter(i.tenant, "group_members", i.group), new Deno.KvU64(5n)),
    ],
    [
      "wrong user counter",
      /counter idp_users/,
      (kv, i) => kv.set(keys.counter(i.tenant, "idp_users", i.idp), new Deno.KvU64(0n)),
    ],
    [
      "pending journal",
      /journal/,
      (kv, i) => kv.set(keys.memberJournal(i.tenant, i.group), { parts: 0 }),
    ],
    [
      "member of a deleted group",
      /missing group|displayName index|counter groups/,
      (kv, i) => kv.delete(keys.group(i.tenant, i.idp, i.group)),
    ],
  ];
  for (const [what, pattern, corrupt] of cases) {
    const problems = await damaged(corrupt);
    assert.ok(
      problems.some((p) => pattern.test(p)),
      `${what}: not reported (got ${JSON.stringify(problems)})`,
    );
  }
});
