/**
 * The events feed on two `deno serve` processes sharing one store (issue 11): SCIM writers in
 * both while a reader in a third process pages with `after`. The reader sees every event exactly
 * once, in strictly increasing id order, and one event for each acknowledged write — even though
 * each process takes its note ids from its own clock and commits them in any order.
 * @module
 */
import assert from "node:assert/strict";
import {
  checkInvariants,
  join,
  provision,
  ScimClient,
  sleep,
  userBody,
  withKv,
  withServers,
  withTempDir,
} from "./reliability/_server.ts";
import { readFeed } from "../lib/store/feed.ts";
import { eventSeq, type PublicEvent } from "../lib/directory/types.ts";
import type { ApiUser } from "../lib/directory/types.ts";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

Deno.test({
  name: "feed - two instances writing, a reader paging with after: every event once, in order",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const path = join(dir, "feed.kv");
      const p = await provision(path, "feed");
      const { idp, token } = p.idps[0];
      const spec = { kvPath: path, tenant: "feed", logLevel: "warn" as const };
      await withServers([spec, spec], async (servers) => {
        const clients = servers.map((s, k) => new ScimClient([s.origin], idp.id, token, `f${k}`));
        let stopping = false;
        const created: string[] = [];
        let updates = 0;
        let adds = 0;
        const group = await clients[0].send("POST", "/Groups", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
          displayName: "Everyone",
          members: [],
        });
        assert.equal(group.status, 201);
        const groupId = String(group.json.id);
        let failures = 0;
        let n = 0;
        const writers = Promise.all(Array.from({ length: 6 }, async (_, w) => {
          const c = clients[w % 2];
          while (!stopping) {
            const i = n++;
            const r = await c.send("POST", "/Users", userBody("feed", i));
            c.log.length = 0;
            if (r.status !== 201) {
              failures++;
              continue;
            }
            const id = String(r.json.id);
            created.push(id);
            if (i % 3 === 0) {
              // The other instance updates it: a second event, from the other clock.
              const u = await clients[(w + 1) % 2].send("PATCH", `/Users/${id}`, {
                schemas: [PATCH_OP],
                Operations: [{ op: "replace", path: "displayName", value: `Renamed ${i}` }],
              });
              if (u.status === 200) updates++;
              else failures++;
            }
            if (i % 4 === 1) {
              // Both instances add members to one group side by side.
              const m = await c.send("PATCH", `/Groups/${groupId}`, {
                schemas: [PATCH_OP],
                Operations: [{ op: "add", path: "members", value: [{ value: id }] }],
              });
              if (m.status === 204) adds++;
              else failures++;
            }
          }
        }));
        await withKv(path, async (kv) => {
          const seen: PublicEvent[] = [];
          let after: string | undefined;
          const page = async () => {
            const got = await readFeed(kv, p.tenant.id, { after, limit: 50 });
            seen.push(...got.events);
            after = got.next ?? after;
            return got.events.length;
          };
          const until = Date.now() + 4_000;
          while (Date.now() < until) {
            await page();
            await sleep(20);
          }
          stopping = true;
          await writers;
          // Every acknowledged write is in the feed once the reader reads to the end.
          while (await page() > 0);
          assert.equal(failures, 0, "every write succeeded");
          assert.ok(created.length > 20, `writes: ${created.length}`);
          const seqs = seen.map((e) => eventSeq(e.id)!);
          for (let i = 1; i < seqs.length; i++) {
            assert.ok(seqs[i] > seqs[i - 1], `ids increase at ${i}: ${seqs[i - 1]} ${seqs[i]}`);
          }
          assert.equal(new Set(seqs).size, seqs.length, "no event twice");
          // One event per acknowledged write (and the group's creation).
          assert.equal(seen.length, 1 + created.length + updates + adds);
          assert.equal(seen.filter((e) => e.type === "group.user_added").length, adds);
          const createdSeen = seen.filter((e) => e.type === "user.created").map((e) =>
            (e.data as ApiUser).id
          );
          assert.deepEqual(createdSeen.sort(), [...created].sort());
          assert.equal(seen.filter((e) => e.type === "user.updated").length, updates);
          // The feed has no gap: sequence numbers run 1…n.
          assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
          assert.deepEqual(await checkInvariants(kv, p.tenant.id), []);
          // deno-lint-ignore no-console
          console.log(
            `  ${created.length} creates + ${updates} updates + ${adds} member adds on 2 instances → ${seen.length} events`,
          );
        });
      });
    });
  },
});
