/**
 * JSON endpoints for the islands: mint a token or an API key (the modal), a page of events (the Event Log's
 * live filters), the mirroring job's progress. Same session, CSRF and role rules as the pages.
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { latestEventId } from "../../lib/store/events.ts";
import { latestRequestLogId } from "../../lib/store/request_log.ts";
import { type AdminEnv, assertSuperAdmin, HttpError, signedIn, tenantOf } from "./_shared.tsx";
import { createToken, getIdp } from "../../lib/store/tenants.ts";
import { TokenName } from "./idps.tsx";
import { eventPage, parseEventParams, toEventQuery } from "./_events.ts";
import { resumeStalledJob } from "./mirroring.tsx";
import { deletionStatus } from "./idp_manage.tsx";
import { createKeyFor, NewApiKey } from "./api_keys.tsx";

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

api.post("/api-keys", async (c) => {
  assertSuperAdmin(c, "manage API keys");
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new HttpError(400, 'Send a JSON body: {"name": "…", "scopes": ["…"]}');
  }
  const parsed = NewApiKey.safeParse(body);
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? "input");
    throw new HttpError(
      400,
      field === "scopes"
        ? "Choose at least one scope."
        : field === "name"
        ? "Enter a name of 1–100 characters."
        : "Choose an expiry from the list.",
    );
  }
  const { key, secret } = await createKeyFor(c, parsed.data);
  c.header("cache-control", "no-store");
  return c.json({ key, secret }, 201);
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

/** How often a live stream looks for a newer event, and how long one stream lasts. */
const LIVE_POLL_MS = 1500;
const LIVE_FOR_MS = 10 * 60_000;

const LiveScope = z.object({
  idp: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  target: z.string().regex(/^[\w.@-]{1,128}$/).optional(),
});

/**
 * Server-sent events for a live page: `changed` (with the newest event id) whenever an event of
 * the scope lands, on every instance alike (the newest id is read from the store, one key). The
 * stream ends after a few minutes; the browser's EventSource reconnects by itself.
 */
api.get("/live", (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const q = LiveScope.safeParse(c.req.query());
  if (!q.success) {
    throw new HttpError(400, "Follow an IdP (idp=<id>) or a user or group (target=<id>)");
  }
  const scope = { idpId: q.data.idp, targetId: q.data.target };
  // An IdP's page also follows its request log: a read makes no event, but shows in the log.
  const latest = async () => {
    const [event, request] = await Promise.all([
      latestEventId(kv, tenant.id, scope),
      scope.idpId && !scope.targetId
        ? latestRequestLogId(kv, tenant.id, scope.idpId)
        : Promise.resolve(null),
    ]);
    return `${event ?? ""}/${request ?? ""}`;
  };
  const enc = new TextEncoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      let last = await latest();
      const started = Date.now();
      controller.enqueue(enc.encode(`retry: 3000\nevent: ready\ndata: ${last}\n\n`));
      const tick = async () => {
        try {
          if (Date.now() - started > LIVE_FOR_MS) return controller.close();
          const now = await latest();
          if (now !== last) {
            last = now;
            controller.enqueue(enc.encode(`event: changed\ndata: ${now}\n\n`));
          } else controller.enqueue(enc.encode(": keep-alive\n\n"));
          timer = setTimeout(tick, LIVE_POLL_MS);
        } catch {
          try {
            controller.close();
          } catch { /* closed */ }
        }
      };
      timer = setTimeout(tick, LIVE_POLL_MS);
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
});

api.get("/mirroring/job", async (c) => {
  const job = await resumeStalledJob(c);
  c.header("cache-control", "no-store");
  return c.json(job);
});
