/**
 * A credential's last use (a SCIM token's, an API key's): written at most once a minute by each
 * process and without reading it first, since it is a display, exact to the minute.
 * @module
 */
import { withLockRetry } from "./kv.ts";
import type { TokenLastUsed } from "./types.ts";

/** How often one process records a credential's last use. */
const LAST_USE_EVERY_MS = 60_000;
/** When this process last recorded each credential's last use (key → ms); bounded. */
const lastUseWritten = new Map<string, number>();

/** Sets `{at, ip}` at `key` unless this process did within the last minute. */
export async function recordLastUse(
  kv: Deno.Kv,
  key: Deno.KvKey,
  clientIp: string,
  now: Date,
): Promise<void> {
  const writtenKey = JSON.stringify(key);
  const last = lastUseWritten.get(writtenKey) ?? 0;
  if (now.getTime() - last < LAST_USE_EVERY_MS && now.getTime() >= last) return;
  if (lastUseWritten.size >= 4096) lastUseWritten.clear();
  lastUseWritten.set(writtenKey, now.getTime());
  await withLockRetry(() =>
    kv.set(key, { at: now.toISOString(), ip: clientIp } satisfies TokenLastUsed)
  );
}
