/**
 * `GET /users`, `GET /users/{id}`, `GET /users/{id}/groups` (scope `directory:read`).
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import {
  GroupListSchema,
  IdParam,
  PageQuery,
  UserListQuery,
  UserListSchema,
  UserSchema,
} from "../../lib/directory/schemas.ts";
import { requireScope } from "../../lib/http/api_auth.ts";
import { isServed, listApiUsers } from "../../lib/store/api_user_list.ts";
import { listApiUserGroups } from "../../lib/store/api_group_list.ts";
import { loadApiUser } from "../../lib/store/api_views.ts";
import { apiApp, AUTH_ERRORS, BAD_REQUEST, BEARER, found, NOT_FOUND } from "./_shared.ts";

/** The users routes. */
export const users = apiApp();

const directory = requireScope("directory:read");

users.openapi(
  createRoute({
    method: "get",
    path: "/users",
    tags: ["Users"],
    summary: "List users",
    description: "Scope: `directory:read`. " +
      "Users of the tenant in id order, filtered. `userName` and `email` are index lookups; " +
      "`group` reads one page of the group's member rows; other filters apply to what is read, " +
      "so a page may hold fewer than `limit` users: page until `next_cursor` is null.",
    security: BEARER,
    middleware: directory,
    request: { query: UserListQuery },
    responses: {
      200: {
        description: "A page of users.",
        content: { "application/json": { schema: UserListSchema } },
      },
      ...BAD_REQUEST,
      ...NOT_FOUND("the IdP connection (`idp`) or group (`group`) does not exist."),
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listApiUsers(c.get("deps").kv, c.get("tenant").id, {
      idpId: q.idp,
      state: q.state,
      email: q.email,
      userName: q.userName,
      groupId: q.group,
      cursor: q.cursor,
      limit: q.limit,
    });
    return c.json({ object: "list" as const, ...page }, 200);
  },
);

users.openapi(
  createRoute({
    method: "get",
    path: "/users/{id}",
    tags: ["Users"],
    summary: "Retrieve a user",
    description: "Scope: `directory:read`.",
    security: BEARER,
    middleware: directory,
    request: { params: IdParam },
    responses: {
      200: { description: "The user.", content: { "application/json": { schema: UserSchema } } },
      ...BAD_REQUEST,
      ...NOT_FOUND("no user has this id (or its IdP deleted it: `user.deleted`)."),
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const user = await loadApiUser(c.get("deps").kv, c.get("tenant").id, id);
    return c.json(found(user && isServed(user) ? user : null, "user"), 200);
  },
);

users.openapi(
  createRoute({
    method: "get",
    path: "/users/{id}/groups",
    tags: ["Users"],
    summary: "List a user's groups",
    description: "Scope: `directory:read`.",
    security: BEARER,
    middleware: directory,
    request: { params: IdParam, query: PageQuery },
    responses: {
      200: {
        description: "A page of the groups the user belongs to.",
        content: { "application/json": { schema: GroupListSchema } },
      },
      ...BAD_REQUEST,
      ...NOT_FOUND("no user has this id (or its IdP deleted it: `user.deleted`)."),
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const { kv } = c.get("deps");
    const tenantId = c.get("tenant").id;
    const user = await loadApiUser(kv, tenantId, id);
    found(user && isServed(user) ? user : null, "user");
    const page = await listApiUserGroups(kv, tenantId, id, q);
    return c.json({ object: "list" as const, ...page }, 200);
  },
);
