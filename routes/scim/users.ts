/**
 * `/Users` (RFC 7644 §3.2–3.6) with the identity rules of architecture §3.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ScimEnv } from "../../lib/http/env.ts";
import {
  ifMatchVersion,
  listParamsFromQuery,
  listParamsFromSearch,
  projectionFromQuery,
  readJsonBody,
  scimJson,
} from "../../lib/http/scim.ts";
import type { ListParams } from "../../lib/scim/list_params.ts";
import { normalizeResource } from "../../lib/scim/validate.ts";
import { project } from "../../lib/scim/projection.ts";
import { applyPatch, parsePatchRequest } from "../../lib/scim/patch/mod.ts";
import { etagOf, renderUser } from "../../lib/scim/resource.ts";
import { ScimError } from "../../lib/scim/errors.ts";
import {
  createOrMergeUser,
  deleteUser,
  getLinkedUser,
  getLinkedUsers,
  type LinkedUser,
  listUserGroupIds,
  toUserState,
  updateUser,
} from "../../lib/store/users.ts";
import { getGroups } from "../../lib/store/groups.ts";
import { query, type Source } from "../../lib/store/query.ts";
import type { IdpUser } from "../../lib/store/types.ts";
import { fitsKey, keys } from "../../lib/store/keys.ts";
import { changeContext, listResponse } from "./_shared.ts";

/** The `/Users` routes. */
export const users = new Hono<ScimEnv>();

function location(c: Context<ScimEnv>, id: string): string {
  return `${c.get("scimBase")}/Users/${id}`;
}

async function groupsOf(c: Context<ScimEnv>, userId: string) {
  const { kv } = c.get("deps");
  const tenantId = c.get("tenant")!.id;
  const idpId = c.get("idp").id;
  const ids = await listUserGroupIds(kv, tenantId, userId);
  const groups = await getGroups(kv, tenantId, idpId, ids, { versions: false });
  return groups.map((g) => ({
    value: g.group.id,
    display: g.group.displayName,
    $ref: `${c.get("scimBase")}/Groups/${g.group.id}`,
  }));
}

/**
 * Starts reading a user's groups while the caller reads or writes the user record: no user write
 * changes memberships, so the two need not wait on each other.
 */
function groupsAlongside(c: Context<ScimEnv>, userId: string): Promise<GroupRef[]> {
  const groups = groupsOf(c, userId);
  // Awaited by userResponse; if the request fails first, the read's own failure is moot.
  groups.catch(() => {});
  return groups;
}

type GroupRef = Awaited<ReturnType<typeof groupsOf>>[number];

/** Renders one user with ETag, honouring `attributes`/`excludedAttributes` from the query. */
async function userResponse(
  c: Context<ScimEnv>,
  u: LinkedUser,
  status = 200,
  groupsRead?: Promise<GroupRef[]>,
): Promise<Response> {
  // A user just created by this request has no groups yet: no need to read them.
  const groups = status === 201 ? [] : await (groupsRead ?? groupsOf(c, u.link.userId));
  const view = renderUser(u.link, u.versionstamp, location(c, u.link.userId), groups);
  const body = project(view, "User", projectionFromQuery(c));
  const headers: Record<string, string> = { etag: etagOf(u.versionstamp) };
  if (status === 201) headers.location = location(c, u.link.userId);
  return scimJson(body, status, headers);
}

/** A query source over this IdP's users. */
export function userSource(c: Context<ScimEnv>): Source<LinkedUser> {
  const { kv } = c.get("deps");
  const tenantId = c.get("tenant")!.id;
  const idpId = c.get("idp").id;
  return {
    resourceType: "User",
    prefix: keys.idpUsers(tenantId, idpId),
    counter: keys.counter(tenantId, "idp_users", idpId),
    anchorKey: (startIndex) => keys.pageAnchor(tenantId, "idp_users", idpId, startIndex),
    load: (ids) => getLinkedUsers(kv, tenantId, idpId, ids),
    fromEntry: (e) => ({ link: e.value as IdpUser, versionstamp: e.versionstamp }),
    id: (u) => u.link.userId,
    view: (u) => renderUser(u.link, u.versionstamp, location(c, u.link.userId)),
    async lookup(attr, value) {
      // No stored identifier is longer than a key part: such a value matches nothing.
      if (!fitsKey(value)) return [];
      if (attr === "id") return [value];
      if (attr === "username") {
        const id =
          (await kv.get<string>(keys.idpUserByUserName(tenantId, idpId, value.toLowerCase())))
            .value;
        return id ? [id] : [];
      }
      if (attr === "externalid") {
        if (c.get("idp").matchBy !== "userName") {
          // Unique on an IdP that merges on it: one key.
          const id = (await kv.get<string>(keys.idpUserByExternalId(tenantId, idpId, value))).value;
          return id ? [id] : [];
        }
        const rows = await Array.fromAsync(
          kv.list({ prefix: keys.idpUsersByExternalIdAny(tenantId, idpId, value) }, {
            limit: 1000,
          }),
        );
        return rows.map((r) => String(r.key.at(-1)));
      }
      if (attr === "emails.value" || attr === "emails") {
        const rows = await Array.fromAsync(
          kv.list({ prefix: keys.idpUsersByEmail(tenantId, idpId, value.toLowerCase()) }, {
            limit: 1000,
          }),
        );
        return rows.map((r) => String(r.key.at(-1)));
      }
      return null;
    },
  };
}

/** Runs a list query and renders the ListResponse. */
export async function listUsers(c: Context<ScimEnv>, params: ListParams): Promise<Response> {
  const { kv, config } = c.get("deps");
  const page = await query(kv, userSource(c), { ...params, scanLimit: config.scanLimit });
  const wantsGroups = params.attributes?.some((a) =>
    a.toLowerCase() === "groups" || a.toLowerCase().startsWith("groups.")
  );
  const resources = await Promise.all(page.items.map(async (u) => {
    const view = renderUser(
      u.link,
      u.versionstamp,
      location(c, u.link.userId),
      wantsGroups ? await groupsOf(c, u.link.userId) : undefined,
    );
    return project(view, "User", params);
  }));
  return scimJson(listResponse(resources, page.totalResults, params, page.nextCursor));
}

users.get("/", (c) => listUsers(c, listParamsFromQuery(c, c.get("deps").config.maxResults)));

users.post("/.search", async (c) => {
  return await listUsers(
    c,
    listParamsFromSearch(await readJsonBody(c), c.get("deps").config.maxResults),
  );
});

users.get("/:id", async (c) => {
  const { kv } = c.get("deps");
  const id = c.req.param("id");
  const inm = c.req.header("if-none-match");
  const groups = inm || !fitsKey(id) ? undefined : groupsAlongside(c, id);
  const u = await getLinkedUser(kv, c.get("tenant")!.id, c.get("idp").id, id);
  if (!u) throw ScimError.notFound(`User "${id}" not found`);
  if (inm && ifMatchVersion(inm) === u.versionstamp) {
    return new Response(null, { status: 304, headers: { etag: etagOf(u.versionstamp) } });
  }
  return await userResponse(c, u, 200, groups);
});

users.post("/", async (c) => {
  const { kv } = c.get("deps");
  const body = normalizeResource("User", await readJsonBody(c));
  const result = await createOrMergeUser(kv, changeContext(c), toUserState(body));
  return await userResponse(c, result, result.status);
});

users.put("/:id", async (c) => {
  const { kv } = c.get("deps");
  const state = toUserState(normalizeResource("User", await readJsonBody(c)));
  const id = c.req.param("id");
  const groups = fitsKey(id) ? groupsAlongside(c, id) : undefined;
  const result = await updateUser(kv, changeContext(c), id, (current) => ({
    resource: state.resource,
    // PUT replaces the resource, but an omitted externalId or active never unlinks or suspends.
    externalId: state.externalId ?? current.externalId,
    active: state.active ?? current.active,
  }), { ifMatch: ifMatchVersion(c.req.header("if-match")), how: "PUT" });
  return await userResponse(c, result, 200, groups);
});

users.patch("/:id", async (c) => {
  const { kv } = c.get("deps");
  const id = c.req.param("id");
  const ops = parsePatchRequest(await readJsonBody(c));
  const groups = fitsKey(id) ? groupsAlongside(c, id) : undefined;
  const result = await updateUser(kv, changeContext(c), id, (current) => {
    const before = { ...current.resource, active: current.active } as Record<string, unknown>;
    if (current.externalId !== undefined) before.externalId = current.externalId;
    const { resource } = applyPatch(before, ops, { resourceType: "User", id });
    const state = toUserState(normalizeResource("User", resource));
    return { ...state, active: state.active ?? current.active };
  }, { ifMatch: ifMatchVersion(c.req.header("if-match")), how: "PATCH" });
  return await userResponse(c, result, 200, groups);
});

users.delete("/:id", async (c) => {
  const { kv } = c.get("deps");
  await deleteUser(kv, changeContext(c), c.req.param("id"), {
    ifMatch: ifMatchVersion(c.req.header("if-match")),
  });
  return new Response(null, { status: 204 });
});
