import assert from "node:assert/strict";
import { createTestApp, expectScim, expectScimError, randomUser } from "./_helpers.ts";
import { migrate, SCHEMA_VERSION } from "../lib/store/migrations.ts";
import { keys } from "../lib/store/keys.ts";

Deno.test("migrate() moves schema-1 lower-cased name indexes to folded keys", async () => {
  await using t = await createTestApp();
  const created = await expectScim(
    await t.scim(
      "POST",
      "/Users",
      randomUser({
        userName: "José.Müller@example.test",
        emails: [{ value: "José.Müller@example.test", type: "work" }],
      }),
    ),
    201,
  );
  const group = await expectScim(
    await t.scim("POST", "/Groups", { displayName: "Équipe Café" }),
    201,
  );
  const id = String(created.id);
  // Rewrite the indexes as schema 1 wrote them (lower case only).
  const prefix = (k: Deno.KvKey) => k.slice(0, -1);
  const nameKey = keys.idpUserByUserName(t.tenant.id, t.idp.id, "José.Müller@example.test");
  const emailKey = keys.idpUserByEmail(t.tenant.id, t.idp.id, "José.Müller@example.test", id);
  const groupKey = keys.groupByName(t.tenant.id, t.idp.id, "Équipe Café");
  await t.kv.atomic()
    .delete(nameKey).set([...prefix(nameKey), "josé.müller@example.test"], id)
    .delete(emailKey).set([...prefix(prefix(emailKey)), "josé.müller@example.test", id], null)
    .delete(groupKey).set([...prefix(groupKey), "équipe café"], group.id)
    .set(["meta", "schema"], 1)
    .commit();
  // On schema 1 data the new code no longer finds the user: the migration must fix that.
  const done = await migrate(t.kv);
  assert.match(done.join(" "), /3 moved, 0 clashes/);
  assert.equal((await t.kv.get(["meta", "schema"])).value, SCHEMA_VERSION);
  await expectScimError(
    await t.scim(
      "POST",
      "/Users",
      randomUser({ userName: "josé.müller@example.test", externalId: undefined }),
    ),
    409,
    "uniqueness",
  );
  await expectScimError(
    await t.scim("POST", "/Groups", { displayName: "ÉQUIPE CAFÉ" }),
    409,
    "uniqueness",
  );
  const found = await expectScim(
    await t.scim("GET", `/Users?filter=emails.value eq "JOSÉ.MÜLLER@example.test"`),
    200,
  );
  assert.equal(found.totalResults, 1);
  assert.deepEqual(await migrate(t.kv), [], "a second run has nothing to do");
});
