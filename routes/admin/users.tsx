/**
 * Users: the list (search by userName or email prefix, status and IdP filters, cursor paging)
 * and the user's page with tabs: Profile (canonical fields and where each is mirrored from),
 * IdP Attributes (everything each IdP sent), Groups and Events.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import {
  actorOf,
  type AdminEnv,
  assertSuperAdmin,
  canManage,
  FLASH,
  HttpError,
  page,
  parseInput,
  readForm,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Badge, Csrf, Empty, IdpText, Notice, Pager, Tabs, Time } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import ConfirmForm from "../../islands/ConfirmForm.tsx";
import LiveUpdates from "../../islands/LiveUpdates.tsx";
import { listPersonSessions, revokePersonSessions } from "../../lib/store/person_sessions.ts";
import { listIdps } from "../../lib/store/tenants.ts";
import { getUser } from "../../lib/store/users.ts";
import { CORE_FIELDS } from "../../lib/store/mirroring.ts";
import { selectValues } from "../../lib/scim/filter/select.ts";
import {
  groupsOfUser,
  idpRowsOfUser,
  listDirectoryUsers,
  type UserListQuery,
} from "../../lib/store/user_list.ts";
import { listEvents } from "../../lib/store/events.ts";
import { nameEvents } from "../../lib/store/event_names.ts";
import type { Idp, IdpUser, User } from "../../lib/store/types.ts";
import { actorLabel, eventLabel } from "../../islands/_format.ts";

/** `/admin/users`. */
export const users = new Hono<AdminEnv>();

const ListQuery = z.object({
  q: z.string().max(200).optional(),
  status: z.enum(["", "active", "deactivated"]).optional(),
  idp: z.string().max(64).optional(),
  cursor: z.string().max(2000).optional(),
});

function query(params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

function StatusBadge({ status }: { status: User["status"] }) {
  return status === "active"
    ? <Badge tone="ok">active</Badge>
    : <Badge tone="warn">deactivated</Badge>;
}

users.get("/", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const f = parseInput(ListQuery, c.req.query());
  const idps = await listIdps(kv, tenant.id);
  const q: UserListQuery = {
    q: f.q,
    status: f.status || undefined,
    idpId: f.idp || undefined,
    cursor: f.cursor,
  };
  const result = await listDirectoryUsers(kv, tenant.id, q);
  const names = new Map(idps.map((i) => [i.id, i.name]));
  const keep = { q: f.q, status: f.status, idp: f.idp };
  return page(
    c,
    { title: "Users", section: "users" },
    (
      <>
        <form
          method="get"
          action="/admin/users"
          class="filters"
          role="search"
          aria-label="Find users"
        >
          <div class="field grow">
            <label for="q">Search</label>
            <input
              id="q"
              name="q"
              type="search"
              value={f.q}
              placeholder="userName, email or externalId starts with…"
            />
          </div>
          <div class="field">
            <label for="status">Status</label>
            <select id="status" name="status">
              <option value="">Any</option>
              <option value="active" selected={f.status === "active"}>Active</option>
              <option value="deactivated" selected={f.status === "deactivated"}>Deactivated</option>
            </select>
          </div>
          <div class="field">
            <label for="idp">Identity provider</label>
            <select id="idp" name="idp">
              <option value="">Any</option>
              {idps.map((i) => (
                <option key={i.id} value={i.id} selected={f.idp === i.id}>{i.name}</option>
              ))}
            </select>
          </div>
          <div class="field buttons">
            <button type="submit" class="button primary">Search</button>
          </div>
        </form>
        {result.users.length === 0
          ? (
            <Empty>
              {result.partial ? "No match in this stretch of the directory." : "No users match."}
            </Empty>
          )
          : (
            <div class="table-scroll">
              <table class="table rows" id="users">
                <thead>
                  <tr>
                    <th scope="col">userName</th>
                    <th scope="col">Name</th>
                    <th scope="col">Email</th>
                    <th scope="col">Status</th>
                    <th scope="col">Source IdP</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {result.users.map((u) => (
                    <tr key={u.id}>
                      <td data-label="userName">
                        <a href={`/admin/users/${u.id}`}>
                          <IdpText value={u.userName} />
                        </a>
                      </td>
                      <td data-label="Name">
                        <IdpText
                          value={u.displayName ??
                            [u.firstName, u.lastName].filter(Boolean).join(" ")}
                        />
                      </td>
                      <td data-label="Email">{u.email ? <IdpText value={u.email} /> : "—"}</td>
                      <td data-label="Status">
                        <StatusBadge status={u.status} />
                      </td>
                      <td data-label="Source IdP">{names.get(u.sourceIdpId) ?? u.sourceIdpId}</td>
                      <td data-label="Updated">
                        <Time iso={u.updatedAt} relative />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        {result.partial && (
          <p class="muted">
            Only part of the directory was examined for this page: continue below.
          </p>
        )}
        <Pager
          label="User pages"
          first={f.cursor ? `/admin/users${query(keep)}` : undefined}
          next={result.cursor
            ? `/admin/users${query({ ...keep, cursor: result.cursor })}`
            : undefined}
        />
      </>
    ),
  );
});

async function userOf(c: Context<AdminEnv>): Promise<{ user: User; idps: Idp[] }> {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const user = await getUser(kv, tenant.id, c.req.param("id") ?? "");
  if (!user) throw new HttpError(404, "This user does not exist in this tenant");
  return { user, idps: await listIdps(kv, tenant.id) };
}

function UserTabs({ user, current }: { user: User; current: string }) {
  const base = `/admin/users/${user.id}`;
  return (
    <>
      <Island
        name="LiveUpdates"
        component={LiveUpdates}
        props={{ stream: `/admin/api/live?target=${encodeURIComponent(user.id)}` }}
      />
      <Tabs
        label="User sections"
        current={current}
        tabs={[
          { id: "profile", href: base, label: "Profile" },
          { id: "attributes", href: `${base}/attributes`, label: "IdP Attributes" },
          { id: "groups", href: `${base}/groups`, label: "Groups" },
          { id: "events", href: `${base}/events`, label: "Events" },
        ]}
      />
    </>
  );
}

function userTitle(user: User): string {
  return user.displayName || user.userName || user.id;
}

users.get("/:id", async (c) => {
  const { user, idps } = await userOf(c);
  const source = idps.find((i) => i.id === user.sourceIdpId);
  const sessions = await listPersonSessions(c.get("deps").kv, tenantOf(c).id, user.id);
  const flash = FLASH[c.req.query("done") ?? ""];
  const fields: [string, string | undefined][] = [
    ...CORE_FIELDS.map((f) => [f, user[f]] as [string, string | undefined]),
    ...Object.entries(user.custom),
  ];
  return page(
    c,
    { title: userTitle(user), section: "users" },
    (
      <>
        <UserTabs user={user} current="profile" />
        <div data-live="user-profile">
          {flash && <Notice tone="ok">{flash}</Notice>}
          <p>
            <StatusBadge status={user.status} /> Source IdP:{" "}
            {source ? <a href={`/admin/idps/${source.id}`}>{source.name}</a> : user.sourceIdpId}
          </p>
          <div class="table-scroll">
            <table class="table" id="profile">
              <caption>Canonical fields</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Value</th>
                  <th scope="col">Mirrored from</th>
                </tr>
              </thead>
              <tbody>
                {fields.map(([name, value]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>
                      {value !== undefined
                        ? <IdpText value={value} />
                        : <span class="muted">—</span>}
                    </td>
                    <td>
                      {user.mirroredFrom[name]
                        ? (
                          <>
                            <code>{user.mirroredFrom[name]}</code>{" "}
                            <span class="muted">({source?.name ?? user.sourceIdpId})</span>
                          </>
                        )
                        : <span class="muted">not mirrored</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <dl class="details">
            <dt>Weft id (SCIM id)</dt>
            <dd>
              <code>{user.id}</code>
            </dd>
            <dt>Created</dt>
            <dd>
              <Time iso={user.createdAt} />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time iso={user.updatedAt} relative />
            </dd>
          </dl>
          <section aria-labelledby="sessions-h" id="person-sessions">
            <h2 id="sessions-h">Sign-in sessions</h2>
            {sessions.length === 0 ? <Empty>No open sign-in session.</Empty> : (
              <p>
                {sessions.length} open, the latest since{" "}
                <Time iso={sessions[0].createdAt} relative />{" "}
                <span class="muted">from {sessions[0].ip}</span>
              </p>
            )}
            {sessions.length > 0 && canManage(c) && (
              <Island
                name="ConfirmForm"
                component={ConfirmForm}
                props={{
                  action: `/admin/users/${user.id}/revoke-sessions`,
                  csrf: signedIn(c).session.csrf,
                  label: "End sign-in sessions",
                  title: `End ${userTitle(user)}'s sign-in sessions?`,
                  message:
                    "The person is signed out everywhere at once. They can sign in again while their IdP allows it.",
                  danger: true,
                }}
              />
            )}
          </section>
        </div>
      </>
    ),
  );
});

users.post("/:id/revoke-sessions", async (c) => {
  assertSuperAdmin(c, "end people's sign-in sessions");
  const { user } = await userOf(c);
  const form = await readForm(c);
  if (form.confirmed !== "yes") {
    return page(
      c,
      { title: `End ${userTitle(user)}'s sign-in sessions?`, section: "users" },
      (
        <form method="post" action={c.req.path} class="card stack narrow">
          <Csrf token={signedIn(c).session.csrf} />
          <input type="hidden" name="confirmed" value="yes" />
          <p>The person is signed out everywhere at once.</p>
          <div class="actions">
            <a class="button" href={`/admin/users/${user.id}`}>Cancel</a>
            <button type="submit" class="button danger">End sessions</button>
          </div>
        </form>
      ),
    );
  }
  await revokePersonSessions(c.get("deps").kv, {
    tenantId: tenantOf(c).id,
    actor: actorOf(c),
    requestId: c.get("requestId"),
    clientIp: c.get("clientIp"),
  }, user.id);
  return seeOther(`/admin/users/${user.id}?done=person-sessions-revoked`);
});

/** Every leaf of a SCIM resource as `[path, value]` rows. */
export function flattenResource(value: unknown, path = "", depth = 0): [string, string][] {
  if (value === null || value === undefined) return [[path, String(value)]];
  if (Array.isArray(value)) {
    if (value.length === 0) return [[path, "[]"]];
    return value.flatMap((v, i) => flattenResource(v, `${path}[${i}]`, depth + 1));
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [[path, "{}"]];
    // An extension's attributes follow its URN after a colon (RFC 7644 §3.10), the form mirroring
    // rules use: `urn:…:User:department`, then dots below.
    const sep = depth === 1 && /^urn:/i.test(path) ? ":" : ".";
    return entries.flatMap(([k, v]) =>
      flattenResource(v, path ? `${path}${sep}${k}` : k, depth + 1)
    );
  }
  return [[path, String(value)]];
}

/** The attribute a leaf path or source path starts with (an extension's URN counts as one). */
function topOf(path: string): string {
  const p = path.toLowerCase();
  if (!p.startsWith("urn:")) return p.split(/[.[]/)[0];
  const i = p.lastIndexOf(":");
  return `${p.slice(0, i)}:${p.slice(i + 1).split(/[.[]/)[0]}`;
}

/** For the source IdP's row: which leaves fed which canonical field. */
function mirroredLeaves(user: User, link: IdpUser): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (link.idpId !== user.sourceIdpId) return out;
  const leaves = flattenResource(link.resource);
  for (const [field, source] of Object.entries(user.mirroredFrom)) {
    const value = (CORE_FIELDS as readonly string[]).includes(field)
      ? (user as unknown as Record<string, string | undefined>)[field]
      : user.custom[field];
    if (value === undefined) continue;
    if (source.toLowerCase() === "externalid") {
      out.set("externalId", [...(out.get("externalId") ?? []), field]);
      continue;
    }
    // The leaf holding the mirrored value under the source's attribute.
    const values = selectValues(link.resource, source, "User").map(String);
    if (!values.includes(value)) continue;
    const top = topOf(source);
    const leaf = leaves.find(([p, v]) => v === value && topOf(p) === top);
    if (leaf) out.set(leaf[0], [...(out.get(leaf[0]) ?? []), field]);
  }
  return out;
}

users.get("/:id/attributes", async (c) => {
  const { user, idps } = await userOf(c);
  const rows = await idpRowsOfUser(c.get("deps").kv, tenantOf(c).id, user.id, idps);
  return page(
    c,
    { title: userTitle(user), section: "users" },
    (
      <>
        <UserTabs user={user} current="attributes" />
        <div data-live="user-attributes">
          {rows.length === 0 && (
            <Empty>No IdP holds this user any more (deleted by its IdP).</Empty>
          )}
          {rows.map((row) => {
            const idp = idps.find((i) => i.id === row.idpId);
            const mirrored = mirroredLeaves(user, row);
            const leaves = flattenResource(row.resource);
            return (
              <section key={row.idpId} class="card idp-row" data-idp={row.idpId}>
                <h2>
                  {idp?.name ?? row.idpId}{" "}
                  {row.idpId === user.sourceIdpId && <Badge tone="info">source</Badge>}{" "}
                  {row.active
                    ? <Badge tone="ok">active</Badge>
                    : <Badge tone="warn">inactive</Badge>}
                </h2>
                <dl class="details">
                  <dt>externalId</dt>
                  <dd>
                    {row.externalId
                      ? <code>{row.externalId}</code>
                      : <span class="muted">none sent</span>}
                    {mirrored.has("externalId") && (
                      <Badge tone="info">mirrored → {mirrored.get("externalId")!.join(", ")}</Badge>
                    )}
                  </dd>
                  <dt>Last received</dt>
                  <dd>
                    <Time iso={row.receivedAt} />
                  </dd>
                  <dt>First received</dt>
                  <dd>
                    <Time iso={row.created} />
                  </dd>
                </dl>
                <div class="table-scroll">
                  <table class="table attributes">
                    <caption>Every attribute {idp?.name ?? "the IdP"} sent</caption>
                    <thead>
                      <tr>
                        <th scope="col">Attribute</th>
                        <th scope="col">Value</th>
                        <th scope="col">Mirrored</th>
                      </tr>
                    </thead>
                    <tbody>
                      {leaves.map(([path, value]) => (
                        <tr key={path}>
                          <th scope="row">
                            <code>{path}</code>
                          </th>
                          <td class="value">
                            <IdpText value={value} />
                          </td>
                          <td>
                            {mirrored.has(path) && (
                              <Badge tone="info">mirrored → {mirrored.get(path)!.join(", ")}</Badge>
                            )}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </section>
            );
          })}
        </div>
      </>
    ),
  );
});

users.get("/:id/groups", async (c) => {
  const { user, idps } = await userOf(c);
  const groups = await groupsOfUser(c.get("deps").kv, tenantOf(c).id, user.id, idps);
  return page(
    c,
    { title: userTitle(user), section: "users" },
    (
      <>
        <UserTabs user={user} current="groups" />
        <div data-live="user-groups">
          {groups.length === 0
            ? <Empty>This user is in no group.</Empty>
            : (
              <div class="table-scroll">
                <table class="table">
                  <thead>
                    <tr>
                      <th scope="col">Group</th>
                      <th scope="col">IdP</th>
                      <th scope="col">externalId</th>
                    </tr>
                  </thead>
                  <tbody>
                    {groups.map((g) => (
                      <tr key={g.id}>
                        <td>
                          <a href={`/admin/groups/${g.idpId}/${g.id}`}>
                            <IdpText value={g.displayName} />
                          </a>
                        </td>
                        <td>{idps.find((i) => i.id === g.idpId)?.name ?? g.idpId}</td>
                        <td>{g.externalId ? <code>{g.externalId}</code> : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
        </div>
      </>
    ),
  );
});

users.get("/:id/events", async (c) => {
  const { user } = await userOf(c);
  const { events } = await listEvents(c.get("deps").kv, tenantOf(c).id, {
    targetId: user.id,
    limit: 100,
  });
  const names = await nameEvents(c.get("deps").kv, tenantOf(c).id, events);
  return page(
    c,
    { title: userTitle(user), section: "users" },
    (
      <>
        <UserTabs user={user} current="events" />
        <div data-live="user-events">
          {events.length === 0
            ? <Empty>No events for this user.</Empty>
            : (
              <div class="table-scroll">
                <table class="table rows" id="user-events">
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Type</th>
                      <th scope="col">IdP</th>
                      <th scope="col">Summary</th>
                      <th scope="col">Changed</th>
                      <th scope="col">By</th>
                    </tr>
                  </thead>
                  <tbody>
                    {events.map((e) => (
                      <tr key={e.id} data-event-type={e.type}>
                        <td data-label="Time" class="nowrap">
                          <a href={`/admin/events/${e.id}`}>
                            <Time iso={e.at} />
                          </a>
                        </td>
                        <td data-label="Type">{eventLabel(e.type)}</td>
                        <td data-label="IdP">
                          {names[e.id]?.idp ? <IdpText value={names[e.id]?.idp} /> : "—"}
                        </td>
                        <td data-label="Summary">{e.summary}</td>
                        <td data-label="Changed">{e.changed?.join(", ") ?? ""}</td>
                        <td data-label="By" class="muted">
                          <IdpText value={actorLabel(e.actor, names[e.id]?.token)} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          <p>
            <a href={`/admin/events?target=${user.id}`}>Open in the Event Log →</a>
          </p>
        </div>
      </>
    ),
  );
});
