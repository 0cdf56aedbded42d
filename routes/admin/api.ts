/**
 * JSON endpoints for the islands: mint a token (the modal), a page of events (the Event Log's
 * live filters), the mirroring job's progress. Same session, CSRF and role rules as the pages.
 * @module
 */
import { Hono } from "hono";
import { type AdminEnv, assertSuperAdmin, HttpError, signedIn, tenantOf } from "./_shared.tsx";
import { createToken, getIdp } from "../../lib/store/tenants.ts";
import { TokenName } from "./idps.tsx";
import { eventPage, parseEventParams, toEventQuery } from "./_events.ts";
import { resumeStalledJob } from "./mirroring.tsx";
import { deletionStatus } from "./idp_manage.tsx";

/** `/admin/api`. */
export const api = new Hono<AdminEnv>();

api.post("/idps/:id/tokens", async (c) => {
  assertSuperAdmin(c, "create SCIM tokens");
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const idp = await getIdp(kv, tenant.id, c.req.param("id"));
  if (!idp) throw new HttpError(404, "This identity provider does not exist");
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new HttpError(400, 'Send a JSON body: {"name": "…"}');
  }
  const parsed = TokenName.safeParse(body);
  if (!parsed.success) throw new HttpError(400, "Enter a name of 1–100 characters.");
  const { token, secret } = await createToken(kv, tenant.id, idp.id, {
    name: parsed.data.name,
    createdBy: signedIn(c).admin.email,
    requestId: c.get("requestId"),
  });
  c.header("cache-control", "no-store");
  return c.json({ token, secret }, 201);
});

api.get("/events", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const { filters, cursor } = parseEventParams(c.req.query());
  let query;
  try {
    query = await toEventQuery(kv, tenant.id, filters);
    return c.json(await eventPage(kv, tenant.id, query, cursor));
  } catch (error) {
    if (error instanceof RangeError) throw new HttpError(400, error.message);
    throw error;
  }
});

api.get("/idps/:id/deletion", async (c) => {
  const job = await deletionStatus(c, c.req.param("id"));
  if (!job) throw new HttpError(404, "This connection is not being deleted");
  return c.json(job);
});

api.get("/mirroring/job", async (c) => {
  const job = await resumeStalledJob(c);
  c.header("cache-control", "no-store");
  return c.json(job);
});
