/**
 * `GET /api/v1/events`: the feed's parameters checked (an `after` that is no event id, unknown
 * types, limits out of range are a 400 naming the parameter), and the feed read through the
 * API: the events of SCIM changes in order, each once, with `after` paging, type and IdP filters.
 * @module
 */
import assert from "node:assert/strict";
import { createGroup, createTestApp, createUsers, expectScim, patchGroup } from "../_helpers.ts";
import { apiGet, apiKeyOf, expectApiError, expectJson } from "./_api.ts";
import { eventSeq, type PublicEvent } from "../../lib/directory/types.ts";

interface EventPage {
  object: "list";
  data: PublicEvent[];
  next_cursor: string | null;
}

/** Every event after `after`, following `next_cursor` until a page comes back empty. */
async function readAll(
  t: Parameters<typeof apiGet>[0],
  key: string,
  query = "",
  limit = 7,
): Promise<PublicEvent[]> {
  const out: PublicEvent[] = [];
  let after: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const params = new URLSearchParams(query);
    params.set("limit", String(limit));
    if (after) params.set("after", after);
    const page = await expectJson<EventPage>(await apiGet(t, `/events?${params}`, key), 200);
    out.push(...page.data);
    if (!page.data.length && (page.next_cursor === null || page.next_cursor === after)) return out;
    after = page.next_cursor ?? after;
  }
  throw new Error("the feed did not end");
}

Deno.test("GET /api/v1/events - bad parameters are a 400 naming them", async () => {
  await using t = await createTestApp();
  const key = await apiKeyOf(t);
  const cases: [string, RegExp][] = [
    ["after=01J00000000000000000000000", /"after" must be an event id/],
    ["after=evt_12", /"after" must be an event id/],
    ["after=evt_99999999999999999", /"after" must be an event id/],
    ["types=user.created,user.exploded", /"types" names unknown event types \("user.exploded"\)/],
    ["types=scim_user_received", /unknown event types/],
    ["types=,", /must list event types/],
    ["limit=0", /"limit" must be from 1 to 500/],
    ["limit=501", /"limit" must be from 1 to 500/],
    ["idp=%2F", /"idp" must be an IdP connection id/],
    ["cursor=x", /Unknown query parameter "cursor"/],
  ];
  for (const [query, message] of cases) {
    assert.match(
      await expectApiError(await apiGet(t, `/events?${query}`, key), 400, "invalid_request"),
      message,
      query,
    );
  }
  const ok = await expectJson<EventPage>(
    await apiGet(t, "/events?after=evt_0000000000000000&types=user.created&limit=500", key),
    200,
  );
  assert.equal(ok.object, "list");
});

Deno.test({
  name: "GET /api/v1/events - SCIM changes in order, each once, filtered by type and IdP",
}, async () => {
  await using t = await createTestApp();
  const key = await apiKeyOf(t);
  const [a, b] = await createUsers(t, 2);
  const group = await createGroup(t, "Feed");
  await expectScim(
    await patchGroup(t, group, [{
      op: "add",
      path: "members",
      value: [{ value: a }, { value: b }],
    }]),
    204,
  );
  await expectScim(
    await t.scim("PATCH", `/Users/${b}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "active", value: false }],
    }),
    200,
  );
  const events = await readAll(t, key);
  const seqs = events.map((e) => eventSeq(e.id)!);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "in order");
  assert.equal(new Set(seqs).size, seqs.length, "each once");
  const types = events.map((e) => e.type);
  assert.deepEqual(types.filter((x) => x === "user.created").length, 2);
  assert.ok(types.includes("group.created"));
  assert.equal(types.filter((x) => x === "group.user_added").length, 2);
  assert.ok(types.includes("user.deactivated"));
  const created = await readAll(t, key, "types=user.created,user.deactivated", 1);
  assert.deepEqual(
    created.map((e) => e.type),
    types.filter((x) => x === "user.created" || x === "user.deactivated"),
  );
  assert.deepEqual(await readAll(t, key, `idp=${t.idp.id}`, 100), events);
  assert.deepEqual(await readAll(t, key, "idp=other", 100), []);
});
