/**
 * Groups: the list (by IdP, name prefix search, paging) and a group's page with its members,
 * paged by cursor; the count comes from the maintained counter, so a group of 100,000 members
 * costs one page of rows.
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { type AdminEnv, HttpError, page, parseInput, tenantOf } from "./_shared.tsx";
import { Badge, Empty, IdpText, Pager, Time } from "../../components/ui.tsx";
import { getIdp, listIdps } from "../../lib/store/tenants.ts";
import { getGroup } from "../../lib/store/groups.ts";
import { countMembers, listMembers } from "../../lib/store/memberships.ts";
import { listDirectoryGroups } from "../../lib/store/group_list.ts";
import { getUsers } from "../../lib/store/users.ts";

/** `/admin/groups`. */
export const groups = new Hono<AdminEnv>();

const ListQuery = z.object({
  q: z.string().max(200).optional(),
  idp: z.string().max(64).optional(),
  cursor: z.string().max(2000).optional(),
});

function qs(params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

groups.get("/", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const f = parseInput(ListQuery, c.req.query());
  const idps = await listIdps(kv, tenant.id);
  const { groups: rows, cursor } = await listDirectoryGroups(kv, tenant.id, {
    idpId: f.idp || undefined,
    q: f.q,
    cursor: f.cursor,
  });
  const keep = { q: f.q, idp: f.idp };
  return page(
    c,
    { title: "Groups", section: "groups" },
    (
      <>
        <form
          method="get"
          action="/admin/groups"
          class="filters"
          role="search"
          aria-label="Find groups"
        >
          <div class="field grow">
            <label for="q">Search</label>
            <input id="q" name="q" type="search" value={f.q} placeholder="Name starts with…" />
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
        {rows.length === 0 ? <Empty>No groups match.</Empty> : (
          <div class="table-scroll">
            <table class="table rows" id="groups">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">IdP</th>
                  <th scope="col">Members</th>
                  <th scope="col">externalId</th>
                  <th scope="col">Changed</th>
                </tr>
              </thead>
              <tbody>
                {rows.map(({ group, members }) => (
                  <tr key={group.id}>
                    <td data-label="Name">
                      <a href={`/admin/groups/${group.idpId}/${group.id}`}>
                        <IdpText value={group.displayName} />
                      </a>
                    </td>
                    <td data-label="IdP">
                      {idps.find((i) => i.id === group.idpId)?.name ?? group.idpId}
                    </td>
                    <td data-label="Members">{members}</td>
                    <td data-label="externalId">
                      {group.externalId ? <code>{group.externalId}</code> : "—"}
                    </td>
                    <td data-label="Changed">
                      <Time iso={group.lastModified} relative />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          label="Group pages"
          first={f.cursor ? `/admin/groups${qs(keep)}` : undefined}
          next={cursor ? `/admin/groups${qs({ ...keep, cursor })}` : undefined}
        />
      </>
    ),
  );
});

const MemberQuery = z.object({ cursor: z.string().max(2000).optional() });

groups.get("/:idp/:id", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const idp = await getIdp(kv, tenant.id, c.req.param("idp"));
  const found = idp ? await getGroup(kv, tenant.id, idp.id, c.req.param("id")) : null;
  if (!idp || !found) throw new HttpError(404, "This group does not exist in this tenant");
  const { group } = found;
  const { cursor } = parseInput(MemberQuery, c.req.query());
  const [total, page1] = await Promise.all([
    countMembers(kv, tenant.id, group.id),
    listMembers(kv, tenant.id, group.id, { limit: 50, cursor }),
  ]);
  const users = await getUsers(kv, tenant.id, page1.members.map((m) => m.userId));
  const base = `/admin/groups/${idp.id}/${group.id}`;
  return page(
    c,
    { title: group.displayName, section: "groups" },
    (
      <>
        <dl class="details">
          <dt>IdP</dt>
          <dd>
            <a href={`/admin/idps/${idp.id}`}>{idp.name}</a>
          </dd>
          <dt>externalId</dt>
          <dd>
            {group.externalId
              ? (
                <code>
                  <IdpText value={group.externalId} />
                </code>
              )
              : "—"}
          </dd>
          <dt>Weft id (SCIM id)</dt>
          <dd>
            <code>{group.id}</code>
          </dd>
          <dt>Members</dt>
          <dd>{total}</dd>
          <dt>Changed</dt>
          <dd>
            <Time iso={group.lastModified} relative />
          </dd>
        </dl>
        <h2>Members</h2>
        {page1.members.length === 0 ? <Empty>No members.</Empty> : (
          <div class="table-scroll">
            <table class="table rows" id="members">
              <thead>
                <tr>
                  <th scope="col">userName</th>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {page1.members.map((m, i) => {
                  const u = users[i];
                  return (
                    <tr key={m.userId}>
                      <td data-label="userName">
                        <a href={`/admin/users/${m.userId}`}>
                          <IdpText value={u?.userName ?? m.userId} />
                        </a>
                      </td>
                      <td data-label="Name">
                        {u?.displayName ?? m.display
                          ? <IdpText value={u?.displayName ?? m.display} />
                          : "—"}
                      </td>
                      <td data-label="Status">
                        {u?.status === "active"
                          ? <Badge tone="ok">active</Badge>
                          : <Badge tone="warn">{u?.status ?? "unknown"}</Badge>}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          label="Member pages"
          first={cursor ? base : undefined}
          next={page1.cursor ? `${base}?cursor=${encodeURIComponent(page1.cursor)}` : undefined}
        />
        <p>
          <a href={`/admin/events?target=${group.id}`}>This group's events in the Event Log →</a>
        </p>
      </>
    ),
  );
});
