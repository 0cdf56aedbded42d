/**
 * Admins of the tenant (super admins only): the list with open sessions, one-time setup links
 * for new admins, revoking an admin's sessions, and removing an admin.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import {
  actorOf,
  type AdminEnv,
  assertSuperAdmin,
  FLASH,
  HttpError,
  page,
  parseInput,
  readForm,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Badge, Csrf, Field, Notice, Time } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import ConfirmForm from "../../islands/ConfirmForm.tsx";
import CopyButton from "../../islands/CopyButton.tsx";
import {
  ADMIN_ROLES,
  deleteAdmin,
  getAdmin,
  listAdmins,
  listSetupLinks,
  revokeSetupLink,
  type SetupLinkSummary,
} from "../../lib/store/admins.ts";
import { listAdminSessions, revokeAdminSessions } from "../../lib/store/admin_sessions.ts";
import { createSetupLink } from "../../lib/auth/admin.ts";

/** `/admin/admins`. */
export const admins = new Hono<AdminEnv>();

admins.use("*", async (c, next) => {
  assertSuperAdmin(c, "manage admins");
  await next();
});

admins.get("/", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const { admin: me, session } = signedIn(c);
  const [list, links] = await Promise.all([
    listAdmins(kv, tenant.id),
    listSetupLinks(kv, tenant.id),
  ]);
  const sessions = await Promise.all(list.map((a) => listAdminSessions(kv, tenant.id, a.id)));
  const done = FLASH[c.req.query("done") ?? ""];
  return page(
    c,
    { title: "Admins", section: "admins" },
    (
      <>
        {done && <Notice tone="ok">{done}</Notice>}
        <div class="table-scroll">
          <table class="table rows" id="admins">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Open sessions</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((a, i) => (
                <tr key={a.id}>
                  <td data-label="Email">
                    {a.email} {a.id === me.id && <Badge tone="info">you</Badge>}
                  </td>
                  <td data-label="Role">
                    {a.role === "super_admin"
                      ? "Super admin"
                      : "Admin (read-only tokens and settings)"}
                  </td>
                  <td data-label="Created">
                    <Time iso={a.createdAt} relative />
                  </td>
                  <td data-label="Open sessions">
                    {sessions[i].length}
                    {sessions[i][0] && (
                      <span class="muted small">(latest from {sessions[i][0].ip})</span>
                    )}
                  </td>
                  <td data-label="Actions" class="actions-cell">
                    {sessions[i].length > 0 && (
                      <Island
                        name="ConfirmForm"
                        component={ConfirmForm}
                        props={{
                          action: `/admin/admins/${a.id}/revoke-sessions`,
                          csrf: session.csrf,
                          label: "Sign out everywhere",
                          title: `Sign ${a.email} out everywhere?`,
                          message: "Every open session of this admin ends at once.",
                        }}
                      />
                    )}
                    {a.id !== me.id && (
                      <Island
                        name="ConfirmForm"
                        component={ConfirmForm}
                        props={{
                          action: `/admin/admins/${a.id}/remove`,
                          csrf: session.csrf,
                          label: "Remove",
                          title: `Remove ${a.email}?`,
                          message: "The account is deleted and its sessions end at once.",
                          danger: true,
                        }}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <PendingLinks links={links} csrf={session.csrf} />
        <section aria-labelledby="invite-h" class="card narrow">
          <h2 id="invite-h">Invite an admin</h2>
          <p class="hint">
            Creates a one-time setup link, valid for 24 hours. Send it over a channel you trust.
          </p>
          <form method="post" action="/admin/admins/links" class="stack">
            <Csrf token={session.csrf} />
            <Field id="email" label="Email (optional: binds the link to it)" type="email" />
            <div class="field">
              <label for="role">Role</label>
              <select id="role" name="role">
                <option value="admin">Admin: read-only on tokens and settings</option>
                <option value="super_admin">Super admin: everything</option>
              </select>
            </div>
            <button type="submit" class="button primary">Create setup link</button>
          </form>
        </section>
      </>
    ),
  );
});

/** The pending setup links, each revocable (a link is a credential until used or expired). */
function PendingLinks({ links, csrf }: { links: SetupLinkSummary[]; csrf: string }) {
  return (
    <section aria-labelledby="links-h">
      <h2 id="links-h">Pending setup links</h2>
      {links.length === 0
        ? <p class="muted">No setup link is waiting to be used.</p>
        : (
          <div class="table-scroll">
            <table class="table rows" id="setup-links">
              <thead>
                <tr>
                  <th scope="col">Link</th>
                  <th scope="col">Creates</th>
                  <th scope="col">For email</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {links.map((l) => (
                  <tr key={l.id}>
                    <td data-label="Link">
                      <code>{l.id}</code> {l.firstRun && <Badge tone="warn">first run</Badge>}
                    </td>
                    <td data-label="Creates">
                      {l.role === "super_admin" ? "Super admin" : "Admin"}
                    </td>
                    <td data-label="For email">{l.email ?? "any"}</td>
                    <td data-label="Created">
                      <Time iso={l.createdAt} /> <span class="muted small">by {l.createdBy}</span>
                    </td>
                    <td data-label="Expires">
                      <Time iso={l.expiresAt} relative />
                    </td>
                    <td data-label="Actions" class="actions-cell">
                      <Island
                        name="ConfirmForm"
                        component={ConfirmForm}
                        props={{
                          action: `/admin/admins/links/${l.id}/revoke`,
                          csrf,
                          label: "Revoke",
                          title: "Revoke this setup link?",
                          message: "The link stops working at once.",
                          danger: true,
                        }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
    </section>
  );
}

const Invite = z.object({
  email: z.union([z.literal(""), z.string().trim().toLowerCase().email().max(254)]).optional(),
  role: z.enum(ADMIN_ROLES),
});

admins.post("/links", async (c) => {
  const f = parseInput(Invite, await readForm(c));
  const { url, link } = await createSetupLink(c.get("deps").kv, tenantOf(c).id, c.get("origin"), {
    role: f.role,
    email: f.email || undefined,
    createdBy: actorOf(c),
  });
  return page(
    c,
    { title: "Setup link created", section: "admins", status: 201 },
    (
      <div class="narrow">
        <div class="secret-box" role="region" aria-label="Setup link">
          <p class="warning">
            <strong>Copy this link now.</strong> It cannot be shown again, works once, and expires
            {" "}
            <Time iso={link.expiresAt} relative />.
          </p>
          <code class="secret" id="setup-link">{url}</code>
          <Island
            name="CopyButton"
            component={CopyButton}
            props={{ text: url, label: "setup link" }}
          />
        </div>
        <p>
          <a href="/admin/admins">Back to Admins</a>
        </p>
      </div>
    ),
  );
});

admins.post("/links/:link/revoke", async (c) => {
  const linkId = c.req.param("link");
  if (!/^[0-9a-f]{12}$/.test(linkId)) throw new HttpError(404, "No such setup link");
  const form = await readForm(c);
  if (form.confirmed !== "yes") return confirmPage(c, "Revoke this setup link?", c.req.path);
  const done = await revokeSetupLink(c.get("deps").kv, tenantOf(c).id, linkId, actorOf(c));
  if (!done) throw new HttpError(404, "No such setup link: it was used, revoked or has expired");
  return seeOther("/admin/admins?done=link-revoked");
});

async function targetOf(c: Context<AdminEnv>) {
  const admin = await getAdmin(c.get("deps").kv, tenantOf(c).id, c.req.param("id") ?? "");
  if (!admin) throw new HttpError(404, "No such admin");
  return admin;
}

function confirmPage(c: Context<AdminEnv>, title: string, action: string) {
  return page(
    c,
    { title, section: "admins" },
    (
      <form method="post" action={action} class="card stack narrow">
        <Csrf token={signedIn(c).session.csrf} />
        <input type="hidden" name="confirmed" value="yes" />
        <div class="actions">
          <a class="button" href="/admin/admins">Cancel</a>
          <button type="submit" class="button danger">Confirm</button>
        </div>
      </form>
    ),
  );
}

admins.post("/:id/revoke-sessions", async (c) => {
  const target = await targetOf(c);
  const form = await readForm(c);
  if (form.confirmed !== "yes") {
    return confirmPage(c, `Sign ${target.email} out everywhere?`, c.req.path);
  }
  await revokeAdminSessions(c.get("deps").kv, tenantOf(c).id, target.id);
  return seeOther(
    target.id === signedIn(c).admin.id ? "/admin/signin" : "/admin/admins?done=sessions-revoked",
  );
});

admins.post("/:id/remove", async (c) => {
  const target = await targetOf(c);
  if (target.id === signedIn(c).admin.id) {
    throw new HttpError(409, "You cannot remove your own account");
  }
  const form = await readForm(c);
  if (form.confirmed !== "yes") return confirmPage(c, `Remove ${target.email}?`, c.req.path);
  const { kv } = c.get("deps");
  await deleteAdmin(kv, tenantOf(c).id, target.id, actorOf(c));
  await revokeAdminSessions(kv, tenantOf(c).id, target.id);
  return seeOther("/admin/admins?done=admin-removed");
});
