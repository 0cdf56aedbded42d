/**
 * `GET /events` (scope `events:read`): the public feed in sequence order, after an event id.
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { EventListQuery, EventListSchema } from "../../lib/directory/schemas.ts";
import { requireScope } from "../../lib/http/api_auth.ts";
import { readFeed } from "../../lib/store/feed.ts";
import { apiApp, AUTH_ERRORS, BAD_REQUEST, BEARER } from "./_shared.ts";

/** The events route. */
export const events = apiApp();

events.openapi(
  createRoute({
    method: "get",
    path: "/events",
    tags: ["Events"],
    summary: "List events",
    description: "Scope: `events:read`. " +
      "Directory changes in the order they were committed, each exactly once: start without " +
      "`after`, then pass each page's `next_cursor` as `after`. An empty page means nothing " +
      "newer yet: keep the last `after` and ask again later. Events are kept 30 days.",
    security: BEARER,
    middleware: requireScope("events:read"),
    request: { query: EventListQuery },
    responses: {
      200: {
        description: "A page of events.",
        content: { "application/json": { schema: EventListSchema } },
      },
      ...BAD_REQUEST,
      ...AUTH_ERRORS,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await readFeed(c.get("deps").kv, c.get("tenant").id, {
      after: q.after,
      types: q.types,
      idpId: q.idp,
      limit: q.limit,
    });
    return c.json({ object: "list" as const, data: page.events, next_cursor: page.next }, 200);
  },
);
