/**
 * An IdP connection's SCIM request log in the console: what the IdP actually sent and what Weft
 * answered, for when a push "lands without expected attributes" or a PATCH is refused. The list
 * filters by errors, method and user; each request has a detail view with both bodies (secrets
 * redacted) and links to its user and events. Failed authentications come from the same log, with
 * their exact time, address, user agent and token.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { type AdminEnv, HttpError, page, parseInput, tenantOf } from "./_shared.tsx";
import { Badge, Empty, IdpText, Pager, Time } from "../../components/ui.tsx";
import { idpOf, IdpTabs } from "./_idp.tsx";
import {
  getRequestLog,
  listRequestLog,
  type RequestLogEntry,
} from "../../lib/store/request_log.ts";
import { idOfNamed } from "../../lib/store/user_list.ts";
import { AUTH_FAILURE_HELP, type AuthFailureReason } from "../../lib/auth/scim_auth.ts";

/** `/admin/idps/:id/requests…`. */
export const idpRequests = new Hono<AdminEnv>();

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** A status as a badge: errors stand out, with their scimType or authentication reason. */
export function StatusBadge({ e }: { e: RequestLogEntry }) {
  const tone = e.status >= 500 ? "bad" : e.status >= 400 ? "warn" : "ok";
  const why = e.authFailure ?? e.scimType;
  return <Badge tone={tone}>{why ? `${e.status} ${why}` : String(e.status)}</Badge>;
}

/** A request's path under the connection's base URL (`/Users/…`); another path in full. */
export function pathUnderBase(path: string, idpId: string): string {
  const base = `/scim/v2/inbound/${idpId}`;
  return path.startsWith(`${base}/`) || path.startsWith(`${base}?`) || path === base
    ? path.slice(base.length) || "/"
    : path;
}

/** A table of logged requests, each linking to its detail. */
export function RequestTable({ idpId, entries }: { idpId: string; entries: RequestLogEntry[] }) {
  return (
    <div class="table-scroll">
      <table class="table rows" id="requests">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Request</th>
            <th scope="col">Answer</th>
            <th scope="col">Took</th>
            <th scope="col">Token</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-status={e.status}>
              <td data-label="Time" class="nowrap">
                <a href={`/admin/idps/${idpId}/requests/${e.id}`}>
                  <Time iso={e.at} />
                </a>
              </td>
              <td data-label="Request">
                <code>{e.method}</code>{" "}
                <code class="path" title={e.path}>{pathUnderBase(e.path, idpId)}</code>
              </td>
              <td data-label="Answer">
                <StatusBadge e={e} />
              </td>
              <td data-label="Took" class="nowrap">{e.durationMs} ms</td>
              <td data-label="Token">
                {e.tokenName ? <IdpText value={e.tokenName} /> : <span class="muted">—</span>}
              </td>
              <td data-label="From" class="small">{e.clientIp}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Failed authentications, each at its exact time, with what to do. */
export function FailureTable({ idpId, entries }: { idpId: string; entries: RequestLogEntry[] }) {
  return (
    <div class="table-scroll">
      <table class="table rows" id="auth-failures">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Reason</th>
            <th scope="col">Token</th>
            <th scope="col">From</th>
            <th scope="col">What to do</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-reason={e.authFailure}>
              <td data-label="Time" class="nowrap">
                <a href={`/admin/idps/${idpId}/requests/${e.id}`}>
                  <Time iso={e.at} />
                </a>
              </td>
              <td data-label="Reason">
                <StatusBadge e={e} />
                {e.calledIdpId && (
                  <div class="small">
                    called <code>/scim/v2/inbound/{e.calledIdpId}/</code>
                  </div>
                )}
              </td>
              <td data-label="Token">
                {e.tokenName ? <IdpText value={e.tokenName} /> : <span class="muted">—</span>}
              </td>
              <td data-label="From" class="small">
                {e.clientIp}
                <div class="muted">
                  <IdpText value={e.userAgent} />
                </div>
              </td>
              <td data-label="What to do">
                {AUTH_FAILURE_HELP[e.authFailure as AuthFailureReason] ?? ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const Filters = z.object({
  errors: z.enum(["", "1"]).optional(),
  method: z.enum(["", ...METHODS]).optional(),
  user: z.string().trim().max(1024).optional(),
  cursor: z.string().max(2000).optional(),
});

function query(filters: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

async function userOf(c: Context<AdminEnv>, user: string | undefined) {
  if (!user) return undefined;
  return await idOfNamed(c.get("deps").kv, tenantOf(c).id, user) ?? user;
}

idpRequests.get("/:id/requests", async (c) => {
  const idp = await idpOf(c);
  const f = parseInput(Filters, c.req.query());
  const { entries, cursor } = await listRequestLog(c.get("deps").kv, tenantOf(c).id, idp.id, {
    errorsOnly: f.errors === "1",
    method: f.method || undefined,
    userId: await userOf(c, f.user),
    cursor: f.cursor,
  });
  const keep = { errors: f.errors, method: f.method, user: f.user };
  const base = `/admin/idps/${idp.id}/requests`;
  return page(
    c,
    { title: `${idp.name}: SCIM requests`, section: "idps" },
    (
      <>
        <IdpTabs idp={idp} current="scim" />
        <form method="get" action={base} class="filters" role="search">
          <label class="check">
            <input type="checkbox" name="errors" value="1" checked={f.errors === "1"} /> Errors only
          </label>
          <div class="field">
            <label for="method">Method</label>
            <select id="method" name="method">
              <option value="">Any</option>
              {METHODS.map((m) => <option key={m} value={m} selected={f.method === m}>{m}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="user">User (userName or id)</label>
            <input id="user" name="user" value={f.user ?? ""} maxLength={1024} />
          </div>
          <button type="submit" class="button">Filter</button>
        </form>
        {entries.length === 0
          ? <Empty>No request matches in the last days the log keeps.</Empty>
          : <RequestTable idpId={idp.id} entries={entries} />}
        <Pager
          label="Request pages"
          first={f.cursor ? `${base}${query(keep)}` : undefined}
          next={cursor ? `${base}${query({ ...keep, cursor })}` : undefined}
        />
      </>
    ),
  );
});

/** A logged body, pretty-printed when it is JSON, always as text. */
function Body({ text, bytes, label }: { text?: string; bytes: number; label: string }) {
  if (!text) return <p class="muted">No {label.toLowerCase()}.</p>;
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON (or cut at the cap): shown as received
  }
  return (
    <>
      <pre class="body" aria-label={label}>{shown}</pre>
      {bytes > text.length && (
        <p class="hint">Kept {text.length} of {bytes} bytes (the log keeps 64 KiB of each body).</p>
      )}
    </>
  );
}

idpRequests.get("/:id/requests/:log", async (c) => {
  const idp = await idpOf(c);
  const e = await getRequestLog(c.get("deps").kv, tenantOf(c).id, idp.id, c.req.param("log"));
  if (!e) throw new HttpError(404, "This request is not in the log (it keeps a few days)");
  return page(
    c,
    { title: `${e.method} ${e.path}`, section: "idps" },
    (
      <>
        <IdpTabs idp={idp} current="scim" />
        <dl class="details" id="request-detail">
          <dt>Time</dt>
          <dd>
            <Time iso={e.at} />
          </dd>
          <dt>Answer</dt>
          <dd>
            <StatusBadge e={e} /> in {e.durationMs} ms
            {e.authFailure && <p>{AUTH_FAILURE_HELP[e.authFailure as AuthFailureReason] ?? ""}</p>}
          </dd>
          {e.calledIdpId && (
            <>
              <dt>URL called</dt>
              <dd>
                the base URL of connection{" "}
                <code>{e.calledIdpId}</code>, with this connection's token
              </dd>
            </>
          )}
          <dt>Token</dt>
          <dd>{e.tokenName ? <IdpText value={e.tokenName} /> : "none recognised"}</dd>
          <dt>Client</dt>
          <dd>
            {e.clientIp} · <IdpText value={e.userAgent || "no user agent"} />
          </dd>
          <dt>Request id</dt>
          <dd>
            <code>{e.requestId}</code>
          </dd>
          {e.userId && (
            <>
              <dt>User</dt>
              <dd>
                <a href={`/admin/users/${encodeURIComponent(e.userId)}`}>
                  <code>{e.userId}</code>
                </a>{" "}
                · <a href={`/admin/users/${encodeURIComponent(e.userId)}/events`}>its events</a>
              </dd>
            </>
          )}
        </dl>
        <h2>Request body</h2>
        <Body text={e.requestBody} bytes={e.requestBytes} label="Request body" />
        <h2>Response body</h2>
        <Body text={e.responseBody} bytes={e.responseBytes} label="Response body" />
        <p>
          <a href={`/admin/idps/${idp.id}/requests`}>All requests of this connection</a>
        </p>
      </>
    ),
  );
});
