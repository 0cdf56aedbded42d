/**
 * Mirroring finds the attributes an IdP actually sent: an extension path is accepted as the
 * IdP Attributes tab shows it or as RFC 7644 writes it, and kept and shown in one form; the editor
 * lists the attributes received with a sample value to pick from, and warns about a rule no user
 * has a value for.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp, expectHtml, expectRedirect } from "./admin_helpers.ts";
import { expectScim, randomUser } from "./_helpers.ts";
import { getMirroring } from "../lib/store/mirroring.ts";
import { getUser } from "../lib/store/users.ts";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

Deno.test("Mirroring - a path pasted from the IdP Attributes tab mirrors, and is kept in the RFC's form", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const user = await expectScim(
    await t.scim(
      "POST",
      "/Users",
      randomUser({ [ENT]: { department: "Research", costCenter: "CC-7" } }),
    ),
    201,
  );
  // The attributes tab shows the colon form.
  const tab = await expectHtml(await t.admin(`/admin/users/${user.id}/attributes`, { as: s }));
  assert.ok(tab.includes(`${ENT}:costCenter`));
  assert.ok(!tab.includes(`${ENT}.costCenter`));
  // A rule written with the dot, as lists often show it, is saved in the colon form and works.
  const saved = await t.admin("/admin/settings/mirroring", {
    as: s,
    form: {
      field_0: "userName",
      sources_0: "userName",
      enabled_0: "on",
      field_1: "costCenter",
      sources_1: `${ENT}.costCenter`,
      enabled_1: "on",
    },
  });
  expectRedirect(saved);
  const config = await getMirroring(t.kv, t.tenant.id);
  assert.deepEqual(config.rules[1].sources, [`${ENT}:costCenter`]);
  // Re-applied, the user has the value, and the tab marks the leaf as mirrored.
  expectRedirect(await t.admin("/admin/settings/mirroring/reapply", { as: s, form: {} }));
  for (let i = 0; i < 100; i++) {
    if ((await getUser(t.kv, t.tenant.id, String(user.id)))?.custom.costCenter) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal((await getUser(t.kv, t.tenant.id, String(user.id)))?.custom.costCenter, "CC-7");
  const marked = await expectHtml(await t.admin(`/admin/users/${user.id}/attributes`, { as: s }));
  assert.match(marked, /mirrored → costCenter/);
});

Deno.test("Mirroring - the editor offers the attributes received and warns about rules without values", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  await expectScim(
    await t.scim(
      "POST",
      "/Users",
      randomUser({ title: "Engineer", [ENT]: { employeeNumber: "E-42" } }),
    ),
    201,
  );
  const page = await expectHtml(await t.admin("/admin/settings/mirroring", { as: s }));
  // Received attributes, each with a sample value, to pick from.
  assert.match(page, /<datalist id="received-paths">/);
  assert.ok(page.includes(`value="${ENT}:employeeNumber"`));
  assert.match(page, /E-42 \(1 user\)/);
  assert.ok(page.includes("emails[type eq &quot;work&quot;].value"));
  // The default rule for department has no value in what was received: it says so.
  assert.match(page, /data-no-values="department"/);
  assert.doesNotMatch(page, /data-no-values="userName"/);
  // Picking a received attribute adds it to the rule's sources.
  const saved = await t.admin("/admin/settings/mirroring", {
    as: s,
    form: {
      field_0: "userName",
      sources_0: "userName",
      enabled_0: "on",
      field_1: "employeeId",
      sources_1: "",
      add_1: `${ENT}:employeeNumber`,
      enabled_1: "on",
    },
  });
  expectRedirect(saved);
  assert.deepEqual((await getMirroring(t.kv, t.tenant.id)).rules[1], {
    field: "employeeId",
    sources: [`${ENT}:employeeNumber`],
    enabled: true,
  });
  const after = await expectHtml(await t.admin("/admin/settings/mirroring", { as: s }));
  assert.doesNotMatch(after, /data-no-values="employeeId"/);
});
