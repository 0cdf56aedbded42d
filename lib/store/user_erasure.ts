/**
 * The erasure that follows the deletion of a user whose IdP's deprovisioning policy is `delete`:
 * the deletion's commit removes the user's records and writes a marker here; this module then
 * removes the names recorded on the user's audit events and the SCIM requests logged about the
 * user, and drops the marker. A process that stops midway leaves the marker, and the next start
 * (or the next deletion's erasure) finishes the work: erasing twice is harmless.
 * @module
 */
import { keys } from "./keys.ts";
import { dropTargetNames } from "./events.ts";
import { eraseRequestLogOfUser } from "./request_log.ts";

/** What the deletion's commit records for the erasure. */
export interface UserErasure {
  userId: string;
  idpId: string;
  since: string;
}

/** Adds the erasure marker of a deleted user to the deletion's operation. */
export function markErasure(
  op: Deno.AtomicOperation,
  tenantId: string,
  erasure: UserErasure,
): void {
  op.set(keys.userErasure(tenantId, erasure.userId), erasure);
}

/** Erases a deleted user's trail and drops its marker. */
export async function eraseUserTrail(
  kv: Deno.Kv,
  tenantId: string,
  erasure: UserErasure,
): Promise<void> {
  await dropTargetNames(kv, tenantId, erasure.userId);
  await eraseRequestLogOfUser(kv, tenantId, erasure.idpId, erasure.userId);
  await kv.delete(keys.userErasure(tenantId, erasure.userId));
}

/** Finishes every erasure a stopped process left; returns how many there were. */
export async function finishErasures(kv: Deno.Kv, tenantId: string): Promise<number> {
  let n = 0;
  for await (const e of kv.list<UserErasure>({ prefix: keys.userErasures(tenantId) })) {
    await eraseUserTrail(kv, tenantId, e.value);
    n++;
  }
  return n;
}
