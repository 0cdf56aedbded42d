/**
 * `GET /groups`, `GET /groups/{id}`, `GET /groups/{id}/members` (scope `directory:read`).
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import {
  GroupListQuery,
  GroupListSchema,
  GroupSchema,
  IdParam,
  PageQuery,
  UserListSchema,
} from "../../lib/directory/schemas.ts";
import { requireScope } from "../../lib/http/api_auth.ts";
import { findApiGroup, listApiGroups } from "../../lib/store/api_group_list.ts";
import { listApiGroupMembers } from "../../lib/store/api_user_list.ts";
import { apiApp, AUTH_ERRORS, BAD_REQUEST, BEARER, found, NOT_FOUND } from "./_shared.ts";

/** The groups routes. */
export const groups = apiApp();

const directory = requireScope("directory:read");

groups.openapi(
  createRoute({
    method: "get",
    path: "/groups",
    tags: ["Groups"],
    summary: "List groups",
    description: "Scope: `directory:read`. " +
      "Groups of the tenant, IdP by IdP in id order. `name` is an exact, case-insensitive " +
      "lookup (names are unique per IdP).",
    security: BEARER,
    middleware: directory,
    request: { query: GroupListQuery },
    responses: {
      200: {
        description: "A page of groups.",
        content: { "application/json": { schema: GroupListSchema } },
      },
      ...BAD_REQUEST,
      ...NOT_FOUND("the IdP connection (`idp`) does not exist."),
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listApiGroups(c.get("deps").kv, c.get("tenant").id, {
      idpId: q.idp,
      name: q.name,
      cursor: q.cursor,
      limit: q.limit,
    });
    return c.json({ object: "list" as const, ...page }, 200);
  },
);

groups.openapi(
  createRoute({
    method: "get",
    path: "/groups/{id}",
    tags: ["Groups"],
    summary: "Retrieve a group",
    description: "Scope: `directory:read`.",
    security: BEARER,
    middleware: directory,
    request: { params: IdParam },
    responses: {
      200: { description: "The group.", content: { "application/json": { schema: GroupSchema } } },
      ...BAD_REQUEST,
      ...NOT_FOUND("no group has this id."),
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const group = await findApiGroup(c.get("deps").kv, c.get("tenant").id, id);
    return c.json(found(group, "group"), 200);
  },
);

groups.openapi(
  createRoute({
    method: "get",
    path: "/groups/{id}/members",
    tags: ["Groups"],
    summary: "List a group's members",
    description: "Scope: `directory:read`. " +
      "One page of the group's member rows is read per request, whatever its size.",
    security: BEARER,
    middleware: directory,
    request: { params: IdParam, query: PageQuery },
    responses: {
      200: {
        description: "A page of the group's members, in user id order.",
        content: { "application/json": { schema: UserListSchema } },
      },
      ...BAD_REQUEST,
      ...NOT_FOUND("no group has this id."),
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const { kv } = c.get("deps");
    const tenantId = c.get("tenant").id;
    // Reading the group first completes a pending large membership change.
    found(await findApiGroup(kv, tenantId, id), "group");
    const page = await listApiGroupMembers(kv, tenantId, id, q);
    return c.json({ object: "list" as const, ...page }, 200);
  },
);
