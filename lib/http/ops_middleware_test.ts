/**
 * The operations middleware, each in a two-line app: the write hold of point-in-time backups and
 * the request counter of `/metrics`.
 * @module
 */
import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { holdWrites } from "./hold_writes.ts";
import { countRequests } from "./metrics.ts";
import type { WriteGate } from "../instance/write_gate.ts";
import { renderMetrics } from "../metrics/registry.ts";

const unavailable = (c: Context, detail: string, retry: number) =>
  c.json({ detail }, 503, { "retry-after": String(retry) });

Deno.test("holdWrites() - GET passes; a write waits at the gate, runs, and leaves it", async () => {
  const log: string[] = [];
  let open!: () => void;
  const gate: WriteGate = {
    enter: () =>
      new Promise((resolve) => {
        log.push("enter");
        open = () => resolve(() => log.push("leave"));
      }),
  };
  const app = new Hono().use(holdWrites(gate, unavailable)).all("/*", (c) => {
    log.push(`handle ${c.req.method}`);
    return c.text("ok");
  });
  assert.equal((await app.request("/x")).status, 200);
  assert.deepEqual(log, ["handle GET"]);
  const pending = app.request("/x", { method: "POST" });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(log, ["handle GET", "enter"], "the write waits");
  open();
  assert.equal((await pending).status, 200);
  assert.deepEqual(log, ["handle GET", "enter", "handle POST", "leave"]);
});

Deno.test("holdWrites() - a pause that outlasts the wait is a 503 with Retry-After", async () => {
  const gate: WriteGate = { enter: () => Promise.resolve(null) };
  let ran = false;
  const app = new Hono().use(holdWrites(gate, unavailable)).all(
    "/*",
    (c) => (ran = true, c.text("ok")),
  );
  const res = await app.request("/x", { method: "DELETE" });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.equal(ran, false);
});

Deno.test("countRequests() - counts by surface and status, thrown errors too", async () => {
  const app = new Hono()
    .use(countRequests())
    .get("/scim/v2/inbound/x/Users", (c) => c.text("ok", 202))
    .get("/boom", () => {
      throw new Error("boom");
    });
  await (await app.request("/scim/v2/inbound/x/Users")).body?.cancel();
  await (await app.request("/boom")).body?.cancel();
  const text = renderMetrics();
  assert.match(text, /^weft_http_requests_total\{status="202",surface="scim"\} \d+$/m);
  assert.match(text, /^weft_http_requests_total\{status="500",surface="other"\} \d+$/m);
});
