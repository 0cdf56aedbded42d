/**
 * Settings → API keys (super admins): the tenant's directory API keys (name, prefix, scopes,
 * created, expires, last used, revoked), "Create API key" in the same modal as SCIM tokens (the
 * key shown once; without JavaScript a plain form page that does the same), and revocation after
 * a confirmation.
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
  readForm,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Badge, Csrf, Empty, Field, IdpText, Notice, Time } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import TokenCreate from "../../islands/TokenCreate.tsx";
import ConfirmForm from "../../islands/ConfirmForm.tsx";
import CopyButton from "../../islands/CopyButton.tsx";
import {
  API_KEY_NAME_MAX,
  apiKeyState,
  type ApiKeySummary,
  createApiKey,
  getApiKey,
  listApiKeys,
  revokeApiKey,
} from "../../lib/store/api_keys.ts";
import { API_SCOPES, type ApiScope } from "../../lib/auth/api_keys.ts";

/** `/admin/settings/api-keys`. */
export const apiKeys = new Hono<AdminEnv>();

const HOME = "/admin/settings/api-keys";

/** What creating a key takes, from the form or the modal's JSON. */
export const NewApiKey = z.object({
  name: z.string().trim().min(1, "is required").max(API_KEY_NAME_MAX),
  scopes: z.union([z.enum(API_SCOPES), z.array(z.enum(API_SCOPES))])
    .transform((s) => (Array.isArray(s) ? s : [s]))
    .pipe(z.array(z.enum(API_SCOPES)).min(1, "choose at least one")),
  expires_days: z.union([z.literal(""), z.coerce.number().int().min(0).max(3650)]).optional()
    .transform((d) => (d === "" || !d ? undefined : d)),
});

/** The expiry of a key created now for `days` days. */
export function expiryOf(days: number | undefined): string | undefined {
  return days ? new Date(Date.now() + days * 86_400_000).toISOString() : undefined;
}

function StateBadge({ k }: { k: ApiKeySummary }) {
  const state = apiKeyState(k);
  if (state === "revoked") return <Badge tone="bad">Revoked</Badge>;
  if (state === "expired") return <Badge tone="warn">Expired</Badge>;
  return <Badge tone="ok">Active</Badge>;
}

function KeyTable({ list, csrf }: { list: ApiKeySummary[]; csrf: string }) {
  return (
    <div class="table-scroll">
      <table class="table rows" id="api-keys">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Scopes</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.map((k) => (
            <tr key={k.id} data-key-id={k.id}>
              <td data-label="Name">
                <IdpText value={k.name} /> <code class="muted">{k.prefix}…</code>
              </td>
              <td data-label="Scopes">
                <code>{k.scopes.join(" ")}</code>
              </td>
              <td data-label="Created">
                <Time iso={k.createdAt} /> by <IdpText value={k.createdBy} />
              </td>
              <td data-label="Expires">{k.expiresAt ? <Time iso={k.expiresAt} /> : "Never"}</td>
              <td data-label="Last used">
                {k.lastUsed
                  ? (
                    <>
                      <Time iso={k.lastUsed.at} relative /> from <code>{k.lastUsed.ip}</code>
                    </>
                  )
                  : "Never"}
              </td>
              <td data-label="Status">
                <StateBadge k={k} />
                {k.revokedAt && (
                  <>
                    {" "}
                    <Time iso={k.revokedAt} />
                  </>
                )}
              </td>
              <td data-label="Actions" class="actions-cell">
                {apiKeyState(k) !== "revoked" && (
                  <Island
                    name="ConfirmForm"
                    component={ConfirmForm}
                    props={{
                      action: `${HOME}/${encodeURIComponent(k.id)}/revoke`,
                      csrf,
                      label: "Revoke",
                      title: `Revoke API key “${k.name}”?`,
                      message:
                        "Requests that use it get 401 at once. This cannot be undone: create another key to restore access.",
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
  );
}

apiKeys.get("/", async (c) => {
  assertSuperAdmin(c, "manage API keys");
  const list = await listApiKeys(c.get("deps").kv, tenantOf(c).id);
  const flash = FLASH[c.req.query("done") ?? ""];
  return page(
    c,
    { title: "API keys", section: "apikeys" },
    (
      <>
        {flash && <Notice tone="ok">{flash}</Notice>}
        <div class="toolbar">
          <p>
            Applications read the directory at <code>{c.get("origin")}/api/v1</code>{" "}
            with one of these keys (see the <a href="/admin/api-reference">API reference</a>).
          </p>
          <Island
            name="TokenCreate"
            component={TokenCreate}
            props={{
              idpId: "",
              idpName: "",
              fallbackHref: `${HOME}/new`,
              apiKey: { scopes: [...API_SCOPES] },
            }}
          />
        </div>
        {list.length === 0
          ? <Empty>No API key yet: no application can read the directory.</Empty>
          : <KeyTable list={list} csrf={signedIn(c).session.csrf} />}
      </>
    ),
  );
});

function NewKeyForm({ csrf, error }: { csrf: string; error?: string }) {
  return (
    <form method="post" action={HOME} class="card stack narrow">
      {error && <Notice tone="bad">{error}</Notice>}
      <Csrf token={csrf} />
      <Field
        id="name"
        label="Key name"
        required
        maxLength={API_KEY_NAME_MAX}
        hint="For example hr-portal: the application that will use it."
      />
      <fieldset class="field">
        <legend>Scopes</legend>
        {API_SCOPES.map((s) => (
          <label key={s} class="checkbox">
            <input type="checkbox" name="scopes" value={s} checked /> <code>{s}</code>
          </label>
        ))}
      </fieldset>
      <div class="field">
        <label for="expires_days">Expires</label>
        <select id="expires_days" name="expires_days">
          <option value="">Never</option>
          <option value="30">30 days</option>
          <option value="90">90 days</option>
          <option value="365">1 year</option>
        </select>
      </div>
      <div class="actions">
        <a class="button" href={HOME}>Cancel</a>
        <button type="submit" class="button primary">Create API key</button>
      </div>
    </form>
  );
}

apiKeys.get("/new", (c) => {
  assertSuperAdmin(c, "manage API keys");
  return page(
    c,
    { title: "New API key", section: "apikeys" },
    <NewKeyForm csrf={signedIn(c).session.csrf} />,
  );
});

/** Creates a key for the signed-in admin from parsed input. */
export async function createKeyFor(
  c: Context<AdminEnv>,
  input: z.infer<typeof NewApiKey>,
): Promise<Awaited<ReturnType<typeof createApiKey>>> {
  return await createApiKey(c.get("deps").kv, tenantOf(c).id, {
    name: input.name,
    scopes: input.scopes as ApiScope[],
    expiresAt: expiryOf(input.expires_days),
    createdBy: signedIn(c).admin.email,
    requestId: c.get("requestId"),
    clientIp: c.get("clientIp"),
  });
}

apiKeys.post("/", async (c) => {
  assertSuperAdmin(c, "manage API keys");
  const parsed = NewApiKey.safeParse(await readForm(c));
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? "input");
    return page(
      c,
      { title: "New API key", section: "apikeys", status: 400 },
      (
        <NewKeyForm
          csrf={signedIn(c).session.csrf}
          error={field === "scopes"
            ? "Choose at least one scope."
            : field === "name"
            ? `Enter a name of 1–${API_KEY_NAME_MAX} characters.`
            : "Choose an expiry from the list."}
        />
      ),
    );
  }
  const { key, secret } = await createKeyFor(c, parsed.data);
  return page(
    c,
    {
      title: `API key “${key.name}” created`,
      section: "apikeys",
      status: 201,
      headers: { "cache-control": "no-store" },
    },
    (
      <div class="narrow">
        <div class="secret-box" role="region" aria-label="New directory API key">
          <p class="warning">
            <strong>Copy this key now.</strong> It cannot be shown again: Weft stores only its hash.
          </p>
          <code class="secret" id="new-token-secret">{secret}</code>
          <Island
            name="CopyButton"
            component={CopyButton}
            props={{ text: secret, label: "directory API key" }}
          />
        </div>
        <p class="hint">
          Send it as <code>Authorization: Bearer &lt;key&gt;</code>. Scopes:{" "}
          {key.scopes.join(", ")}.
        </p>
        <p>
          <a class="button primary" href={HOME}>Done</a>
        </p>
      </div>
    ),
  );
});

apiKeys.post("/:keyId/revoke", async (c) => {
  assertSuperAdmin(c, "manage API keys");
  const keyId = c.req.param("keyId");
  const key = await getApiKey(c.get("deps").kv, tenantOf(c).id, keyId);
  if (!key || key.revokedAt) {
    throw new HttpError(404, "No such active API key: it was revoked already, or never existed");
  }
  const form = await readForm(c);
  if (form.confirmed !== "yes") {
    return page(
      c,
      { title: `Revoke API key “${key.name}”?`, section: "apikeys" },
      (
        <form method="post" action={c.req.path} class="card stack narrow">
          <p>Requests that use it get 401 at once. This cannot be undone.</p>
          <Csrf token={signedIn(c).session.csrf} />
          <input type="hidden" name="confirmed" value="yes" />
          <div class="actions">
            <a class="button" href={HOME}>Cancel</a>
            <button type="submit" class="button danger">Revoke</button>
          </div>
        </form>
      ),
    );
  }
  const done = await revokeApiKey(c.get("deps").kv, tenantOf(c).id, keyId, {
    actor: actorOf(c),
    requestId: c.get("requestId"),
    clientIp: c.get("clientIp"),
  });
  if (!done) throw new HttpError(409, "The API key was revoked meanwhile");
  return seeOther(`${HOME}?done=apikey-revoked`);
});
