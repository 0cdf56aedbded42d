/**
 * `GET /roles` (scope `directory:read`): the tenant's roles with the IdP groups mapped to them.
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { NoQuery, RoleListSchema } from "../../lib/directory/schemas.ts";
import { requireScope } from "../../lib/http/api_auth.ts";
import { listRoles } from "../../lib/store/roles.ts";
import { apiApp, AUTH_ERRORS, BAD_REQUEST, BEARER } from "./_shared.ts";

/** The roles route. */
export const roles = apiApp();

roles.openapi(
  createRoute({
    method: "get",
    path: "/roles",
    tags: ["Roles"],
    summary: "List roles",
    description: "Scope: `directory:read`. " +
      "Every role of the tenant (a tenant has few), with the groups mapped to it. A user's " +
      "`roles` derive from these mappings and the user's memberships.",
    security: BEARER,
    middleware: requireScope("directory:read"),
    request: { query: NoQuery },
    responses: {
      200: {
        description: "The roles.",
        content: { "application/json": { schema: RoleListSchema } },
      },
      ...BAD_REQUEST,
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const data = await listRoles(c.get("deps").kv, c.get("tenant").id);
    return c.json({ object: "list" as const, data, next_cursor: null }, 200);
  },
);
