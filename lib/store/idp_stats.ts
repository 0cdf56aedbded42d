/**
 * Dashboard figures of an IdP connection: users and groups from counters, the newest push, failed
 * authentications in the last 24 hours, and events per hour counted from index keys alone.
 * @module
 */
import { decodeTime, encodeTime } from "ulid";
import { keys } from "./keys.ts";
import { counterValue } from "./kv.ts";
import { listAuthFailures } from "./scim_credentials.ts";
import type { AuditEvent } from "../audit/events.ts";
import { listEvents } from "./events.ts";

/** Figures for the dashboard card of one IdP. */
export interface IdpStats {
  users: number;
  groups: number;
  /** The newest provisioning event (a user or group change) from this IdP. */
  lastPush?: AuditEvent;
  /** Failed SCIM authentications in the last 24 hours. */
  failures24h: number;
}

const PUSH_TYPES = /^scim_(user|group)_/;

/** Dashboard figures of one IdP: counters, one short index read, and the failure tallies. */
export async function idpStats(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  now = Date.now(),
): Promise<IdpStats> {
  const [users, groups] = await kv.getMany([
    keys.counter(tenantId, "idp_users", idpId),
    keys.counter(tenantId, "groups", idpId),
  ]);
  let lastPush: AuditEvent | undefined;
  let cursor: string | undefined;
  // Pushes dominate an IdP's events; a few pages of failures or token events are skipped over.
  for (let page = 0; page < 4 && !lastPush; page++) {
    const res = await listEvents(kv, tenantId, { idpId, limit: 50, cursor });
    lastPush = res.events.find((e) => PUSH_TYPES.test(e.type));
    cursor = res.cursor;
    if (!cursor) break;
  }
  const since = new Date(now - 24 * 3600_000).toISOString().slice(0, 13);
  const failures = await listAuthFailures(kv, tenantId, idpId, 500);
  const failures24h = failures.filter((f) => f.hour >= since).reduce((n, f) => n + f.count, 0);
  return { users: counterValue(users), groups: counterValue(groups), lastPush, failures24h };
}

/** Events per hour over the last `hours` hours, oldest first. */
export interface Activity {
  /** Start of each hour bucket (ISO). */
  hours: string[];
  counts: number[];
  /** True when more than `cap` events fell in the range and only the newest were counted. */
  capped: boolean;
}

/**
 * Counts an IdP's events per hour from the event index keys alone: a ULID's first ten characters
 * are its time, so no event record is read. At most `cap` keys are examined.
 */
export async function idpActivity(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  options: { hours?: number; now?: number; cap?: number } = {},
): Promise<Activity> {
  const hours = options.hours ?? 168;
  const cap = options.cap ?? 100_000;
  const hourMs = 3600_000;
  const end = Math.floor((options.now ?? Date.now()) / hourMs) * hourMs + hourMs;
  const start = end - hours * hourMs;
  const prefix = keys.eventByIdp(tenantId, idpId, "").slice(0, -1);
  const counts = new Array<number>(hours).fill(0);
  let seen = 0;
  let capped = false;
  const iter = kv.list({ start: [...prefix, encodeTime(start, 10)], end: [...prefix, "~"] }, {
    reverse: true,
    batchSize: 1000,
  });
  for await (const e of iter) {
    if (++seen > cap) {
      capped = true;
      break;
    }
    const t = decodeTime(String(e.key.at(-1)));
    const i = Math.floor((t - start) / hourMs);
    if (i >= 0 && i < hours) counts[i]++;
  }
  return {
    hours: counts.map((_, i) => new Date(start + i * hourMs).toISOString()),
    counts,
    capped,
  };
}
