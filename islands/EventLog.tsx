/**
 * The Event Log: filters (IdP, type, user or group, time range) that rewrite the URL, so a
 * filtered view is shareable and the back button returns to the previous one; paging with
 * cursors; links to each event's detail and to the export. Without JavaScript the filters are a
 * plain GET form and the pager plain links.
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { AuditEvent } from "../lib/audit/events.ts";
import type { EventNames } from "../lib/store/event_names.ts";
import { actorLabel, eventLabel, formatTime } from "./_format.ts";
import { IdpText } from "../components/ui.tsx";

/** The filter fields, as they appear in the URL. */
export interface EventFilters {
  idp: string;
  type: string;
  target: string;
  since: string;
  until: string;
}

/** Props of {@linkcode EventLog}. */
export interface EventLogProps {
  events: AuditEvent[];
  /** What to show in place of ids, by event id. */
  names: Record<string, EventNames>;
  cursor?: string;
  /** Whether this page is past the first (a cursor is in the URL). */
  paged: boolean;
  filters: EventFilters;
  idps: { id: string; name: string }[];
  types: readonly string[];
  /** Shown instead of the table when the filters were refused (e.g. a bad time). */
  error?: string;
}

const FIELDS = ["idp", "type", "target", "since", "until"] as const;

/** The query string of a set of filters (and a cursor). */
export function filterQuery(f: EventFilters, cursor?: string): string {
  const p = new URLSearchParams();
  for (const k of FIELDS) if (f[k]) p.set(k, f[k]);
  if (cursor) p.set("cursor", cursor);
  const s = p.toString();
  return s ? `?${s}` : "";
}

function readLocation(): { filters: EventFilters; cursor?: string } {
  const p = new URLSearchParams(location.search);
  const filters = Object.fromEntries(
    FIELDS.map((k) => [k, p.get(k) ?? ""]),
  ) as unknown as EventFilters;
  return { filters, cursor: p.get("cursor") ?? undefined };
}

/** The Event Log table with its filters. */
export default function EventLog(props: EventLogProps) {
  const [filters, setFilters] = useState<EventFilters>(props.filters);
  const [data, setData] = useState({
    events: props.events,
    names: props.names,
    cursor: props.cursor,
    paged: props.paged,
    error: props.error,
  });
  const [busy, setBusy] = useState(false);
  // The load in flight: a newer one aborts it, so a slow answer to an older filter never
  // replaces the table of the filter the URL now shows.
  const inFlight = useRef<AbortController | null>(null);

  async function load(f: EventFilters, cursor: string | undefined, push: boolean) {
    inFlight.current?.abort();
    const ctl = new AbortController();
    inFlight.current = ctl;
    setBusy(true);
    const qs = filterQuery(f, cursor);
    if (push) history.pushState(null, "", `/admin/events${qs}`);
    try {
      const res = await fetch(`/admin/api/events${qs}`, {
        headers: { accept: "application/json" },
        signal: ctl.signal,
      });
      const body = await res.json() as {
        events?: AuditEvent[];
        names?: Record<string, EventNames>;
        cursor?: string;
        error?: string;
      };
      if (ctl.signal.aborted) return;
      setData({
        events: body.events ?? [],
        names: body.names ?? {},
        cursor: body.cursor,
        paged: !!cursor,
        error: res.ok ? undefined : body.error ?? `Error ${res.status}`,
      });
    } catch {
      if (ctl.signal.aborted) return;
      setData((d) => ({ ...d, error: "Weft could not be reached. Try again." }));
    } finally {
      if (inFlight.current === ctl) {
        inFlight.current = null;
        setBusy(false);
      }
    }
  }

  // New events (LiveUpdates): the first page follows them; a later page stays where it is.
  useEffect(() => {
    const onLive = () => {
      const { filters: f, cursor } = readLocation();
      if (!cursor) load(f, undefined, false);
    };
    addEventListener("weft:live", onLive);
    return () => removeEventListener("weft:live", onLive);
  }, []);

  useEffect(() => {
    const onPop = () => {
      const { filters: f, cursor } = readLocation();
      setFilters(f);
      load(f, cursor, false);
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  function change(name: keyof EventFilters, value: string, apply: boolean) {
    const next = { ...filters, [name]: value };
    setFilters(next);
    if (apply) load(next, undefined, true);
  }

  const field = (name: keyof EventFilters) => ({
    id: `filter-${name}`,
    name,
    value: filters[name],
  });
  const qs = filterQuery(filters);
  const exportQs = qs ? `${qs}&` : "?";

  return (
    <div>
      <form
        method="get"
        action="/admin/events"
        class="filters"
        role="search"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault();
          load(filters, undefined, true);
        }}
      >
        <div class="field">
          <label for="filter-idp">Identity provider</label>
          <select
            {...field("idp")}
            onChange={(e) => change("idp", (e.target as HTMLSelectElement).value, true)}
          >
            <option value="">All</option>
            {props.idps.map((i) => <option key={i.id} value={i.id}>{i.name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="filter-type">Event type</label>
          <select
            {...field("type")}
            onChange={(e) => change("type", (e.target as HTMLSelectElement).value, true)}
          >
            <option value="">All</option>
            {props.types.map((t) => <option key={t} value={t}>{eventLabel(t)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="filter-target">User or group</label>
          <input
            {...field("target")}
            type="search"
            placeholder="userName, email, externalId or id"
            onInput={(e) => change("target", (e.target as HTMLInputElement).value, false)}
          />
        </div>
        <div class="field">
          <label for="filter-since">From (UTC)</label>
          <input
            {...field("since")}
            type="datetime-local"
            onChange={(e) => change("since", (e.target as HTMLInputElement).value, true)}
          />
        </div>
        <div class="field">
          <label for="filter-until">Until (UTC)</label>
          <input
            {...field("until")}
            type="datetime-local"
            onChange={(e) => change("until", (e.target as HTMLInputElement).value, true)}
          />
        </div>
        <div class="field buttons">
          <button type="submit" class="button primary">Apply</button>
          <a class="button" href="/admin/events">Clear</a>
        </div>
      </form>
      <p class="toolbar">
        <span aria-live="polite" class="muted">{busy ? "Loading…" : ""}</span>
        <span>
          Export: <a href={`/admin/events/export${exportQs}format=csv`}>CSV</a>
          {" · "}
          <a href={`/admin/events/export${exportQs}format=jsonl`}>JSON Lines</a>
        </span>
      </p>
      {data.error
        ? <p class="error" role="alert">{data.error}</p>
        : data.events.length === 0
        ? <p class="empty">No events match these filters.</p>
        : (
          <div class="table-scroll">
            <table class="table rows" aria-busy={busy ? "true" : "false"}>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Type</th>
                  <th scope="col">IdP</th>
                  <th scope="col">Target</th>
                  <th scope="col">Summary</th>
                  <th scope="col">Actor</th>
                </tr>
              </thead>
              <tbody>
                {data.events.map((e) => {
                  const names = data.names[e.id] ?? {};
                  return (
                    <tr key={e.id} data-event-type={e.type}>
                      <td data-label="Time" class="nowrap">
                        <a href={`/admin/events/${e.id}`}>{formatTime(e.at)}</a>
                      </td>
                      <td data-label="Type">
                        <span class={`badge type-${e.type.split("_")[1] ?? "other"}`}>
                          {eventLabel(e.type)}
                        </span>
                      </td>
                      <td data-label="IdP">{names.idp ? <IdpText value={names.idp} /> : "—"}</td>
                      <td data-label="Target">
                        <EventTarget event={e} name={names.target} />
                      </td>
                      <td data-label="Summary">{e.summary}</td>
                      <td data-label="Actor" class="muted">
                        <IdpText value={actorLabel(e.actor, names.token)} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      <nav class="pager" aria-label="Event pages">
        {data.paged && (
          <a
            href={`/admin/events${qs}`}
            onClick={(ev) => {
              ev.preventDefault();
              load(filters, undefined, true);
            }}
          >
            ← Newest
          </a>
        )}
        {data.cursor && (
          <a
            href={`/admin/events${filterQuery(filters, data.cursor)}`}
            rel="next"
            onClick={(ev) => {
              ev.preventDefault();
              load(filters, data.cursor, true);
            }}
          >
            Older →
          </a>
        )}
      </nav>
    </div>
  );
}

/** An event's target: its name (or kind and short id), linked to its page where it has one. */
export function EventTarget({ event, name }: { event: AuditEvent; name?: string }) {
  const t = event.target;
  if (!t) return <>—</>;
  const label = name ? <IdpText value={name} /> : <>{`${t.kind} ${t.id.slice(0, 8)}`}</>;
  const href = t.kind === "user"
    ? `/admin/users/${t.id}`
    : t.kind === "group" && event.idpId
    ? `/admin/groups/${event.idpId}/${t.id}`
    : t.kind === "idp"
    ? `/admin/idps/${t.id}`
    : t.kind === "admin"
    ? "/admin/admins"
    : undefined;
  return href ? <a href={href}>{label}</a> : label;
}
