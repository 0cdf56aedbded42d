/**
 * Work the store holds that is not done yet, for `GET /metrics`: pending large membership
 * changes (journals), the write pause, and the instances serving the store.
 * @module
 */
import { keys } from "./keys.ts";
import { listTenants } from "./tenants.ts";
import { getPause, liveInstances, livePause } from "./write_pause.ts";

/** What {@linkcode storeBacklog} counts. */
export interface StoreBacklog {
  /** Large membership changes journalled and not yet completed, over all tenants. */
  journals: number;
  /** Whether a point-in-time backup's write pause is in force. */
  writePause: boolean;
  /** Instances with a live heartbeat. */
  instances: number;
}

/** Counts the store's backlog (a few reads per tenant). */
export async function storeBacklog(kv: Deno.Kv): Promise<StoreBacklog> {
  let journals = 0;
  for (const t of await listTenants(kv)) {
    for await (const _ of kv.list({ prefix: keys.memberJournals(t.id) }, { limit: 1000 })) {
      journals++;
    }
  }
  return {
    journals,
    writePause: livePause(await getPause(kv)) !== null,
    instances: (await liveInstances(kv)).length,
  };
}
