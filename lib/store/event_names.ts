/**
 * Names for a page of events: what the console shows in place of ids. A target user is its
 * userName, a group its displayName, a token its name, an IdP its name, an admin their email —
 * read as they are now, a few batched reads per page. An event whose target no longer exists
 * keeps the name it was written with (`target.name`), or none.
 * @module
 */
import { keys } from "./keys.ts";
import { getManyBatched } from "./kv.ts";
import type { AuditEvent } from "../audit/events.ts";
import type { Group, User } from "./types.ts";
import type { Admin } from "./admins.ts";
import type { Role } from "./roles.ts";
import { listIdps, listTokens } from "./tenants.ts";

/** The names an event shows: its target's, its token's and its IdP's. */
export interface EventNames {
  target?: string;
  token?: string;
  idp?: string;
}

/** Names of each event of the page, by event id. */
export async function nameEvents(
  kv: Deno.Kv,
  tenantId: string,
  events: readonly AuditEvent[],
): Promise<Record<string, EventNames>> {
  const out: Record<string, EventNames> = {};
  if (!events.length) return out;
  const idps = new Map((await listIdps(kv, tenantId)).map((i) => [i.id, i.name]));
  const targetKey = (e: AuditEvent): Deno.KvKey | undefined => {
    const t = e.target;
    if (!t) return undefined;
    if (t.kind === "user") return keys.user(tenantId, t.id);
    if (t.kind === "group" && e.idpId) return keys.group(tenantId, e.idpId, t.id);
    if (t.kind === "admin") return keys.admin(tenantId, t.id);
    if (t.kind === "role") return keys.role(tenantId, t.id);
    return undefined;
  };
  const wanted = events.map(targetKey);
  const distinct = [...new Map(wanted.flatMap((k) => k ? [[JSON.stringify(k), k]] : [])).values()];
  const loaded = new Map<string, unknown>();
  for (const entry of await getManyBatched<unknown>(kv, distinct)) {
    if (entry.value) loaded.set(JSON.stringify(entry.key), entry.value);
  }
  // Tokens by IdP: an IdP has a handful, read once per IdP on the page.
  const tokenIdps = [...new Set(events.flatMap((e) => e.tokenId && e.idpId ? [e.idpId] : []))];
  const tokens = new Map<string, string>();
  await Promise.all(tokenIdps.map(async (idpId) => {
    for (const t of await listTokens(kv, tenantId, idpId)) tokens.set(t.id, t.name);
  }));

  events.forEach((e, i) => {
    const names: EventNames = {};
    const key = wanted[i];
    const value = key ? loaded.get(JSON.stringify(key)) : undefined;
    if (value && e.target?.kind === "user") names.target = (value as User).userName;
    else if (value && e.target?.kind === "group") names.target = (value as Group).displayName;
    else if (value && e.target?.kind === "admin") names.target = (value as Admin).email;
    else if (value && e.target?.kind === "role") names.target = (value as Role).name;
    else if (e.target?.kind === "idp") names.target = idps.get(e.target.id);
    else if (e.target?.kind === "token") names.target = tokens.get(e.target.id);
    names.target ??= e.target?.name;
    const tokenId = e.tokenId ?? (e.target?.kind === "token" ? e.target.id : undefined);
    if (tokenId) names.token = tokens.get(tokenId);
    if (e.idpId) names.idp = idps.get(e.idpId);
    out[e.id] = names;
  });
  return out;
}
