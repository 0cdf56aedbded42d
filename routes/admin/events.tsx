/**
 * The Event Log: the filterable, paged list (an island over a plain GET form), each event's
 * detail, and exports as CSV or JSON Lines with the same filters.
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { type AdminEnv, HttpError, page, parseInput, tenantOf } from "./_shared.tsx";
import { IdpText, Time } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import EventLog, { EventTarget } from "../../islands/EventLog.tsx";
import { nameEvents } from "../../lib/store/event_names.ts";
import LiveUpdates from "../../islands/LiveUpdates.tsx";
import { type AuditEvent, EVENT_TYPES } from "../../lib/audit/events.ts";
import { getEvent, listEvents } from "../../lib/store/events.ts";
import { findRequestLog } from "../../lib/store/request_log.ts";
import { listIdps } from "../../lib/store/tenants.ts";
import { type EventPage, eventPage, parseEventParams, toEventQuery } from "./_events.ts";
import { actorLabel, eventLabel } from "../../islands/_format.ts";

/** `/admin/events`. */
export const events = new Hono<AdminEnv>();

events.get("/", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const idps = await listIdps(kv, tenant.id);
  let error: string | undefined;
  let filters = { idp: "", type: "", target: "", since: "", until: "" };
  let result: EventPage = { events: [], names: {} };
  let cursor: string | undefined;
  try {
    ({ filters, cursor } = parseEventParams(c.req.query()));
    result = await eventPage(kv, tenant.id, await toEventQuery(kv, tenant.id, filters), cursor);
  } catch (e) {
    if (!(e instanceof HttpError || e instanceof RangeError)) throw e;
    error = e.message;
  }
  return page(
    c,
    { title: "Event Log", section: "events", status: error ? 400 : 200 },
    (
      <>
        <Island name="LiveUpdates" component={LiveUpdates} props={{ stream: "/admin/api/live" }} />
        <Island
          name="EventLog"
          component={EventLog}
          props={{
            events: result.events,
            names: result.names,
            cursor: result.cursor,
            paged: !!cursor,
            filters,
            idps: idps.map((i) => ({ id: i.id, name: i.name })),
            types: EVENT_TYPES,
            error,
          }}
        />
      </>
    ),
  );
});

/** Most events one export writes. */
export const EXPORT_LIMIT = 100_000;

const CSV_COLUMNS = [
  "id",
  "at",
  "type",
  "idpId",
  "tokenId",
  "actor",
  "targetKind",
  "targetId",
  "changed",
  "counts",
  "summary",
  "requestId",
  "clientIp",
] as const;

/** One CSV cell: quoted, and defused against spreadsheet formula injection. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${safe.replaceAll('"', '""')}"`;
}

function csvRow(e: AuditEvent): string {
  const cells: Record<(typeof CSV_COLUMNS)[number], string> = {
    id: e.id,
    at: e.at,
    type: e.type,
    idpId: e.idpId ?? "",
    tokenId: e.tokenId ?? "",
    actor: e.actor,
    targetKind: e.target?.kind ?? "",
    targetId: e.target?.id ?? "",
    changed: e.changed?.join(" ") ?? "",
    counts: e.counts ? JSON.stringify(e.counts) : "",
    summary: e.summary,
    requestId: e.requestId ?? "",
    clientIp: e.clientIp ?? "",
  };
  return CSV_COLUMNS.map((k) => csvCell(cells[k])).join(",") + "\r\n";
}

const Format = z.object({ format: z.enum(["csv", "jsonl"]).default("csv") });

events.get("/export", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const { format } = parseInput(Format, { format: c.req.query("format") });
  const { filters } = parseEventParams(c.req.query());
  const query = await toEventQuery(kv, tenant.id, filters);
  const enc = new TextEncoder();
  let cursor: string | undefined;
  let written = 0;
  let started = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started && format === "csv") {
        controller.enqueue(enc.encode(CSV_COLUMNS.join(",") + "\r\n"));
      }
      started = true;
      const res = await listEvents(kv, tenant.id, { ...query, cursor, limit: 500 });
      const text = res.events.map((e) => format === "csv" ? csvRow(e) : JSON.stringify(e) + "\n")
        .join("");
      if (text) controller.enqueue(enc.encode(text));
      written += res.events.length;
      cursor = res.cursor;
      if (!cursor || written >= EXPORT_LIMIT) controller.close();
    },
  });
  const stamp = new Date().toISOString().replaceAll(":", "").slice(0, 15);
  return new Response(body, {
    headers: {
      "content-type": format === "csv"
        ? "text/csv; charset=utf-8"
        : "application/x-ndjson; charset=utf-8",
      "content-disposition":
        `attachment; filename="weft-events-${tenant.subdomain}-${stamp}.${format}"`,
      "cache-control": "no-store",
    },
  });
});

events.get("/:id", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const id = c.req.param("id");
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(id)) throw new HttpError(404, "No such event");
  const event = await getEvent(kv, tenant.id, id);
  if (!event) throw new HttpError(404, "No such event");
  const request = event.requestId ? await findRequestLog(kv, tenant.id, event.requestId) : null;
  const names = (await nameEvents(kv, tenant.id, [event]))[event.id] ?? {};
  return page(
    c,
    { title: eventLabel(event.type), section: "events" },
    (
      <>
        <dl class="details" id="event-detail">
          <dt>Time</dt>
          <dd>
            <Time iso={event.at} />
          </dd>
          <dt>Type</dt>
          <dd>
            <code>{event.type}</code>
          </dd>
          <dt>Summary</dt>
          <dd>{event.summary}</dd>
          <dt>IdP</dt>
          <dd>
            {event.idpId
              ? (
                <>
                  {names.idp
                    ? (
                      <a href={`/admin/idps/${event.idpId}`}>
                        <IdpText value={names.idp} />
                      </a>
                    )
                    : "deleted connection"} <code class="muted small">{event.idpId}</code>
                </>
              )
              : "—"}
          </dd>
          <dt>Target</dt>
          <dd>
            {event.target
              ? (
                <>
                  {event.target.kind} <EventTarget event={event} name={names.target} />{" "}
                  <code class="muted small">{event.target.id}</code>
                </>
              )
              : "—"}
          </dd>
          <dt>Changed attributes</dt>
          <dd>{event.changed?.length ? event.changed.join(", ") : "—"}</dd>
          <dt>Counts</dt>
          <dd>
            {event.counts
              ? Object.entries(event.counts).map(([k, v]) => `${k}: ${v}`).join(", ")
              : "—"}
          </dd>
          <dt>Actor</dt>
          <dd>
            <IdpText value={actorLabel(event.actor, names.token)} />{" "}
            <code class="muted small">{event.actor}</code>
          </dd>
          <dt>Token</dt>
          <dd>
            {event.tokenId
              ? (
                <>
                  {names.token ? <IdpText value={names.token} /> : "revoked or deleted token"}{" "}
                  <code class="muted small">{event.tokenId}</code>
                </>
              )
              : "—"}
          </dd>
          <dt>Request id</dt>
          <dd>
            {event.requestId ? <code>{event.requestId}</code> : "—"}
            {request && (
              <>
                {" "}·{" "}
                <a href={`/admin/idps/${request.idpId}/requests/${request.logId}`}>
                  the SCIM request (what was sent and answered)
                </a>
              </>
            )}
          </dd>
          <dt>Client address</dt>
          <dd>{event.clientIp ?? "—"}</dd>
          <dt>Event id</dt>
          <dd>
            <code>{event.id}</code>
          </dd>
        </dl>
        <p>
          <a href="/admin/events">← Back to the Event Log</a>
        </p>
      </>
    ),
  );
});
