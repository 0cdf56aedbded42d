/**
 * An IdP connection's whole life (super admins): edit its name, kind and matching rule, turn SCIM
 * provisioning off and on, and delete it — a confirmation that says what happens to its users,
 * groups and tokens, then a background job whose progress this page shows (and which any console
 * page view resumes when the process running it stopped).
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import {
  actorOf,
  type AdminEnv,
  assertSuperAdmin,
  HttpError,
  page,
  parseInput,
  readForm,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Csrf, Field, Notice } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import DeletionProgress from "../../islands/DeletionProgress.tsx";
import { IDP_KIND_NAMES, idpOf, IdpTabs } from "./_idp.tsx";
import { ConflictError, getIdp, updateIdp } from "../../lib/store/tenants.ts";
import { type Idp, IDP_KINDS } from "../../lib/store/types.ts";
import {
  claimStalledDeletion,
  deletionImpact,
  getIdpDeletion,
  type IdpDeletion,
  runIdpDeletion,
  startIdpDeletion,
} from "../../lib/store/idp_deletion.ts";

/** `/admin/idps/:id/edit`, `/scim-provisioning`, `/delete`, `/deletion`. */
export const idpManage = new Hono<AdminEnv>();

function EditForm(
  { idp, csrf, users, error }: { idp: Idp; csrf: string; users: number; error?: string },
) {
  return (
    <form method="post" action={`/admin/idps/${idp.id}/edit`} class="card stack narrow">
      {error && <Notice tone="bad">{error}</Notice>}
      <Csrf token={csrf} />
      <Field id="name" label="Name" required maxLength={200} value={idp.name} />
      <div class="field">
        <label for="kind">Kind</label>
        <select id="kind" name="kind" aria-describedby="kind-hint">
          {IDP_KINDS.map((k) => (
            <option key={k} value={k} selected={k === idp.kind}>{IDP_KIND_NAMES[k]}</option>
          ))}
        </select>
        <p class="hint" id="kind-hint">Weft applies the known quirks of this IdP's SCIM client.</p>
      </div>
      <div class="field">
        <label for="matchBy">Match users by</label>
        <select id="matchBy" name="matchBy" aria-describedby="matchBy-hint" disabled={users > 0}>
          <option value="externalId" selected={idp.matchBy === "externalId"}>
            externalId (the IdP's immutable user id)
          </option>
          <option value="userName" selected={idp.matchBy === "userName"}>userName</option>
        </select>
        <p class="hint" id="matchBy-hint">
          {users > 0
            ? `Fixed while users are linked (${users}): the rule decides which user each push lands on. Create a new connection for the other rule.`
            : "Okta and most IdPs: externalId. Entra: userName (its externalId is mailNickname)."}
        </p>
      </div>
      <div class="field">
        <label for="deprovisioning">When the IdP deletes a user (SCIM DELETE)</label>
        <select id="deprovisioning" name="deprovisioning" aria-describedby="deprovisioning-hint">
          <option value="unlink" selected={(idp.deprovisioning ?? "unlink") === "unlink"}>
            Unlink: deactivate and keep the user
          </option>
          <option value="delete" selected={idp.deprovisioning === "delete"}>
            Delete: remove the user and erase its names
          </option>
        </select>
        <p class="hint" id="deprovisioning-hint">
          Unlink keeps the user, deactivated, with its history, and a later push with the same
          externalId brings it back. Delete removes the user, erases its names from the Event Log
          and the SCIM requests logged about it, and a later push creates a new user.
        </p>
      </div>
      <div class="actions">
        <a class="button" href={`/admin/idps/${idp.id}`}>Cancel</a>
        <button type="submit" class="button primary">Save changes</button>
      </div>
    </form>
  );
}

/** Users linked to the connection, shown beside the matching rule (the write checks it itself). */
async function linkedUsers(c: Context<AdminEnv>, idpId: string): Promise<number> {
  return (await deletionImpact(c.get("deps").kv, tenantOf(c).id, idpId)).users;
}

idpManage.get("/:id/edit", async (c) => {
  assertSuperAdmin(c, "change identity providers");
  const idp = await idpOf(c);
  return page(
    c,
    { title: `Edit ${idp.name}`, section: "idps" },
    (
      <>
        <IdpTabs idp={idp} current="overview" />
        <EditForm idp={idp} csrf={signedIn(c).session.csrf} users={await linkedUsers(c, idp.id)} />
      </>
    ),
  );
});

const Edit = z.object({
  name: z.string().trim().min(1, "is required").max(200),
  kind: z.enum(IDP_KINDS),
  matchBy: z.enum(["externalId", "userName"]).optional(),
  deprovisioning: z.enum(["unlink", "delete"]).optional(),
});

idpManage.post("/:id/edit", async (c) => {
  assertSuperAdmin(c, "change identity providers");
  const idp = await idpOf(c);
  const parsed = Edit.safeParse(await readForm(c));
  const again = async (error: string, status: 400 | 409) =>
    page(
      c,
      { title: `Edit ${idp.name}`, section: "idps", status },
      (
        <>
          <IdpTabs idp={idp} current="overview" />
          <EditForm
            idp={idp}
            csrf={signedIn(c).session.csrf}
            users={await linkedUsers(c, idp.id)}
            error={error}
          />
        </>
      ),
    );
  if (!parsed.success) {
    return await again(`Check the field “${String(parsed.error.issues[0]?.path[0])}”.`, 400);
  }
  try {
    await updateIdp(c.get("deps").kv, tenantOf(c).id, idp.id, parsed.data, actorOf(c));
  } catch (error) {
    if (error instanceof ConflictError) return await again(error.message, 409);
    throw error;
  }
  return seeOther(`/admin/idps/${idp.id}?done=idp-updated`);
});

const Provisioning = z.object({ enabled: z.enum(["on", "off"]) });

idpManage.post("/:id/scim-provisioning", async (c) => {
  assertSuperAdmin(c, "turn SCIM provisioning on or off");
  const idp = await idpOf(c);
  const { enabled } = parseInput(Provisioning, await readForm(c));
  await updateIdp(c.get("deps").kv, tenantOf(c).id, idp.id, {
    scimEnabled: enabled === "on",
  }, actorOf(c));
  return seeOther(`/admin/idps/${idp.id}/scim?done=scim-${enabled}`);
});

idpManage.get("/:id/delete", async (c) => {
  assertSuperAdmin(c, "delete identity providers");
  const idp = await idpOf(c);
  const impact = await deletionImpact(c.get("deps").kv, tenantOf(c).id, idp.id);
  return page(
    c,
    { title: `Delete ${idp.name}?`, section: "idps" },
    (
      <form method="post" action={`/admin/idps/${idp.id}/delete`} class="card stack narrow">
        <Csrf token={signedIn(c).session.csrf} />
        <Notice tone="warn">
          <p>Deleting this connection cannot be undone. It:</p>
          <ul>
            <li>
              refuses its SCIM requests at once (<code>401 scim_disabled</code>) and signs nobody in
              through it;
            </li>
            <li>
              deprovisions its <strong>{impact.users}</strong> user{impact.users === 1 ? "" : "s"}
              {" "}
              as a SCIM DELETE would: unlinked, deactivated, out of its groups, sign-in sessions
              ended — their canonical records and history stay;
            </li>
            <li>
              deletes its <strong>{impact.groups}</strong> group{impact.groups === 1 ? "" : "s"}
              {" "}
              and their memberships, and its <strong>{impact.tokens}</strong>{" "}
              token{impact.tokens === 1 ? "" : "s"};
            </li>
            <li>keeps its events in the Event Log.</li>
          </ul>
        </Notice>
        <Field
          id="confirm"
          label={`Type the connection's name (${idp.name}) to confirm`}
          required
          maxLength={200}
          autocomplete="off"
        />
        <div class="actions">
          <a class="button" href={`/admin/idps/${idp.id}`}>Cancel</a>
          <button type="submit" class="button danger">Delete this connection</button>
        </div>
      </form>
    ),
  );
});

idpManage.post("/:id/delete", async (c) => {
  assertSuperAdmin(c, "delete identity providers");
  const idp = await idpOf(c);
  const form = await readForm(c);
  if (typeof form.confirm !== "string" || form.confirm.trim() !== idp.name) {
    throw new HttpError(400, "The name typed is not the connection's: nothing was deleted");
  }
  const tenant = tenantOf(c);
  const { kv, log } = c.get("deps");
  const job = await startIdpDeletion(kv, tenant.id, idp.id, actorOf(c));
  runIdpDeletion(kv, tenant.id, idp.id, job.id).catch((error) =>
    log.log("error", "IdP deletion failed; it resumes on the next status read", {
      error: String(error),
    })
  );
  return seeOther(`/admin/idps/${idp.id}/deletion`);
});

/** The deletion's progress, resuming it when the process running it stopped. */
export async function deletionStatus(
  c: Context<AdminEnv>,
  idpId: string,
): Promise<IdpDeletion | null> {
  const tenant = tenantOf(c);
  const { kv, log } = c.get("deps");
  const claimed = await claimStalledDeletion(kv, tenant.id, idpId);
  if (claimed) {
    runIdpDeletion(kv, tenant.id, idpId, claimed.id).catch((error) =>
      log.log("error", "IdP deletion failed; it resumes on the next status read", {
        error: String(error),
      })
    );
  }
  return claimed ?? await getIdpDeletion(kv, tenant.id, idpId);
}

idpManage.get("/:id/deletion", async (c) => {
  const idpId = c.req.param("id");
  const job = await deletionStatus(c, idpId);
  if (!job) throw new HttpError(404, "This connection is not being deleted");
  const idp = await getIdp(c.get("deps").kv, tenantOf(c).id, idpId);
  return page(
    c,
    { title: `Deleting ${job.idpName}`, section: "idps" },
    (
      <section class="card narrow">
        <Island
          name="DeletionProgress"
          component={DeletionProgress}
          props={{ job, url: `/admin/api/idps/${idpId}/deletion` }}
        />
        {!idp && (
          <p>
            <a href="/admin/idps">Back to identity providers</a>
          </p>
        )}
      </section>
    ),
  );
});
