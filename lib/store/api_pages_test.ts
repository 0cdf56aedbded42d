import assert from "node:assert/strict";
import fc from "fast-check";
import { buildPage } from "./api_pages.ts";

Deno.test("buildPage() - paging to the end yields every kept row once, in key order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 120 }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 60 }),
      fc.constantFrom("none", "prefilter", "keep", "both"),
      fc.integer({ min: 2, max: 5 }),
      async (ids, limit, scanBound, how, mod) => {
        await using kv = await Deno.openKv(":memory:");
        for (const id of ids) await kv.set(["p", id], { n: id.length });
        // Some rows name records that are gone (load gives null).
        const gone = (id: string) => id.endsWith("7");
        const pre = (v: unknown) => (v as { n: number }).n % mod !== 0;
        const keep = (id: string) => !id.startsWith("a");
        const expected = [...ids].sort().filter((id) =>
          !gone(id) && (how === "none" || how === "keep" || pre({ n: id.length })) &&
          (how === "none" || how === "prefilter" || keep(id))
        );
        const seen: string[] = [];
        let after: string[] | undefined;
        for (let i = 0; i < 1000; i++) {
          const page = await buildPage<string>({
            kv,
            prefix: ["p"],
            after,
            limit,
            scanBound: how === "none" ? limit : scanBound,
            prefilter: how === "prefilter" || how === "both" ? pre : undefined,
            keep: how === "keep" || how === "both" ? keep : undefined,
            load: (rows) => Promise.resolve(rows.map((r) => gone(r.pos[0]) ? null : r.pos[0])),
          });
          assert.ok(page.items.length <= limit);
          seen.push(...page.items);
          if (page.next === null) break;
          after = page.next;
        }
        assert.deepEqual(seen, expected);
      },
    ),
    { numRuns: 150 },
  );
});
