/**
 * The whole-store invariant checker: what every atomic write of Weft keeps true, checked over the
 * records themselves. Run by `restore` and `store copy` on the store they wrote, and by the
 * concurrency, fault and scale-out suites after their loads.
 *
 * Each tenant's records are read once and grouped by kind (the key part after the tenant id);
 * each check in {@linkcode TENANT_CHECKS} reads the kinds it needs and names what it finds wrong.
 * A new kind of record that must agree with others gets its own check appended there.
 * @module
 */
import { foldName, keys } from "./keys.ts";
import { counterValue } from "./kv.ts";
import type { Idp } from "./types.ts";
import { eventId } from "../directory/types.ts";

/** One record as a check sees it: its key parts as strings, and its value. */
export interface CheckedRow {
  key: string[];
  value: unknown;
}

/** A tenant's records grouped by kind, with lookups the checks share. */
export interface TenantRecords {
  tenantId: string;
  /** The rows of one kind (`idp_users`, `groups`, …), empty when there are none. */
  rows(kind: string): CheckedRow[];
  /** One kind's rows by key (as {@linkcode keyText} writes it) → value. */
  index(kind: string): Map<string, unknown>;
}

/** A named rule over one tenant's records; yields one line per violation. */
export interface InvariantCheck {
  name: string;
  check(records: TenantRecords): Iterable<string>;
}

/** A key as comparable text (every part as a string). */
export function keyText(key: Deno.KvKey | string[]): string {
  return JSON.stringify(key.map((k) => String(k)));
}

/** Most violations reported per tenant (the first ones say enough). */
const MAX_PROBLEMS = 200;

type Link = Record<string, unknown>;

function emailsOf(resource: Record<string, unknown>): string[] {
  const emails = resource.emails;
  if (!Array.isArray(emails)) return [];
  return [
    ...new Set(
      emails.flatMap((e) =>
        e && typeof e === "object" && typeof (e as { value?: unknown }).value === "string"
          ? [foldName((e as { value: string }).value)]
          : []
      ),
    ),
  ];
}

/** IdP attribute rows by IdP, then user id. */
function linksOf(r: TenantRecords): Map<string, Map<string, Link>> {
  const links = new Map<string, Map<string, Link>>();
  for (const row of r.rows("idp_users")) {
    const [idp, uid] = [row.key[3], row.key[4]];
    if (!links.has(idp)) links.set(idp, new Map());
    links.get(idp)!.set(uid, row.value as Link);
  }
  return links;
}

function groupsOf(r: TenantRecords): Map<string, { idp: string; value: Link }> {
  const groups = new Map<string, { idp: string; value: Link }>();
  for (const row of r.rows("groups")) {
    groups.set(row.key[4], { idp: row.key[3], value: row.value as Link });
  }
  return groups;
}

function resourceOf(link: Link | undefined): Record<string, unknown> {
  return (link?.resource ?? {}) as Record<string, unknown>;
}

/** Each IdP user row has its indexes, its canonical user and an event. */
const idpUserIndexes: InvariantCheck = {
  name: "IdP users and their indexes",
  *check(r) {
    const t = r.tenantId;
    const idps = new Map(r.rows("idps").map((row) => [row.key[3], row.value as Idp]));
    const byName = r.index("idp_users_by_username");
    const byExt = r.index("idp_users_by_external_id");
    const byExtAny = r.index("idp_users_by_external_id_any");
    const byEmail = r.index("idp_users_by_email");
    const users = new Set(r.rows("users").map((row) => row.key[3]));
    const targets = new Set(r.rows("events_by_target").map((row) => row.key[3]));
    for (const [idp, m] of linksOf(r)) {
      const matchByExt = idps.get(idp)?.matchBy !== "userName";
      for (const [uid, link] of m) {
        const name = foldName(String(resourceOf(link).userName ?? ""));
        const k = keyText(keys.idpUserByUserName(t, idp, name));
        if (byName.get(k) !== uid) {
          yield `user ${uid} (${idp}): userName index ${name} → ${byName.get(k)}`;
        }
        const ext = link.externalId as string | undefined;
        if (ext !== undefined) {
          // The non-unique index serves IdPs that match on userName; the others keep it unique.
          if (
            !matchByExt && !byExtAny.has(keyText(keys.idpUserByExternalIdAny(t, idp, ext, uid)))
          ) {
            yield `user ${uid} (${idp}): missing externalId (any) index for ${ext}`;
          }
          if (matchByExt && byExt.get(keyText(keys.idpUserByExternalId(t, idp, ext))) !== uid) {
            yield `user ${uid} (${idp}): externalId index ${ext} does not point to it`;
          }
        }
        for (const e of emailsOf(resourceOf(link))) {
          if (!byEmail.has(keyText(keys.idpUserByEmail(t, idp, e, uid)))) {
            yield `user ${uid} (${idp}): missing email index ${e}`;
          }
        }
        if (!users.has(uid)) yield `user ${uid} (${idp}): no canonical user record`;
        if (!targets.has(uid)) yield `user ${uid} (${idp}): no event targets it`;
      }
    }
  },
};

/** No user index entry points to a row that does not carry its value. */
const danglingUserIndexes: InvariantCheck = {
  name: "dangling user indexes",
  *check(r) {
    const links = linksOf(r);
    for (const row of r.rows("idp_users_by_username")) {
      const [idp, name] = [row.key[3], row.key[4]];
      const link = links.get(idp)?.get(String(row.value));
      if (!link || foldName(String(resourceOf(link).userName ?? "")) !== name) {
        yield `dangling userName index ${idp}/${name} → ${row.value}`;
      }
    }
    for (const row of r.rows("idp_users_by_external_id")) {
      const [idp, ext] = [row.key[3], row.key[4]];
      const link = links.get(idp)?.get(String(row.value));
      if (!link || link.externalId !== ext) {
        yield `dangling externalId index ${idp}/${ext} → ${row.value}`;
      }
    }
    for (const row of r.rows("idp_users_by_external_id_any")) {
      const [idp, ext, uid] = [row.key[3], row.key[4], row.key[5]];
      const link = links.get(idp)?.get(uid);
      if (!link || link.externalId !== ext) {
        yield `dangling externalId(any) index ${idp}/${ext}/${uid}`;
      }
    }
    for (const row of r.rows("idp_users_by_email")) {
      const [idp, email, uid] = [row.key[3], row.key[4], row.key[5]];
      const link = links.get(idp)?.get(uid);
      if (!link || !emailsOf(resourceOf(link)).includes(email)) {
        yield `dangling email index ${idp}/${email}/${uid}`;
      }
    }
  },
};

/** Each group has its name (and externalId) index and an event; no group index dangles. */
const groupIndexes: InvariantCheck = {
  name: "groups and their indexes",
  *check(r) {
    const t = r.tenantId;
    const groups = groupsOf(r);
    const byName = r.index("groups_by_name");
    const byExt = r.index("groups_by_external_id");
    const targets = new Set(r.rows("events_by_target").map((row) => row.key[3]));
    for (const [gid, g] of groups) {
      if (byName.get(keyText(keys.groupByName(t, g.idp, String(g.value.displayName)))) !== gid) {
        yield `group ${gid}: displayName index does not point to it`;
      }
      if (typeof g.value.externalId === "string") {
        if (byExt.get(keyText(keys.groupByExternalId(t, g.idp, g.value.externalId))) !== gid) {
          yield `group ${gid}: externalId index does not point to it`;
        }
      }
      if (!targets.has(gid)) yield `group ${gid}: no event targets it`;
    }
    for (const row of r.rows("groups_by_name")) {
      const g = groups.get(String(row.value));
      if (!g || foldName(String(g.value.displayName)) !== row.key[4]) {
        yield `dangling group name index ${row.key[4]} → ${row.value}`;
      }
    }
    for (const row of r.rows("groups_by_external_id")) {
      const g = groups.get(String(row.value));
      if (!g || g.value.externalId !== row.key[4]) {
        yield `dangling group externalId index ${row.key[4]} → ${row.value}`;
      }
    }
  },
};

/** Membership rows exist both ways, between existing groups and users linked to the group's IdP. */
const memberships: InvariantCheck = {
  name: "memberships",
  *check(r) {
    const links = linksOf(r);
    const groups = groupsOf(r);
    const forward = new Set(r.rows("group_members").map((row) => `${row.key[3]}|${row.key[4]}`));
    const reverse = new Set(r.rows("user_groups").map((row) => `${row.key[4]}|${row.key[3]}`));
    for (const pair of forward) {
      const [gid, uid] = pair.split("|");
      if (!reverse.has(pair)) yield `membership ${gid} → ${uid} has no reverse row`;
      const g = groups.get(gid);
      if (!g) yield `membership row for missing group ${gid} (user ${uid})`;
      else if (!links.get(g.idp)?.has(uid)) {
        yield `group ${gid} has member ${uid} not linked to its IdP`;
      }
    }
    for (const pair of reverse) {
      if (!forward.has(pair)) yield `reverse membership ${pair} has no forward row`;
    }
  },
};

/** Maintained counters equal the rows they count. */
const counters: InvariantCheck = {
  name: "counters",
  *check(r) {
    const links = linksOf(r);
    const groups = groupsOf(r);
    const values = new Map(
      r.rows("counters").map((row) => [
        `${row.key[3]}|${row.key[4]}`,
        counterValue({ value: row.value } as Deno.KvEntryMaybe<unknown>),
      ]),
    );
    const members = new Map<string, number>();
    for (const row of r.rows("group_members")) {
      members.set(row.key[3], (members.get(row.key[3]) ?? 0) + 1);
    }
    for (const row of r.rows("idps")) {
      const idp = row.key[3];
      const n = links.get(idp)?.size ?? 0;
      const c = values.get(`idp_users|${idp}`) ?? 0;
      if (c !== n) yield `counter idp_users/${idp} = ${c}, rows = ${n}`;
      const gn = [...groups.values()].filter((g) => g.idp === idp).length;
      const gc = values.get(`groups|${idp}`) ?? 0;
      if (gc !== gn) yield `counter groups/${idp} = ${gc}, rows = ${gn}`;
    }
    for (const gid of groups.keys()) {
      const n = members.get(gid) ?? 0;
      const c = values.get(`group_members|${gid}`) ?? 0;
      if (c !== n) yield `counter group_members/${gid} = ${c}, rows = ${n}`;
    }
  },
};

/** No large membership change is left half applied. */
const journals: InvariantCheck = {
  name: "membership journals",
  *check(r) {
    for (const row of r.rows("member_journal")) {
      yield `pending membership journal for group ${row.key[3]}`;
    }
    for (const row of r.rows("member_journal_parts")) {
      yield `leftover membership journal part ${row.key[3]}/${row.key[4]}`;
    }
  },
};

/** Every event index entry points to an event. */
const eventIndexes: InvariantCheck = {
  name: "event indexes",
  *check(r) {
    const events = new Set(r.rows("events").map((row) => row.key[3]));
    for (const kind of ["events_by_idp", "events_by_type", "events_by_target"]) {
      for (const row of r.rows(kind)) {
        if (!events.has(row.key[row.key.length - 1])) {
          yield `${kind} entry ${JSON.stringify(row.key)} points to no event`;
        }
      }
    }
  },
};

/**
 * The events feed: the head is at least every entry's sequence number (the sequencer gives each
 * number once, so an entry above the head would be given again), every entry holds an event
 * whose id is its number, and a large entry has all its parts.
 */
const feed: InvariantCheck = {
  name: "feed",
  *check(r) {
    const head = r.rows("feed_head")[0]?.value as { seq?: unknown } | undefined;
    const seq = typeof head?.seq === "number" ? head.seq : 0;
    const parts = r.index("feed_parts");
    for (const row of r.rows("feed")) {
      const n = Number(row.key[3]);
      if (n > seq) yield `feed entry ${n} is above the feed head ${seq}`;
      const v = row.value as { event?: { id?: unknown }; parts?: unknown } | null;
      if (v?.event) {
        if (v.event.id !== eventId(n)) yield `feed entry ${n} holds event ${String(v.event.id)}`;
      } else if (typeof v?.parts === "number") {
        for (let i = 0; i < v.parts; i++) {
          if (!parts.has(keyText(keys.feedEntryPart(r.tenantId, n, i)))) {
            yield `feed entry ${n} lacks part ${i}`;
          }
        }
      } else yield `feed entry ${n} holds no event`;
    }
  },
};

/** The checks run on every tenant, in order. Append a check for each new kind that must agree. */
export const TENANT_CHECKS: readonly InvariantCheck[] = [
  idpUserIndexes,
  danglingUserIndexes,
  groupIndexes,
  memberships,
  counters,
  journals,
  eventIndexes,
  feed,
];

/** Reads a tenant's records, grouped by kind. */
async function readTenant(kv: Deno.Kv, tenantId: string): Promise<TenantRecords> {
  const byKind = new Map<string, CheckedRow[]>();
  for await (const e of kv.list({ prefix: keys.tenantData(tenantId) })) {
    const kind = String(e.key[2]);
    let rows = byKind.get(kind);
    if (!rows) byKind.set(kind, rows = []);
    rows.push({ key: e.key.map((k) => String(k)), value: e.value });
  }
  const indexes = new Map<string, Map<string, unknown>>();
  return {
    tenantId,
    rows: (kind) => byKind.get(kind) ?? [],
    index(kind) {
      let m = indexes.get(kind);
      if (!m) {
        indexes.set(
          kind,
          m = new Map((byKind.get(kind) ?? []).map((r) => [keyText(r.key), r.value])),
        );
      }
      return m;
    },
  };
}

/**
 * Checks every structural invariant of one tenant's data ({@linkcode TENANT_CHECKS}). Returns the
 * violations, at most 200 (empty = consistent).
 */
export async function checkInvariants(kv: Deno.Kv, tenantId: string): Promise<string[]> {
  const records = await readTenant(kv, tenantId);
  const problems: string[] = [];
  for (const c of TENANT_CHECKS) {
    for (const p of c.check(records)) {
      problems.push(p);
      if (problems.length >= MAX_PROBLEMS) return problems;
    }
  }
  return problems;
}

/** What {@linkcode checkStore} found. */
export interface StoreCheck {
  tenants: number;
  /** Violations, each prefixed by the tenant's subdomain (or the registry's name). */
  problems: string[];
}

/**
 * Checks the whole store: the tenant registry (each tenant record and its subdomain index agree;
 * no tenant data without a tenant record) and every tenant's invariants.
 */
export async function checkStore(
  kv: Deno.Kv,
  onTenant?: (done: number) => void,
): Promise<StoreCheck> {
  const problems: string[] = [];
  const tenants = new Map<string, string>();
  for await (const e of kv.list<{ id: string; subdomain: string }>({ prefix: keys.tenants() })) {
    tenants.set(String(e.key[1]), e.value.subdomain);
  }
  for (const [id, sub] of tenants) {
    const indexed = (await kv.get<string>(keys.tenantBySubdomain(sub))).value;
    if (indexed !== id) problems.push(`registry: subdomain ${sub} → ${indexed}, not tenant ${id}`);
  }
  for await (const e of kv.list<string>({ prefix: ["tenants_by_subdomain"] })) {
    if (!tenants.has(e.value)) {
      problems.push(`registry: subdomain ${String(e.key[1])} names no tenant`);
    }
  }
  // Tenant ids holding data, found by skipping from one tenant prefix to the next.
  // (`true` sorts after every string, number and byte key part.)
  let start: Deno.KvKey | undefined;
  for (;;) {
    const selector = start ? { prefix: ["t"], start } : { prefix: ["t"] };
    const [next] = await Array.fromAsync(kv.list(selector, { limit: 1 }));
    if (!next) break;
    const id = String(next.key[1]);
    if (!tenants.has(id)) {
      problems.push(`registry: records under tenant ${id}, which has no record`);
    }
    start = [...keys.tenantData(id), true];
  }
  let done = 0;
  for (const [id, sub] of tenants) {
    for (const p of await checkInvariants(kv, id)) problems.push(`${sub}: ${p}`);
    onTenant?.(++done);
  }
  return { tenants: tenants.size, problems };
}
