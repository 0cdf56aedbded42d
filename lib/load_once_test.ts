import assert from "node:assert/strict";
import { loadOnce } from "./load_once.ts";

Deno.test("loadOnce() loads once for every caller, and a failed load is tried again", async () => {
  let calls = 0;
  const ok = loadOnce(() => Promise.resolve(++calls));
  assert.deepEqual(await Promise.all([ok(), ok(), ok()]), [1, 1, 1]);
  assert.equal(await ok(), 1);
  assert.equal(calls, 1);

  let attempts = 0;
  const flaky = loadOnce(() =>
    ++attempts === 1 ? Promise.reject(new Error("down")) : Promise.resolve("up")
  );
  await assert.rejects(flaky(), /down/);
  assert.equal(await flaky(), "up");
  assert.equal(await flaky(), "up");
  assert.equal(attempts, 2);
});
