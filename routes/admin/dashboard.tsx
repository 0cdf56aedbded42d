/**
 * The dashboard: per IdP, users and groups provisioned, the last push, and failed
 * authentications in the last 24 hours.
 * @module
 */
import { Hono } from "hono";
import { type AdminEnv, canManage, page, tenantOf } from "./_shared.tsx";
import { Badge, Empty, Time } from "../../components/ui.tsx";
import { listIdps } from "../../lib/store/tenants.ts";
import { idpStats } from "../../lib/store/idp_stats.ts";
import { eventLabel } from "../../islands/_format.ts";

/** `/admin`. */
export const dashboard = new Hono<AdminEnv>();

dashboard.get("/", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const idps = await listIdps(kv, tenant.id);
  const stats = await Promise.all(idps.map((idp) => idpStats(kv, tenant.id, idp.id)));
  return page(
    c,
    { title: "Dashboard", section: "dashboard" },
    (
      <>
        {idps.length === 0
          ? (
            <Empty>
              No identity provider is connected yet.{" "}
              {canManage(c) && <a href="/admin/idps/new">Connect one</a>}
            </Empty>
          )
          : (
            <ul class="cards" aria-label="Identity providers">
              {idps.map((idp, i) => {
                const s = stats[i];
                return (
                  <li key={idp.id} class="card idp-card">
                    <h2>
                      <a href={`/admin/idps/${idp.id}`}>{idp.name}</a> <Badge>{idp.kind}</Badge>
                    </h2>
                    <dl class="figures">
                      <div>
                        <dt>Users</dt>
                        <dd>
                          <a href={`/admin/users?idp=${idp.id}`}>{s.users}</a>
                        </dd>
                      </div>
                      <div>
                        <dt>Groups</dt>
                        <dd>
                          <a href={`/admin/groups?idp=${idp.id}`}>{s.groups}</a>
                        </dd>
                      </div>
                      <div>
                        <dt>Failures (24 h)</dt>
                        <dd>
                          <a
                            href={`/admin/idps/${idp.id}/scim#failures`}
                            class={s.failures24h ? "bad" : undefined}
                          >
                            {s.failures24h}
                          </a>
                        </dd>
                      </div>
                    </dl>
                    <p class="muted">
                      Last push: {s.lastPush
                        ? (
                          <>
                            {eventLabel(s.lastPush.type)}, <Time iso={s.lastPush.at} relative />
                          </>
                        )
                        : "none yet"}
                    </p>
                  </li>
                );
              })}
            </ul>
          )}
      </>
    ),
  );
});
