/**
 * The SCIM sub-app, mounted per IdP at `/scim/v2/inbound/:idp`: bearer authentication scoped to
 * the tenant and IdP (`lib/http/scim_auth.ts`), and one error handler that always answers in the
 * RFC 7644 §3.12 error schema (`lib/http/scim_errors.ts`). The body limit is the root app's.
 * @module
 */
import { Hono } from "hono";
import type { ScimEnv } from "../../lib/http/env.ts";
import { ScimError } from "../../lib/scim/errors.ts";
import { scimErrorResponse } from "../../lib/http/scim.ts";
import { scimAuthentication } from "../../lib/http/scim_auth.ts";
import { scimRequestLog } from "../../lib/http/scim_request_log.ts";
import { scimOnError } from "../../lib/http/scim_errors.ts";
import { users } from "./users.ts";
import { groups } from "./groups.ts";
import { discovery } from "./discovery.ts";
import { search } from "./search.ts";

/** Builds the SCIM sub-app. */
export function createScimApp(requestLogDays: number): Hono<ScimEnv> {
  const app = new Hono<ScimEnv>();
  app.onError((error, c) => scimOnError(error, c));

  app.use("*", scimRequestLog(requestLogDays));
  app.use("*", scimAuthentication());

  app.route("/", discovery);
  app.route("/Users", users);
  app.route("/Groups", groups);
  app.route("/", search);
  // Last: anything else under a valid base URL (a sub-app's notFound is not used when mounted).
  app.all("*", (c) =>
    scimErrorResponse(
      ScimError.notFound(`No SCIM endpoint at "${new URL(c.req.url).pathname}"`),
    ));
  return app;
}
