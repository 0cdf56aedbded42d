/**
 * Live pages: the console's stream (`/admin/api/live`) says `changed` within seconds of a push,
 * for the tenant, one IdP (its events and its request log) and one user; other scopes stay quiet.
 * @module
 */
import assert from "node:assert/strict";
import { createAdminTestApp } from "./admin_helpers.ts";
import { createUsers, expectScim } from "./_helpers.ts";
import { flushRequestLog } from "../lib/store/request_log.ts";

type App = Awaited<ReturnType<typeof createAdminTestApp>>;

/** Opens a stream and returns a reader of its named events. */
async function open(t: App, query: string, as: { cookie: string; csrf: string }) {
  const res = await t.admin(`/admin/api/live${query}`, { as });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    /** The next named event (`ready`, `changed`) within `ms`, or null. */
    async next(ms: number): Promise<{ event: string; data: string } | null> {
      const deadline = Date.now() + ms;
      for (;;) {
        const block = /(?:^|\n)event: (\w+)\ndata: ([^\n]*)\n\n/.exec(buffer);
        if (block) {
          buffer = buffer.slice(block.index + block[0].length);
          return { event: block[1], data: block[2] };
        }
        const left = deadline - Date.now();
        if (left <= 0) return null;
        const read = await Promise.race([
          reader.read(),
          new Promise<null>((r) => setTimeout(() => r(null), left)),
        ]);
        if (!read || read.done) return null;
        buffer += read.value;
      }
    },
    close: () => reader.cancel(),
  };
}

Deno.test("Live - the stream says changed within seconds of a push, per scope", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const [userId] = await createUsers(t, 1);
  const other = await t.addIdp("Other");
  const tenant = await open(t, "", s);
  const idp = await open(t, `?idp=${t.idp.id}`, s);
  const quiet = await open(t, `?idp=${other.idp.id}`, s);
  const user = await open(t, `?target=${userId}`, s);
  try {
    for (const stream of [tenant, idp, quiet, user]) {
      assert.equal((await stream.next(1000))?.event, "ready");
    }
    await expectScim(
      await t.scim("PATCH", `/Users/${userId}`, {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "replace", path: "title", value: "Live" }],
      }),
      200,
    );
    await flushRequestLog(t.kv);
    for (const [name, stream] of [["tenant", tenant], ["idp", idp], ["user", user]] as const) {
      assert.equal((await stream.next(4000))?.event, "changed", name);
    }
    assert.equal(await quiet.next(2500), null, "another IdP's stream stays quiet");
    // A read makes no event, but shows in the IdP's request log: its page follows that too.
    await expectScim(await t.scim("GET", "/Users"), 200);
    await flushRequestLog(t.kv);
    assert.equal((await idp.next(4000))?.event, "changed");
  } finally {
    await Promise.all([tenant, idp, quiet, user].map((x) => x.close()));
  }
});

Deno.test("Live - a scope that is not an id is refused", async () => {
  await using t = await createAdminTestApp();
  const s = await t.signIn(t.superAdmin);
  const res = await t.admin("/admin/api/live?idp=..%2F..", { as: s });
  assert.equal(res.status, 400);
  await res.body?.cancel();
  assert.equal((await t.admin("/admin/api/live")).status, 401);
});
