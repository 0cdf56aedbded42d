/**
 * `/Groups` (RFC 7644 §3.2–3.6): members are rows, read only when the response needs them.
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
  SCIM_CONTENT_TYPE,
  scimJson,
} from "../../lib/http/scim.ts";
import type { ListParams } from "../../lib/scim/list_params.ts";
import { normalizeResource } from "../../lib/scim/validate.ts";
import { project } from "../../lib/scim/projection.ts";
import {
  applyPatch,
  extractMemberOperations,
  parsePatchRequest,
} from "../../lib/scim/patch/mod.ts";
import { etagOf, renderGroup } from "../../lib/scim/resource.ts";
import { ScimError } from "../../lib/scim/errors.ts";
import {
  createGroup,
  deleteGroup,
  getGroup,
  type GroupState,
  updateGroup,
  type VersionedGroup,
} from "../../lib/store/groups.ts";
import { listMembers, memberBatches } from "../../lib/store/memberships.ts";
import { memberDisplays } from "../../lib/store/member_plan.ts";
import { query, type Source } from "../../lib/store/query.ts";
import { idpGroupSource } from "../../lib/store/sources.ts";
import { mentionsAttribute } from "../../lib/scim/filter/mentions.ts";
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
    /^(urn:ietf:params:scim:schemas:core:2\.0:group:)?members(\..*)?$/i.test(a.trim());
  const isAllMembers = (a: string) =>
    /^(urn:ietf:params:scim:schemas:core:2\.0:group:)?members$/i.test(a.trim());
  if (params.attributes?.length) return params.attributes.some(isMembers);
  // Excluding a sub-attribute (`members.display`) still returns the members.
  return !(params.excludedAttributes ?? []).some(isAllMembers);
}

async function membersOf(c: Context<ScimEnv>, groupId: string) {
  const { kv } = c.get("deps");
  const { members } = await listMembers(kv, c.get("tenant").id, groupId);
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
  const headers: Record<string, string> = { etag: etagOf(g.versionstamp) };
  if (status === 201) headers.location = location(c, g.group.id);
  let members: Awaited<ReturnType<typeof membersOf>> | undefined;
  if (wantsMembers(p)) {
    const streamed = await streamedGroup(c, g, p, status, headers);
    if (streamed instanceof Response) return streamed;
    // The stream read no member: the group has none (no second read).
    members = streamed === "empty" ? [] : await membersOf(c, g.group.id);
  }
  const body = project(
    renderGroup(g.group, g.versionstamp, location(c, g.group.id), members),
    "Group",
    p,
  );
  return scimJson(body, status, headers);
}

/** A member as rendered, with every sub-attribute present (to learn what a projection keeps). */
const MEMBER_PROBE = { value: "\u0000", display: "\u0000", $ref: "\u0000", type: "User" };
/** Stands for the members array in the rendered JSON until it is streamed in. */
const MEMBERS_MARK = `\u0000members-${crypto.randomUUID()}\u0000`;

/**
 * The group with its members streamed from KV into the body, so a large group is never held in
 * memory whole. The projection is learnt once on a probe member (it depends only on attribute
 * names). Null when the projection can drop whole members, `"empty"` when the group has none
 * (then the caller renders the small body in memory). Errors before the first byte propagate as
 * SCIM errors.
 */
async function streamedGroup(
  c: Context<ScimEnv>,
  g: VersionedGroup,
  p: { attributes?: string[]; excludedAttributes?: string[] },
  status: number,
  headers: Record<string, string>,
): Promise<Response | "empty" | null> {
  const probe = project(
    renderGroup(g.group, g.versionstamp, location(c, g.group.id), [MEMBER_PROBE as never]),
    "Group",
    p,
  );
  const kept = Array.isArray(probe.members) && probe.members.length === 1 &&
      typeof probe.members[0] === "object" && probe.members[0] !== null
    ? Object.keys(probe.members[0])
    : null;
  // Without value, $ref or type a member without display would vanish: render in memory.
  if (!kept || !kept.some((k) => k !== "display")) return null;
  const keepDisplay = kept.includes("display");
  const keepValue = kept.includes("value");
  const keepRef = kept.includes("$ref");
  const keepType = kept.includes("type");
  const { kv } = c.get("deps");
  const base = c.get("scimBase");
  const batches = memberBatches(kv, c.get("tenant").id, g.group.id);
  const first = await batches.next();
  if (first.done) return "empty";
  const render = (batch: { userId: string; display?: string }[]) =>
    batch.map((m) => {
      const out: Record<string, string> = {};
      if (keepValue) out.value = m.userId;
      if (keepDisplay && m.display !== undefined) out.display = m.display;
      if (keepRef) out.$ref = `${base}/Users/${m.userId}`;
      if (keepType) out.type = "User";
      return JSON.stringify(out);
    }).join(",");
  const [head, tail] = JSON.stringify({ ...probe, members: MEMBERS_MARK }).split(
    JSON.stringify(MEMBERS_MARK),
  );
  const encoder = new TextEncoder();
  let pending: string | null = `${head}[${render(first.value)}`;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== null) {
        controller.enqueue(encoder.encode(pending));
        pending = null;
        return;
      }
      const next = await batches.next();
      if (next.done) {
        controller.enqueue(encoder.encode(`]${tail}`));
        controller.close();
      } else controller.enqueue(encoder.encode(`,${render(next.value)}`));
    },
    async cancel() {
      await batches.return(undefined);
    },
  });
  return new Response(body, {
    status,
    headers: { "content-type": SCIM_CONTENT_TYPE, ...headers },
  });
}

/** Whether a filter mentions members (then candidates are evaluated with their members). */
/** A query source over this IdP's groups; `withMembers` collects members a filter needs. */
export function groupSource(
  c: Context<ScimEnv>,
  withMembers: Map<string, Record<string, unknown>[]> | null,
): Source<VersionedGroup> {
  const { kv } = c.get("deps");
  return idpGroupSource(kv, c.get("tenant").id, c.get("idp").id, {
    view: (g) =>
      renderGroup(
        g.group,
        g.versionstamp,
        location(c, g.group.id),
        withMembers?.get(g.group.id) as never,
      ),
    loaded: withMembers
      ? async (found) => {
        for (const g of found) withMembers.set(g.group.id, await membersOf(c, g.group.id));
      }
      : undefined,
  });
}

/** Runs a list query and renders the ListResponse. */
export async function listGroups(c: Context<ScimEnv>, params: ListParams): Promise<Response> {
  const { kv, config } = c.get("deps");
  const memberCache = params.filter && mentionsAttribute(params.filter, "members")
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
  const g = await getGroup(kv, c.get("tenant").id, c.get("idp").id, c.req.param("id"));
  if (!g) throw ScimError.notFound(`Group "${c.req.param("id")}" not found`);
  const inm = c.req.header("if-none-match");
  if (inm && ifMatchVersion(inm) === g.versionstamp) {
    return new Response(null, { status: 304, headers: { etag: etagOf(g.versionstamp) } });
  }
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
