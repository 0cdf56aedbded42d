/**
 * The directory API's OpenAPI 3.1 document, generated from the routes' zod schemas: the bearer
 * security scheme, every route with its parameters and responses (errors included).
 * @module
 */
import type { ApiApp } from "./_shared.ts";

/** The API's version, as the document states it. */
export const API_VERSION = "v1";

/** The document (without `servers`, which depend on the host called). */
export function describeApi(app: ApiApp): Record<string, unknown> {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description:
      "A tenant API key (`weft_api_…`) from Settings → API keys or `weft apikey create`.",
  });
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Weft directory API",
      version: API_VERSION,
      description:
        "Read the tenant's directory (users, groups, roles) and follow its events feed. " +
        'Every error is `{"error": {"code", "message"}}`; lists are ' +
        '`{"object": "list", "data", "next_cursor"}`.',
    },
    tags: [
      { name: "Users" },
      { name: "Groups" },
      { name: "Roles" },
      { name: "Events" },
      { name: "Meta" },
    ],
  });
  return JSON.parse(JSON.stringify(doc));
}
