/**
 * A directory big enough to be a real one, made through SCIM on a running server, and everything
 * a SCIM client can read back from it: the round trips of backup, restore and `store copy`
 * (`tests/backup_test.ts`, and at full size `bench/backup.ts`) compare these reads before and
 * after.
 * @module
 */
import assert from "node:assert/strict";
import {
  allEvents,
  type IdpAccess,
  PATCH_OP,
  pool,
  type Provisioned,
  ScimClient,
  userBody,
  withKv,
} from "./_server.ts";

/** Sizes of the seeded directory. */
export interface SeedSizes {
  /** Users of the first IdP. */
  users: number;
  /** Members of its large group (at most `users`). */
  members: number;
  /** Users of the second IdP (with a small group each). */
  otherUsers: number;
  /** Requests at once. */
  concurrency?: number;
}

/** What was seeded. */
export interface Seeded {
  bigGroupId: string;
  userIds: string[];
}

/** Creates users and groups through SCIM on `origin`, with changes and deletions among them. */
export async function seedDirectory(
  origin: string,
  p: Provisioned,
  sizes: SeedSizes,
  onProgress?: (done: number) => void,
): Promise<Seeded> {
  const [main, other] = p.idps;
  const c = new ScimClient([origin], main.idp.id, main.token, "seed");
  const limit = sizes.concurrency ?? 16;
  let done = 0;
  const created = await pool(sizes.users, limit, async (i) => {
    const r = await c.send(
      "POST",
      "/Users",
      userBody("rt", i, {
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { employeeNumber: String(i) },
      }),
    );
    assert.equal(r.status, 201, JSON.stringify(r.json));
    if (++done % 1000 === 0) onProgress?.(done);
    return String(r.json.id);
  });
  c.log.length = 0;
  const big = await c.send("POST", "/Groups", { displayName: "Everyone", members: [] });
  assert.equal(big.status, 201);
  const bigGroupId = String(big.json.id);
  for (let i = 0; i < sizes.members; i += 1000) {
    const ids = created.slice(i, Math.min(sizes.members, i + 1000));
    const r = await c.send("PATCH", `/Groups/${bigGroupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "members", value: ids.map((value) => ({ value })) }],
    });
    assert.equal(r.status, 204, JSON.stringify(r.json));
    c.log.length = 0;
  }
  // Changes after creation: a few deactivations and one deletion.
  for (const id of created.slice(0, Math.min(5, created.length))) {
    const r = await c.send("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "active", value: false }],
    });
    assert.equal(r.status, 200);
  }
  if (created.length > 10) {
    assert.equal((await c.send("DELETE", `/Users/${created[9]}`)).status, 204);
  }
  if (other) {
    const o = new ScimClient([origin], other.idp.id, other.token, "seed2");
    const ids = await pool(sizes.otherUsers, limit, async (i) => {
      const r = await o.send("POST", "/Users", userBody("rt2", i));
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return String(r.json.id);
    });
    const g = await o.send("POST", "/Groups", {
      displayName: "Small",
      externalId: "small-1",
      members: ids.slice(0, 3).map((value) => ({ value })),
    });
    assert.equal(g.status, 201, JSON.stringify(g.json));
  }
  return { bigGroupId, userIds: created };
}

/** A SCIM resource without `meta.version`, which is a versionstamp and changes with a restore. */
function withoutVersion(resource: Record<string, unknown>): Record<string, unknown> {
  const meta = resource.meta as Record<string, unknown> | undefined;
  if (!meta) return resource;
  const { version: _, ...rest } = meta;
  return { ...resource, meta: rest };
}

/** Every page of a listing, by cursor. */
async function listAll(c: ScimClient, path: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor = "";
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const r = await c.send("GET", `${path}${sep}count=200&cursor=${encodeURIComponent(cursor)}`);
    assert.equal(r.status, 200, JSON.stringify(r.json).slice(0, 300));
    c.log.length = 0;
    out.push(...(r.json.Resources as Record<string, unknown>[] ?? []).map(withoutVersion));
    if (typeof r.json.nextCursor !== "string" || !r.json.nextCursor) return out;
    cursor = r.json.nextCursor;
  }
}

/** What SCIM clients read from a directory, per IdP (ETag versions left out). */
export interface DirectoryView {
  [idpId: string]: {
    users: Record<string, unknown>[];
    groups: Record<string, unknown>[];
    /** Sampled users read with their groups. */
    userGroups: Record<string, unknown>[];
    /** Each group read whole, members included. */
    groupReads: Record<string, unknown>[];
  };
}

/** Reads everything the IdPs' SCIM clients can list or read on `origin` (written `<origin>`). */
export async function readDirectory(
  origin: string,
  idps: IdpAccess[],
  sample = 200,
): Promise<DirectoryView> {
  const view: DirectoryView = {};
  for (const a of idps) {
    const c = new ScimClient([origin], a.idp.id, a.token, "read");
    const users = await listAll(c, "/Users");
    const groups = await listAll(c, "/Groups?excludedAttributes=members");
    const step = Math.max(1, Math.floor(users.length / sample));
    const userGroups: Record<string, unknown>[] = [];
    for (let i = 0; i < users.length; i += step) {
      const r = await c.send("GET", `/Users/${users[i].id}?attributes=groups`);
      assert.equal(r.status, 200);
      userGroups.push(withoutVersion(r.json));
    }
    const groupReads: Record<string, unknown>[] = [];
    for (const g of groups) {
      const r = await c.send("GET", `/Groups/${g.id}`);
      assert.equal(r.status, 200);
      const members = ((r.json.members ?? []) as { value: string }[]).map((m) => m.value).sort();
      groupReads.push({ ...withoutVersion(r.json), members });
    }
    c.log.length = 0;
    view[a.idp.id] = { users, groups, userGroups, groupReads };
  }
  // Locations name the server read from; the directory is the same wherever it is served.
  return JSON.parse(JSON.stringify(view).replaceAll(origin, "<origin>"));
}

/** Every event of a tenant, in order, from a store. */
export function eventsIn(kvPath: string, tenantId: string): Promise<Record<string, unknown>[]> {
  return withKv(kvPath, (kv) => allEvents(kv, tenantId));
}
