/**
 * An IdP's deprovisioning policy: what a SCIM DELETE does to the canonical user. `unlink` (the
 * default) keeps the user, deactivated, and a later POST with the same externalId relinks it;
 * `delete` removes the user, erases the names on its audit events and the SCIM requests logged
 * about it, and a later POST creates a new user. Set on the IdP page and with the CLI.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "./admin_helpers.ts";
import { expectScim, randomUser } from "./_helpers.ts";
import { listEvents } from "../lib/store/events.ts";
import { getUser } from "../lib/store/users.ts";
import { flushRequestLog, listRequestLog } from "../lib/store/request_log.ts";
import { keys } from "../lib/store/keys.ts";
import { getIdp } from "../lib/store/tenants.ts";
import { readFeed } from "../lib/store/feed.ts";
import type { ApiUser } from "../lib/directory/types.ts";

Deno.test("deprovisioning - unlink (default) keeps the user, deactivated, and relinks it", async () => {
  await using t = await createAdminTestApp();
  const body = randomUser({ externalId: "okta-1" });
  const user = await expectScim(await t.scim("POST", "/Users", body), 201);
  assert.equal((await t.scim("DELETE", `/Users/${user.id}`)).status, 204);
  const kept = await getUser(t.kv, t.tenant.id, String(user.id));
  assert.equal(kept?.status, "deactivated");
  const again = await expectScim(await t.scim("POST", "/Users", body), 201);
  assert.equal(again.id, user.id);
});

Deno.test("deprovisioning - delete removes the user and erases its names and logged requests", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  expectRedirect(
    await t.admin(`/admin/idps/${t.idp.id}/edit`, {
      as: s,
      form: { name: t.idp.name, kind: t.idp.kind, deprovisioning: "delete" },
    }),
  );
  assert.equal((await getIdp(t.kv, t.tenant.id, t.idp.id))?.deprovisioning, "delete");
  const overview = await expectHtml(await t.admin(`/admin/idps/${t.idp.id}`, { as: s }));
  assert.match(overview, /Delete the user and erase its names/);
  const [updated] = (await listEvents(t.kv, t.tenant.id, { type: "idp_updated" })).events;
  assert.deepEqual(updated.changed, ["deprovisioning"]);

  const body = randomUser({ externalId: "okta-2", userName: "dana.erased@example.com" });
  const user = await expectScim(await t.scim("POST", "/Users", body), 201);
  const id = String(user.id);
  const patched = await t.scim("PATCH", `/Users/${id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", path: "title", value: "Engineer" }],
  });
  assert.equal(patched.status, 200);
  await flushRequestLog(t.kv);
  const logged = await listRequestLog(t.kv, t.tenant.id, t.idp.id, { userId: id });
  assert.ok(logged.entries.length >= 2, "the POST and the PATCH are logged about the user");
  const log = () => t.admin("/admin/events", { as: s }).then((r) => expectHtml(r));
  assert.match(await log(), /dana\.erased@example\.com/, "before: the Event Log names the user");

  assert.equal((await t.scim("DELETE", `/Users/${id}`)).status, 204);
  assert.equal(await getUser(t.kv, t.tenant.id, id), null);
  assert.equal((await t.scim("GET", `/Users/${id}`)).status, 404);
  const after = (await listEvents(t.kv, t.tenant.id, { targetId: id })).events;
  assert.ok(after.length >= 3, "the history stays");
  assert.ok(after.every((e) => !e.target?.name), "no event names the deleted user");
  assert.ok(!JSON.stringify(after).includes("dana.erased"));
  assert.doesNotMatch(await log(), /dana\.erased/, "after: the Event Log shows ids only");
  await flushRequestLog(t.kv);
  const left = await listRequestLog(t.kv, t.tenant.id, t.idp.id, { userId: id });
  assert.ok(
    !JSON.stringify(left.entries).includes("dana.erased"),
    "no logged request about the user keeps its attributes",
  );
  assert.equal((await t.kv.get(keys.userErasure(t.tenant.id, id))).value, null);
  // The feed says the user was deleted, with its ids only.
  const feed = await readFeed(t.kv, t.tenant.id, { limit: 500 });
  const deleted = feed.events.filter((e) => e.type === "user.deleted");
  assert.equal(deleted.length, 1);
  const data = deleted[0].data as ApiUser;
  assert.equal(data.id, id);
  assert.equal(data.idp_id, t.idp.id);
  assert.equal(data.user_name, "");
  assert.ok(!JSON.stringify(deleted).includes("dana.erased"));
  for await (const e of t.kv.list({ prefix: keys.tenantData(t.tenant.id) })) {
    // Logged requests are checked above; events the feed already published keep what they
    // carried until the feed's retention ends (README: deprovisioning policy).
    if (e.key.includes("scim_requests") || ["feed", "feed_parts"].includes(String(e.key[2]))) {
      continue;
    }
    const text = JSON.stringify(e.value ?? null, (_, v) => typeof v === "bigint" ? String(v) : v);
    assert.ok(!text.includes("dana.erased"), `left in ${e.key}`);
  }

  // A later push creates a new user.
  const fresh = await expectScim(await t.scim("POST", "/Users", body), 201);
  assert.notEqual(fresh.id, id);
});

Deno.test("deprovisioning - the CLI sets and shows the policy", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/weft.kv`;
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--unstable-kv", "cli.ts", ...args],
        env: { WEFT_KV_PATH: path, WEFT_LOG: "off", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        code: out.code,
        text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
      };
    };
    assert.equal((await run("tenant", "create", "acme")).code, 0);
    const created = await run(
      "idp",
      "create",
      "--tenant",
      "acme",
      "--name",
      "Okta",
      "--deprovisioning",
      "delete",
    );
    assert.equal(created.code, 0, created.text);
    const idpId = /Created IdP (\S+)/.exec(created.text)![1];
    assert.match(
      (await run("idp", "show", "--tenant", "acme", "--idp", idpId)).text,
      /on a SCIM DELETE: delete/,
    );
    const set = await run(
      "idp",
      "deprovisioning",
      "--tenant",
      "acme",
      "--idp",
      idpId,
      "--policy",
      "unlink",
    );
    assert.equal(set.code, 0, set.text);
    assert.match(
      (await run("idp", "show", "--tenant", "acme", "--idp", idpId)).text,
      /on a SCIM DELETE: unlink/,
    );
    const bad = await run(
      "idp",
      "deprovisioning",
      "--tenant",
      "acme",
      "--idp",
      idpId,
      "--policy",
      "wipe",
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.text, /--policy must be unlink or delete/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
