/**
 * The attribute mirroring re-apply job runs after its request has been answered, so a
 * point-in-time backup's write pause must hold it too: each batch waits at the instance's gate.
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, createUsers } from "./_helpers.ts";
import { runMirroringJob, startMirroringJob } from "../lib/store/mirroring_job.ts";
import { keys } from "../lib/store/keys.ts";

Deno.test("runMirroringJob() - each batch waits at the gate and leaves it; nothing is written while held", async () => {
  await using t = await createTestApp();
  await createUsers(t, 150);
  const { job } = await startMirroringJob(t.kv, t.tenant.id, "test");
  const log: string[] = [];
  let release!: () => void;
  let first = true;
  const hold = () => {
    log.push("enter");
    if (!first) return Promise.resolve(() => log.push("leave"));
    first = false;
    return new Promise<() => void>((resolve) => release = () => resolve(() => log.push("leave")));
  };
  const running = runMirroringJob(t.kv, t.tenant.id, job.id, hold);
  await new Promise((r) => setTimeout(r, 50));
  const held = (await t.kv.get<{ processed: number }>(keys.mirroringJob(t.tenant.id))).value;
  assert.equal(held?.processed, 0, "no batch ran while the gate held it");
  release();
  const done = await running;
  assert.equal(done?.state, "done");
  assert.equal(done?.processed, 150);
  assert.deepEqual(log, ["enter", "leave", "enter", "leave"], "two batches of at most 100");
});
