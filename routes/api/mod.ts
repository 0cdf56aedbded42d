/**
 * The directory API, a sub-app mounted at `/api/v1` on the tenant's host: the OpenAPI document
 * (`GET /openapi.json`, without authentication), then API key authentication for everything else,
 * the users, groups, roles and events routes (each with the scope it needs), `405` for other methods of
 * a known path and `404` for any other path — every answer in the API's JSON format
 * (`lib/http/api_errors.ts`).
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { apiKeyAuthentication } from "../../lib/http/api_auth.ts";
import { ApiError, apiOnError } from "../../lib/http/api_errors.ts";
import { NoQuery } from "../../lib/directory/schemas.ts";
import { type ApiApp, apiApp, BAD_REQUEST } from "./_shared.ts";
import { users } from "./users.ts";
import { groups } from "./groups.ts";
import { events } from "./events.ts";
import { roles } from "./roles.ts";
import { API_VERSION, describeApi } from "./openapi.ts";

/** Paths the API serves (GET only), for telling `405` from `404`. */
const PATHS = [
  /^\/openapi\.json$/,
  /^\/users$/,
  /^\/users\/[^/]+$/,
  /^\/users\/[^/]+\/groups$/,
  /^\/groups$/,
  /^\/groups\/[^/]+$/,
  /^\/groups\/[^/]+\/members$/,
  /^\/roles$/,
  /^\/events$/,
];

/** Where the API is mounted. */
export const API_BASE = "/api/v1";

/** Builds the API sub-app. */
export function createApiApp(): ApiApp {
  const app = apiApp();
  app.onError((error, c) => apiOnError(error, c));

  let document: Record<string, unknown> | undefined;
  app.openapi(
    createRoute({
      method: "get",
      path: "/openapi.json",
      tags: ["Meta"],
      summary: "This API's OpenAPI 3.1 document",
      description: "Served without authentication.",
      request: { query: NoQuery },
      responses: {
        200: { description: "The OpenAPI document (JSON)." },
        ...BAD_REQUEST,
      },
    }),
    (c) => {
      document ??= describeApi(app);
      const body = { ...document, servers: [{ url: `${c.get("origin")}${API_BASE}` }] };
      return c.json(body, 200);
    },
  );

  app.use("*", apiKeyAuthentication());
  app.route("/", users);
  app.route("/", groups);
  app.route("/", roles);
  app.route("/", events);

  app.all("*", (c) => {
    const path = c.req.path.slice(API_BASE.length) || "/";
    if (PATHS.some((p) => p.test(path))) {
      throw new ApiError("method_not_allowed", `Only GET is served here (API ${API_VERSION})`, {
        allow: "GET, HEAD",
      });
    }
    throw new ApiError("not_found", "There is no API endpoint at this path");
  });
  return app;
}

let built: Record<string, unknown> | undefined;

/** The OpenAPI document (without `servers`), built once per process from a fresh API app. */
export function apiDocument(): Record<string, unknown> {
  built ??= describeApi(createApiApp());
  return built;
}
