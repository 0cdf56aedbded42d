/**
 * A page of a large group's members costs one page of reads: `listApiGroupMembers` (behind
 * `GET /api/v1/groups/{id}/members`) reads the page's member rows and those users' records,
 * however many members the group has — counted on a store that tallies every entry read.
 * @module
 */
import assert from "node:assert/strict";
import { createGroup, createTestApp, createUsers, expectScim, patchGroup } from "../_helpers.ts";
import { listApiGroupMembers } from "../../lib/store/api_user_list.ts";

/** `kv` with a tally of the entries its listings yield and the keys its `getMany`s read. */
function counting(kv: Deno.Kv): { kv: Deno.Kv; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          const iter = target.list(selector, options);
          return {
            get cursor() {
              return iter.cursor;
            },
            async *[Symbol.asyncIterator]() {
              for await (const e of iter) {
                reads++;
                yield e;
              }
            },
          };
        };
      }
      if (prop === "getMany") {
        return (keys: Deno.KvKey[], o?: { consistency?: Deno.KvConsistencyLevel }) => {
          reads += keys.length;
          return target.getMany(keys, o);
        };
      }
      if (prop === "get") {
        return (key: Deno.KvKey, o?: { consistency?: Deno.KvConsistencyLevel }) => {
          reads++;
          return target.get(key, o);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: proxy, reads: () => reads };
}

Deno.test("listApiGroupMembers() - a page of a 600-member group reads about one page", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 600);
  const group = await createGroup(t, "Everyone");
  for (let i = 0; i < ids.length; i += 100) {
    await expectScim(
      await patchGroup(t, group, [{
        op: "add",
        path: "members",
        value: ids.slice(i, i + 100).map((value) => ({ value })),
      }]),
      204,
    );
  }
  const small = await createGroup(t, "Few");
  await expectScim(
    await patchGroup(t, small, [{
      op: "add",
      path: "members",
      value: ids.slice(0, 60).map((value) => ({ value })),
    }]),
    204,
  );
  const cost = async (groupId: string, cursor?: string) => {
    const c = counting(t.kv);
    const page = await listApiGroupMembers(c.kv, t.tenant.id, groupId, { limit: 50, cursor });
    assert.equal(page.data.length, 50);
    return { reads: c.reads(), next: page.next_cursor };
  };
  const big = await cost(group);
  const few = await cost(small);
  const later = await cost(group, big.next!);
  // 51 member rows (one past the page), and per user its record, IdP row (and roles).
  assert.ok(big.reads <= 51 + 50 * 4, `first page: ${big.reads} reads`);
  assert.ok(later.reads <= 51 + 50 * 4, `later page: ${later.reads} reads`);
  assert.ok(Math.abs(big.reads - few.reads) <= 2, `${big.reads} vs ${few.reads}: size-independent`);
});
