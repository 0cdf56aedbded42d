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
  type LinkedUser,
  toUserState,
  updateUser,
} from "../../lib/store/users.ts";
import {
  groupsOfUsers,
  idpUserSource,
  type ListedUser,
  type UserGroupRef,
} from "../../lib/store/sources.ts";
import { query, type Source } from "../../lib/store/query.ts";
import type { Filter } from "../../lib/scim/filter/ast.ts";
import { mentionsAttribute } from "../../lib/scim/filter/mentions.ts";
import { changeContext, listResponse } from "./_shared.ts";

/** The `/Users` routes. */
export const users = new Hono<ScimEnv>();

function location(c: Context<ScimEnv>, id: string): string {
  return `${c.get("scimBase")}/Users/${id}`;
}

/**
 * Whether a projection asks for `groups`. The User schema declares them `returned: "request"`:
 * they cost a read per group, and no IdP reads them, so they come only when asked for.
 */
function wantsGroups(projection: { attributes?: string[] }): boolean {
  return projection.attributes?.some((a) =>
    /^(urn:ietf:params:scim:schemas:core:2\.0:user:)?groups(\..*)?$/i.test(a.trim())
  ) ?? false;
}

/** A user's groups as its resource shows them. */
function groupRefs(c: Context<ScimEnv>, groups: UserGroupRef[] | undefined) {
  return groups?.map((g) => ({
    value: g.id,
    display: g.displayName,
    $ref: `${c.get("scimBase")}/Groups/${g.id}`,
  }));
}

/** The user's groups, when the request's projection asks for them. */
async function groupsFor(c: Context<ScimEnv>, userId: string): Promise<UserGroupRef[]> {
  const { kv } = c.get("deps");
  const found = await groupsOfUsers(kv, c.get("tenant").id, c.get("idp").id, [userId]);
  return found.get(userId) ?? [];
}

/** Renders one user with ETag, honouring `attributes`/`excludedAttributes` from the query. */
async function userResponse(c: Context<ScimEnv>, u: LinkedUser, status = 200): Promise<Response> {
  const projection = projectionFromQuery(c);
  // A user just created by this request has no groups yet: no need to read them.
  const groups = wantsGroups(projection)
    ? status === 201 ? [] : await groupsFor(c, u.link.userId)
    : undefined;
  const view = renderUser(u.link, u.versionstamp, location(c, u.link.userId), groupRefs(c, groups));
  const body = project(view, "User", projection);
  const headers: Record<string, string> = { etag: etagOf(u.versionstamp) };
  if (status === 201) headers.location = location(c, u.link.userId);
  return scimJson(body, status, headers);
}

/** A query source over this IdP's users; with groups when the filter or projection needs them. */
export function userSource(
  c: Context<ScimEnv>,
  params: { filter?: Filter; attributes?: string[] },
): Source<ListedUser> {
  const { kv, config } = c.get("deps");
  return idpUserSource(kv, c.get("tenant").id, c.get("idp"), {
    view: (u) =>
      renderUser(u.link, u.versionstamp, location(c, u.link.userId), groupRefs(c, u.groups)),
    withGroups: wantsGroups(params) ||
      (!!params.filter && mentionsAttribute(params.filter, "groups")),
    scanLimit: config.scanLimit,
  });
}

/** Runs a list query and renders the ListResponse. */
export async function listUsers(c: Context<ScimEnv>, params: ListParams): Promise<Response> {
  const { kv, config } = c.get("deps");
  const source = userSource(c, params);
  const page = await query(kv, source, { ...params, scanLimit: config.scanLimit });
  const resources = page.items.map((u) => project(source.view(u), "User", params));
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
  const u = await getLinkedUser(kv, c.get("tenant").id, c.get("idp").id, id);
  if (!u) throw ScimError.notFound(`User "${id}" not found`);
  if (inm && ifMatchVersion(inm) === u.versionstamp) {
    return new Response(null, { status: 304, headers: { etag: etagOf(u.versionstamp) } });
  }
  return await userResponse(c, u);
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
  const result = await updateUser(kv, changeContext(c), id, (current) => ({
    resource: state.resource,
    // PUT replaces the resource, but an omitted externalId or active never unlinks or suspends.
    externalId: state.externalId ?? current.externalId,
    active: state.active ?? current.active,
  }), { ifMatch: ifMatchVersion(c.req.header("if-match")), how: "PUT" });
  return await userResponse(c, result);
});

users.patch("/:id", async (c) => {
  const { kv } = c.get("deps");
  const id = c.req.param("id");
  const ops = parsePatchRequest(await readJsonBody(c));
  const result = await updateUser(kv, changeContext(c), id, (current) => {
    const before = { ...current.resource, active: current.active } as Record<string, unknown>;
    if (current.externalId !== undefined) before.externalId = current.externalId;
    const { resource } = applyPatch(before, ops, { resourceType: "User", id });
    const state = toUserState(normalizeResource("User", resource));
    return { ...state, active: state.active ?? current.active };
  }, { ifMatch: ifMatchVersion(c.req.header("if-match")), how: "PATCH" });
  // Entra expects 204 No Content (Microsoft's SCIM validator asserts it); other IdPs read the
  // user back from the 200 (RFC 7644 §3.5.2 allows either).
  if (c.get("idp").kind === "entra") {
    return new Response(null, { status: 204, headers: { etag: etagOf(result.versionstamp) } });
  }
  return await userResponse(c, result);
});

users.delete("/:id", async (c) => {
  const { kv } = c.get("deps");
  await deleteUser(kv, changeContext(c), c.req.param("id"), {
    ifMatch: ifMatchVersion(c.req.header("if-match")),
  });
  return new Response(null, { status: 204 });
});
