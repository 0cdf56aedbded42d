/**
 * Settings → Roles (`/admin/settings/roles`): the tenant's roles with the IdP groups mapped to
 * them. Every admin sees them; super admins create and delete roles and map or unmap groups
 * (picked from the tenant's groups). Each change is an audit event; the events feed reports the
 * roles users gain and lose (`role.assigned` / `role.unassigned`).
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
  HttpError,
  page,
  parseInput,
  readForm,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Csrf, Empty, Field, Notice, Time } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import ConfirmForm from "../../islands/ConfirmForm.tsx";
import {
  createRole,
  deleteRole,
  getRole,
  type GroupChoice,
  listGroupChoices,
  listRoleRecords,
  type Role,
  RoleInputError,
  setRoleMapping,
} from "../../lib/store/roles.ts";
import { ConflictError, listIdps } from "../../lib/store/tenants.ts";

/** `/admin/settings/roles`. */
export const roles = new Hono<AdminEnv>();

const DONE: Record<string, string> = {
  created: "Role created.",
  deleted: "Role deleted: its members lose it.",
  mapped: "Group mapped: its members have the role.",
  unmapped: "Group unmapped: its members lose the role unless another group gives it.",
};

/** Runs a role change; its input errors become the console's 400 / 409 pages. */
async function change<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof RoleInputError) throw new HttpError(400, error.message);
    if (error instanceof ConflictError) throw new HttpError(409, error.message);
    throw error;
  }
}

roles.get("/", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const { session } = signedIn(c);
  const [list, groups, idps] = await Promise.all([
    listRoleRecords(kv, tenant.id),
    listGroupChoices(kv, tenant.id),
    listIdps(kv, tenant.id),
  ]);
  const idpNames = new Map(idps.map((i) => [i.id, i.name]));
  const groupNames = new Map(groups.map((g) => [g.groupId, g]));
  const manage = canManage(c);
  const done = DONE[c.req.query("done") ?? ""];
  return page(
    c,
    { title: "Roles", section: "roles" },
    (
      <>
        {done && <Notice tone="ok">{done}</Notice>}
        <p class="hint">
          A user's roles come from the groups they are a member of; an inactive user has none.
          Applications read them in the directory API and follow changes as role events.
        </p>
        {list.length === 0 ? <Empty>No role yet.</Empty> : (
          <div class="table-scroll">
            <table class="table rows" id="roles">
              <thead>
                <tr>
                  <th scope="col">Role</th>
                  <th scope="col">Groups</th>
                  <th scope="col">Created</th>
                  {manage && (
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {list.map((r) => (
                  <RoleRow
                    key={r.slug}
                    role={r}
                    csrf={session.csrf}
                    manage={manage}
                    groups={groups}
                    groupName={(id) => groupNames.get(id)?.displayName}
                    idpName={(id) => idpNames.get(id) ?? id}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {manage && (
          <section aria-labelledby="create-h" class="card narrow">
            <h2 id="create-h">Create a role</h2>
            <form method="post" action="/admin/settings/roles" class="stack">
              <Csrf token={session.csrf} />
              <Field
                id="slug"
                label="Slug"
                required
                maxLength={63}
                hint="What applications match on: lower-case letters, digits, '-' and '_'."
              />
              <Field id="name" label="Name" required maxLength={200} />
              <Field id="description" label="Description (optional)" maxLength={1000} />
              <button type="submit" class="button primary">Create role</button>
            </form>
          </section>
        )}
      </>
    ),
  );
});

function RoleRow(props: {
  role: Role;
  csrf: string;
  manage: boolean;
  groups: GroupChoice[];
  groupName: (id: string) => string | undefined;
  idpName: (id: string) => string;
}) {
  const { role, csrf, manage } = props;
  const base = `/admin/settings/roles/${encodeURIComponent(role.slug)}`;
  const mapped = new Set(role.groups.map((g) => g.groupId));
  const choices = props.groups.filter((g) => !mapped.has(g.groupId));
  return (
    <tr>
      <td data-label="Role">
        <strong>{role.name}</strong> <code>{role.slug}</code>
        {role.description && <p class="muted small">{role.description}</p>}
      </td>
      <td data-label="Groups">
        {role.groups.length === 0 ? <span class="muted">No group</span> : (
          <ul class="plain">
            {role.groups.map((g) => (
              <li key={g.groupId}>
                {props.groupName(g.groupId) ?? <span class="muted">(deleted group)</span>}{" "}
                <span class="muted small">{props.idpName(g.idpId)}</span>
                {manage && (
                  <form method="post" action={`${base}/unmap`} class="inline">
                    <Csrf token={csrf} />
                    <input type="hidden" name="idp" value={g.idpId} />
                    <input type="hidden" name="group" value={g.groupId} />
                    <button type="submit" class="button secondary small">Unmap</button>
                  </form>
                )}
              </li>
            ))}
          </ul>
        )}
        {manage && choices.length > 0 && (
          <form method="post" action={`${base}/map`} class="inline">
            <Csrf token={csrf} />
            <label for={`map-${role.slug}`} class="visually-hidden">
              Group to map to {role.name}
            </label>
            <select id={`map-${role.slug}`} name="choice">
              {choices.map((g) => (
                <option key={g.groupId} value={`${g.idpId}/${g.groupId}`}>
                  {g.displayName} ({props.idpName(g.idpId)})
                </option>
              ))}
            </select>
            <button type="submit" class="button secondary small">Map group</button>
          </form>
        )}
      </td>
      <td data-label="Created">
        <Time iso={role.createdAt} relative />
      </td>
      {manage && (
        <td data-label="Actions" class="actions-cell">
          <Island
            name="ConfirmForm"
            component={ConfirmForm}
            props={{
              action: `${base}/delete`,
              csrf,
              label: "Delete",
              title: `Delete role ${role.slug}?`,
              message: "Every member loses the role at once.",
              danger: true,
            }}
          />
        </td>
      )}
    </tr>
  );
}

const CreateForm = z.object({
  slug: z.string(),
  name: z.string(),
  description: z.string().optional(),
});

roles.post("/", async (c) => {
  const admin = assertSuperAdmin(c, "create roles");
  const f = parseInput(CreateForm, await readForm(c));
  await change(() =>
    createRole(c.get("deps").kv, tenantOf(c).id, {
      slug: f.slug.trim(),
      name: f.name,
      description: f.description || undefined,
    }, `admin:${admin.email}`)
  );
  return seeOther("/admin/settings/roles?done=created");
});

const MapForm = z.object({
  choice: z.string().regex(/^[^/]+\/[^/]+$/, "pick a group").optional(),
  idp: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
});

async function mapping(c: Context<AdminEnv>, mapped: boolean): Promise<Response> {
  assertSuperAdmin(c, mapped ? "map groups to roles" : "unmap groups from roles");
  const f = parseInput(MapForm, await readForm(c));
  const [idpId, group] = f.choice ? f.choice.split("/") : [f.idp, f.group];
  if (!idpId || !group) throw new HttpError(400, "The form was not valid: pick a group");
  await change(() =>
    setRoleMapping(c.get("deps").kv, tenantOf(c).id, {
      slug: c.req.param("slug") ?? "",
      idpId,
      group,
      mapped,
    }, actorOf(c))
  );
  return seeOther(`/admin/settings/roles?done=${mapped ? "mapped" : "unmapped"}`);
}

roles.post("/:slug/map", (c) => mapping(c, true));
roles.post("/:slug/unmap", (c) => mapping(c, false));

roles.post("/:slug/delete", async (c) => {
  assertSuperAdmin(c, "delete roles");
  const form = await readForm(c);
  const slug = c.req.param("slug");
  if (!(await getRole(c.get("deps").kv, tenantOf(c).id, slug))) {
    throw new HttpError(404, "No role of this tenant has this slug");
  }
  if (form.confirmed !== "yes") {
    return page(
      c,
      { title: `Delete role ${slug}?`, section: "roles" },
      (
        <form method="post" action={c.req.path} class="card narrow stack">
          <Csrf token={signedIn(c).session.csrf} />
          <input type="hidden" name="confirmed" value="yes" />
          <p>Every member loses the role at once.</p>
          <button type="submit" class="button danger">Delete role</button>
        </form>
      ),
    );
  }
  await change(() => deleteRole(c.get("deps").kv, tenantOf(c).id, slug, actorOf(c)));
  return seeOther("/admin/settings/roles?done=deleted");
});
