/**
 * `/Groups` (RFC 7644 §3.2–3.6): members are rows, read only when the response needs them.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ScimEnv } from "../../lib/http/env.ts";
import {
  ifMatchVersion,
  type ListParams,
  listParamsFromQuery,
  listParamsFromSearch,
  projectionFromQuery,
  readJsonBody,
  scimJson,
} from "../../lib/http/scim.ts";
import { normalizeResource } from "../../lib/scim/validate.ts";
import { project } from "../../lib/scim/projection.ts";
import { applyPatch, extractMemberOperations, parsePatchRequest } from "../../lib/scim/patch.ts";
import { etagOf, renderGroup } from "../../lib/scim/resource.ts";
import { ScimError } from "../../lib/scim/errors.ts";
import {
  createGroup,
  deleteGroup,
  getGroup,
  getGroups,
  type GroupState,
  listMembers,
  memberDisplays,
  updateGroup,
  type VersionedGroup,
} from "../../lib/store/groups.ts";
import { query, type Source } from "../../lib/store/query.ts";
import { fitsKey, keys } from "../../lib/store/keys.ts";
import type { Filter } from "../../lib/scim/filter/ast.ts";
import { changeContext, listResponse } from "./_shared.ts";
import { memberDisplay, memberValue } from "../../lib/scim/compat.ts";

/** The `/Groups` routes. */
export const groups = new Hono<ScimEnv>();

function location(c: Context<ScimEnv>, id: string): string {
  return `${c.get("scimBase")}/Groups/${id}`;
}

/** Whether a projection keeps `members` (so they must be read). */
function wantsMembers(params: { attributes?: string[]; excludedAttributes?: string[] }): boolean {
  const isMembers = (a: string) =>
    /^(urn:ietf:params:scim:schemas:core:2\.0:group:)?members(\..*)?$/i.test(a);
  if (params.attributes?.length) return params.attributes.some(isMembers);
  return !(params.excludedAttributes ?? []).some(isMembers);
}

async function membersOf(c: Context<ScimEnv>, groupId: string) {
  const { kv } = c.get("deps");
  const { members } = await listMembers(kv, c.get("tenant")!.id, groupId);
  const base = c.get("scimBase");
  return members.map((m) => ({
    value: m.userId,
    ...(m.display !== undefined ? { display: m.display } : {}),
    $ref: `${base}/Users/${m.userId}`,
    type: "User" as const,
  }));
}

async function groupResponse(
  c: Context<ScimEnv>,
  g: VersionedGroup,
  status = 200,
): Promise<Response> {
  const p = projectionFromQuery(c);
  const members = wantsMembers(p) ? await membersOf(c, g.group.id) : undefined;
  const body = project(
    renderGroup(g.group, g.versionstamp, location(c, g.group.id), members),
    "Group",
    p,
  );
  const headers: Record<string, string> = { etag: etagOf(g.versionstamp) };
  if (status === 201) headers.location = location(c, g.group.id);
  return scimJson(body, status, headers);
}

/** Whether a filter mentions members (then candidates are evaluated with their members). */
function mentionsMembers(f: Filter): boolean {
  switch (f.kind) {
    case "and":
    case "or":
      return mentionsMembers(f.left) || mentionsMembers(f.right);
    case "not":
      return mentionsMembers(f.filter);
    default:
      return f.path.attr.toLowerCase() === "members";
  }
}

/** A query source over this IdP's groups. */
export function groupSource(
  c: Context<ScimEnv>,
  withMembers: Map<string, Record<string, unknown>[]> | null,
): Source<VersionedGroup> {
  const { kv } = c.get("deps");
  const tenantId = c.get("tenant")!.id;
  const idpId = c.get("idp").id;
  return {
    resourceType: "Group",
    prefix: keys.groups(tenantId, idpId),
    counter: keys.counter(tenantId, "groups", idpId),
    anchorKey: (startIndex) => keys.pageAnchor(tenantId, "groups", idpId, startIndex),
    async load(ids) {
      const found = await getGroups(kv, tenantId, idpId, ids);
      if (withMembers) {
        for (const g of found) withMembers.set(g.group.id, await membersOf(c, g.group.id));
      }
      return found;
    },
    id: (g) => g.group.id,
    view: (g) =>
      renderGroup(
        g.group,
        g.versionstamp,
        location(c, g.group.id),
        withMembers?.get(g.group.id) as never,
      ),
    async lookup(attr, value) {
      // No stored identifier is longer than a key part: such a value matches nothing.
      if (!fitsKey(value)) return [];
      if (attr === "id") return [value];
      if (attr === "displayname") {
        const id =
          (await kv.get<string>(keys.groupByName(tenantId, idpId, value.toLowerCase()))).value;
        return id ? [id] : [];
      }
      if (attr === "externalid") {
        const id = (await kv.get<string>(keys.groupByExternalId(tenantId, idpId, value))).value;
        return id ? [id] : [];
      }
      return null;
    },
  };
}

/** Runs a list query and renders the ListResponse. */
export async function listGroups(c: Context<ScimEnv>, params: ListParams): Promise<Response> {
  const { kv, config } = c.get("deps");
  const memberCache = params.filter && mentionsMembers(params.filter)
    ? new Map<string, Record<string, unknown>[]>()
    : null;
  const page = await query(kv, groupSource(c, memberCache), {
    ...params,
    scanLimit: config.scanLimit,
  });
  const needMembers = wantsMembers(params);
  const resources = await Promise.all(page.items.map(async (g) => {
    const members = needMembers
      ? memberCache?.get(g.group.id) ?? await membersOf(c, g.group.id)
      : undefined;
    return project(
      renderGroup(g.group, g.versionstamp, location(c, g.group.id), members as never),
      "Group",
      params,
    );
  }));
  return scimJson(listResponse(resources, page.totalResults, params, page.nextCursor));
}

/** Splits a validated Group body into attributes and the member list. */
function toGroupState(
  body: Record<string, unknown>,
): { state: GroupState; members: { value: string; display?: string }[] } {
  const { displayName, externalId, members, ...extra } = body;
  return {
    state: {
      displayName: String(displayName),
      externalId: typeof externalId === "string" && externalId !== "" ? externalId : undefined,
      extra,
    },
    members: Array.isArray(members) ? members as { value: string; display?: string }[] : [],
  };
}

groups.get("/", (c) => listGroups(c, listParamsFromQuery(c, c.get("deps").config.maxResults)));

groups.post("/.search", async (c) => {
  return await listGroups(
    c,
    listParamsFromSearch(await readJsonBody(c), c.get("deps").config.maxResults),
  );
});

groups.get("/:id", async (c) => {
  const { kv } = c.get("deps");
  const g = await getGroup(kv, c.get("tenant")!.id, c.get("idp").id, c.req.param("id"));
  if (!g) throw ScimError.notFound(`Group "${c.req.param("id")}" not found`);
  return await groupResponse(c, g);
});

groups.post("/", async (c) => {
  const { kv } = c.get("deps");
  const { state, members } = toGroupState(normalizeResource("Group", await readJsonBody(c)));
  const g = await createGroup(kv, changeContext(c), state, members);
  return await groupResponse(c, g, 201);
});

groups.put("/:id", async (c) => {
  const { kv } = c.get("deps");
  const { state, members } = toGroupState(normalizeResource("Group", await readJsonBody(c)));
  const g = await updateGroup(
    kv,
    changeContext(c),
    c.req.param("id"),
    (current) => ({ ...state, externalId: state.externalId ?? current.externalId }),
    [{ op: "replace", values: members.map((m) => m.value) }],
    memberDisplays(members),
    { ifMatch: ifMatchVersion(c.req.header("if-match")), how: "PUT" },
  );
  return await groupResponse(c, g);
});

groups.patch("/:id", async (c) => {
  const { kv } = c.get("deps");
  const id = c.req.param("id");
  const ops = parsePatchRequest(await readJsonBody(c));
  const { memberOps, otherOps } = extractMemberOperations(ops);
  const displays = new Map<string, string>();
  for (const op of ops) {
    for (const entry of Array.isArray(op.value) ? op.value : [op.value]) {
      const value = memberValue(entry);
      const display = memberDisplay(entry);
      if (value !== undefined && display !== undefined) displays.set(value, display);
    }
  }
  const g = await updateGroup(
    kv,
    changeContext(c),
    id,
    (current) => {
      if (!otherOps.length) return current;
      const before: Record<string, unknown> = {
        ...current.extra,
        displayName: current.displayName,
      };
      if (current.externalId !== undefined) before.externalId = current.externalId;
      const { resource } = applyPatch(before, otherOps, { resourceType: "Group", id });
      return toGroupState(normalizeResource("Group", resource)).state;
    },
    memberOps,
    displays,
    { ifMatch: ifMatchVersion(c.req.header("if-match")), how: "PATCH" },
  );
  // Entra recommends 204 for group PATCH (no member list); a projection asks for the body.
  if (c.req.query("attributes") || c.req.query("excludedAttributes")) {
    return await groupResponse(c, g);
  }
  return new Response(null, { status: 204, headers: { etag: etagOf(g.versionstamp) } });
});

groups.delete("/:id", async (c) => {
  const { kv } = c.get("deps");
  await deleteGroup(kv, changeContext(c), c.req.param("id"), {
    ifMatch: ifMatchVersion(c.req.header("if-match")),
  });
  return new Response(null, { status: 204 });
});
