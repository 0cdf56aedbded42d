/**
 * `deno task weft role …` (issue 11): create, map a group by displayName or id, list, unmap,
 * delete, each with a clear error for a bad input; the mapping reaches the feed as role events.
 * @module
 */
import assert from "node:assert/strict";
import { join, provision, runCli, withKv, withTempDir } from "./reliability/_server.ts";
import { createGroup } from "../lib/store/groups.ts";
import { createOrMergeUser } from "../lib/store/users.ts";
import { readFeed } from "../lib/store/feed.ts";
import { listEvents } from "../lib/store/events.ts";

Deno.test({
  name: "role CLI - create, map, list, unmap, delete, and refusals",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const path = join(dir, "roles.kv");
      const p = await provision(path, "rc");
      const idpId = p.idps[0].idp.id;
      const ctx = {
        tenantId: p.tenant.id,
        idpId,
        actor: "test",
        requestId: "r",
        clientIp: "",
      };
      const groupId = await withKv(path, async (kv) => {
        const user = await createOrMergeUser(kv, ctx, {
          resource: { userName: "ada@example.test" },
          externalId: "u1",
        });
        const g = await createGroup(kv, ctx, { displayName: "Admins", extra: {} }, [
          { value: user.link.userId },
        ]);
        return g.group.id;
      });
      const weft = (...args: string[]) => runCli(path, args);

      let r = await weft("role", "create", "--tenant", "rc", "--slug", "admin", "--name", "Admin");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Created role admin \(Admin\)/);
      r = await weft("role", "create", "--tenant", "rc", "--slug", "admin", "--name", "Again");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /A role with the slug "admin" already exists/);
      r = await weft("role", "create", "--tenant", "rc", "--slug", "Bad Slug", "--name", "X");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /slug must be 1–63 lower-case letters/);
      r = await weft("role", "create", "--tenant", "rc", "--slug", "x");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /Missing --name/);

      const map = ["--tenant", "rc", "--role", "admin", "--idp", idpId];
      r = await weft("role", "map", ...map, "--group", "admins");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Mapped group "Admins" \\(${groupId}\\) to role admin`));
      r = await weft("role", "map", ...map, "--group", groupId);
      assert.match(r.stdout, /^Unchanged/);
      r = await weft("role", "map", ...map, "--group", "nope");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /No group "nope" in IdP connection/);
      r = await weft(
        "role",
        "map",
        "--tenant",
        "rc",
        "--role",
        "ghost",
        "--idp",
        idpId,
        "--group",
        "admins",
      );
      assert.equal(r.code, 2);
      assert.match(r.stderr, /No role "ghost"/);

      r = await weft("role", "list", "--tenant", "rc");
      assert.equal(r.stdout.trim(), `admin\tAdmin\t${idpId}/${groupId}`);

      await withKv(path, async (kv) => {
        const feed = await readFeed(kv, p.tenant.id, { limit: 100, types: ["role.assigned"] });
        assert.equal(feed.events.length, 1);
        const audit = await listEvents(kv, p.tenant.id, { type: "role_mapped" });
        assert.equal(audit.events.length, 1);
      });

      r = await weft("role", "unmap", ...map, "--group", "Admins");
      assert.match(r.stdout, /^Unmapped group "Admins"/);
      r = await weft("role", "delete", "--tenant", "rc", "--role", "admin");
      assert.equal(r.code, 0, r.stderr);
      r = await weft("role", "list", "--tenant", "rc");
      assert.equal(r.stdout.trim(), "");
      await withKv(path, async (kv) => {
        const feed = await readFeed(kv, p.tenant.id, { limit: 100, types: ["role.unassigned"] });
        assert.equal(feed.events.length, 1);
      });
    });
  },
});
