/**
 * Identity providers: list, create, and the detail page with its tabs (Overview, SCIM
 * Provisioning, SAML). The SCIM tab is what the Okta setup guide asks an admin to check: the
 * base URL exactly as the IdP must call it, the tokens, recent authentication failures with
 * their reason and what to do, and the IdP's activity.
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
import { Badge, Csrf, Empty, Field, IdpText, Notice, Time } from "../../components/ui.tsx";
import { IDP_KIND_NAMES, idpOf, IdpTabs, scimBase } from "./_idp.tsx";
import { deletionStatus } from "./idp_manage.tsx";
import { FailureTable, RequestTable } from "./idp_requests.tsx";
import { listRequestLog } from "../../lib/store/request_log.ts";
import { ActivityChart } from "../../components/ActivityChart.tsx";
import { Island } from "../../lib/http/render.tsx";
import CopyButton from "../../islands/CopyButton.tsx";
import TokenCreate from "../../islands/TokenCreate.tsx";
import { isFirstRunToken, tokenState } from "../../lib/auth/token_state.ts";
import LiveUpdates from "../../islands/LiveUpdates.tsx";
import ConfirmForm from "../../islands/ConfirmForm.tsx";
import {
  createIdp,
  createToken,
  listIdps,
  listTokens,
  revokeToken,
  type TokenSummary,
} from "../../lib/store/tenants.ts";
import { type Idp, IDP_KINDS } from "../../lib/store/types.ts";
import { listAuthFailures } from "../../lib/store/scim_credentials.ts";
import { idpActivity, idpStats } from "../../lib/store/idp_stats.ts";
import { eventLabel, plural } from "../../islands/_format.ts";

/** `/admin/idps`. */
export const idps = new Hono<AdminEnv>();

function flash(c: Context<AdminEnv>) {
  const message = FLASH[c.req.query("done") ?? ""];
  return message ? <Notice tone="ok">{message}</Notice> : null;
}

idps.get("/", async (c) => {
  const tenant = tenantOf(c);
  const list = await listIdps(c.get("deps").kv, tenant.id);
  // A deletion left by a stopped process resumes when its connection is listed.
  await Promise.all(list.filter((i) => i.deletingSince).map((i) => deletionStatus(c, i.id)));
  return page(
    c,
    { title: "Identity providers", section: "idps" },
    (
      <>
        {flash(c)}
        <p class="toolbar">
          <span class="muted">
            Each connection has its own SCIM base URL and tokens.
          </span>
          {canManage(c) && (
            <a class="button primary" href="/admin/idps/new">New identity provider</a>
          )}
        </p>
        {list.length === 0 ? <Empty>No identity provider yet.</Empty> : (
          <div class="table-scroll">
            <table class="table rows">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Matches users by</th>
                  <th scope="col">SCIM</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {list.map((idp) => (
                  <tr key={idp.id}>
                    <td data-label="Name">
                      {idp.deletingSince
                        ? (
                          <>
                            <IdpText value={idp.name} />{" "}
                            <a href={`/admin/idps/${idp.id}/deletion`}>
                              <Badge tone="warn">deleting…</Badge>
                            </a>
                          </>
                        )
                        : (
                          <a href={`/admin/idps/${idp.id}`}>
                            <IdpText value={idp.name} />
                          </a>
                        )}
                    </td>
                    <td data-label="Kind">{IDP_KIND_NAMES[idp.kind] ?? idp.kind}</td>
                    <td data-label="Matches users by">
                      <code>{idp.matchBy}</code>
                    </td>
                    <td data-label="SCIM">
                      {idp.scimEnabled ? <Badge tone="ok">enabled</Badge> : <Badge>disabled</Badge>}
                    </td>
                    <td data-label="Created">
                      <Time iso={idp.createdAt} relative />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </>
    ),
  );
});

function NewIdpForm({ csrf, error }: { csrf?: string; error?: string }) {
  return (
    <form method="post" action="/admin/idps" class="card stack narrow">
      {error && <Notice tone="bad">{error}</Notice>}
      <Csrf token={csrf} />
      <Field id="name" label="Name" required maxLength={200} placeholder="Okta production" />
      <div class="field">
        <label for="kind">Kind</label>
        <select id="kind" name="kind" aria-describedby="kind-hint">
          {Object.entries(IDP_KIND_NAMES).map(([k, label]) => (
            <option key={k} value={k}>{label}</option>
          ))}
        </select>
        <p class="hint" id="kind-hint">Weft applies the known quirks of this IdP's SCIM client.</p>
      </div>
      <div class="field">
        <label for="matchBy">Match users by</label>
        <select id="matchBy" name="matchBy" aria-describedby="matchBy-hint">
          <option value="">The kind's default</option>
          <option value="externalId">externalId (the IdP's immutable user id)</option>
          <option value="userName">userName</option>
        </select>
        <p class="hint" id="matchBy-hint">
          Okta and most IdPs: externalId. Entra: userName (its externalId is mailNickname).
        </p>
      </div>
      <fieldset>
        <legend>SAML (optional, or later on the SAML tab)</legend>
        <Field id="entityId" label="IdP entity ID" maxLength={1000} />
        <Field id="ssoUrl" label="SSO URL" type="url" maxLength={2000} />
        <div class="field">
          <label for="certificate">Signing certificate (PEM)</label>
          <textarea id="certificate" name="certificate" rows={5} maxLength={20000} />
        </div>
      </fieldset>
      <div class="actions">
        <a class="button" href="/admin/idps">Cancel</a>
        <button type="submit" class="button primary">Create identity provider</button>
      </div>
    </form>
  );
}

idps.get("/new", (c) => {
  assertSuperAdmin(c, "connect identity providers");
  return page(
    c,
    { title: "New identity provider", section: "idps" },
    (
      <NewIdpForm csrf={signedIn(c).session.csrf} />
    ),
  );
});

const optionalText = (max: number) =>
  z.string().trim().max(max).optional().transform((v) => v || undefined);

const NewIdp = z.object({
  name: z.string().trim().min(1, "is required").max(200),
  kind: z.enum(IDP_KINDS),
  matchBy: z.enum(["", "externalId", "userName"]).optional(),
  entityId: optionalText(1000),
  ssoUrl: z.union([z.literal(""), z.string().trim().url().max(2000)]).optional(),
  certificate: optionalText(20000),
});

idps.post("/", async (c) => {
  assertSuperAdmin(c, "connect identity providers");
  const parsed = NewIdp.safeParse(await readForm(c));
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? "input");
    return page(
      c,
      { title: "New identity provider", section: "idps", status: 400 },
      (
        <NewIdpForm csrf={signedIn(c).session.csrf} error={`Check the field “${field}”.`} />
      ),
    );
  }
  const f = parsed.data;
  const saml = f.entityId || f.ssoUrl || f.certificate
    ? { entityId: f.entityId, ssoUrl: f.ssoUrl || undefined, certificate: f.certificate }
    : undefined;
  const idp = await createIdp(c.get("deps").kv, tenantOf(c).id, {
    name: f.name,
    kind: f.kind,
    matchBy: f.matchBy || undefined,
    saml: saml && JSON.parse(JSON.stringify(saml)),
    actor: actorOf(c),
  });
  return seeOther(`/admin/idps/${idp.id}/scim?done=idp-created`);
});

idps.get("/:id", async (c) => {
  const idp = await idpOf(c);
  const s = await idpStats(c.get("deps").kv, tenantOf(c).id, idp.id);
  return page(
    c,
    { title: idp.name, section: "idps" },
    (
      <>
        <IdpTabs idp={idp} current="overview" />
        {flash(c)}
        <dl class="figures card">
          <div>
            <dt>Users provisioned</dt>
            <dd>
              <a href={`/admin/users?idp=${idp.id}`}>{s.users}</a>
            </dd>
          </div>
          <div>
            <dt>Groups provisioned</dt>
            <dd>
              <a href={`/admin/groups?idp=${idp.id}`}>{s.groups}</a>
            </dd>
          </div>
          <div>
            <dt>Failed authentications (24 h)</dt>
            <dd>{s.failures24h}</dd>
          </div>
          <div>
            <dt>Last push</dt>
            <dd class="small">
              {s.lastPush
                ? (
                  <a href={`/admin/events/${s.lastPush.id}`}>
                    {eventLabel(s.lastPush.type)}, <Time iso={s.lastPush.at} relative />
                  </a>
                )
                : "none yet"}
            </dd>
          </div>
        </dl>
        <dl class="details">
          <dt>Connection id</dt>
          <dd>
            <code>{idp.id}</code>
          </dd>
          <dt>Kind</dt>
          <dd>{IDP_KIND_NAMES[idp.kind] ?? idp.kind}</dd>
          <dt>Matches users by</dt>
          <dd>
            <code>{idp.matchBy}</code>
          </dd>
          <dt>When the IdP deletes a user</dt>
          <dd>
            {idp.deprovisioning === "delete"
              ? "Delete the user and erase its names"
              : "Unlink: deactivate and keep the user"}
          </dd>
          <dt>SCIM provisioning</dt>
          <dd>{idp.scimEnabled ? "enabled" : "disabled"}</dd>
          <dt>Created</dt>
          <dd>
            <Time iso={idp.createdAt} relative />
          </dd>
        </dl>
        <p>
          <a href={`/admin/events?idp=${idp.id}`}>This IdP's events in the Event Log →</a>
        </p>
        {canManage(c) && (
          <p class="actions">
            <a class="button" href={`/admin/idps/${idp.id}/edit`}>Edit connection</a>
            <a class="button subtle-danger" href={`/admin/idps/${idp.id}/delete`}>
              Delete connection…
            </a>
          </p>
        )}
      </>
    ),
  );
});

/** SCIM provisioning's state, and (super admins) the switch that turns it off or on. */
function ProvisioningSwitch({ idp, csrf, manage }: { idp: Idp; csrf: string; manage: boolean }) {
  return (
    <section
      aria-labelledby="provisioning-h"
      class={`card provisioning ${idp.scimEnabled ? "on" : "off"}`}
    >
      <h2 id="provisioning-h">
        SCIM provisioning is {idp.scimEnabled ? "on" : "off"}{" "}
        {idp.scimEnabled ? <Badge tone="ok">on</Badge> : <Badge tone="warn">off</Badge>}
      </h2>
      <p class="hint">
        {idp.scimEnabled
          ? "The IdP's requests with its tokens are served."
          : "Every request is answered 401 scim_disabled and recorded with the failures below; nothing is changed."}
      </p>
      {manage && (
        <form method="post" action={`/admin/idps/${idp.id}/scim-provisioning`} class="inline">
          <Csrf token={csrf} />
          <input type="hidden" name="enabled" value={idp.scimEnabled ? "off" : "on"} />
          <button type="submit" class={idp.scimEnabled ? "button" : "button primary"}>
            {idp.scimEnabled ? "Turn SCIM provisioning off" : "Turn SCIM provisioning on"}
          </button>
        </form>
      )}
    </section>
  );
}

function tokenStatus(t: TokenSummary, now: number) {
  const state = tokenState(t, now);
  return (
    <Badge tone={state === "active" ? "ok" : state === "revoked" ? "bad" : "warn"}>{state}</Badge>
  );
}

/** While the first-run token is active: where its plaintext went, and when to revoke it. */
function FirstRunTokenNotice({ tokens, now }: { tokens: TokenSummary[]; now: number }) {
  const active = (t: TokenSummary) => tokenState(t, now) === "active";
  const first = tokens.find((t) => isFirstRunToken(t) && active(t));
  if (!first) return null;
  const named = tokens.find((t) => !isFirstRunToken(t) && active(t));
  return (
    <Notice tone="warn">
      <p id="first-run-token">
        <strong>The first-run token is still active.</strong>{" "}
        Weft minted it at its first start and printed its plaintext to the terminal that started it,
        so anyone who saw that terminal or its scrollback has it. {named
          ? (
            <>
              Now that “<IdpText value={named.name} />” exists, revoke the first-run token once the
              IdP uses the named one (its last use shows when it stopped).
            </>
          )
          : "Create a named token for the IdP, paste it there, then revoke this one."}
      </p>
    </Notice>
  );
}

idps.get("/:id/scim", async (c) => {
  const idp = await idpOf(c);
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const { config } = c.get("deps");
  const [tokens, failures, activity, latest, errors] = await Promise.all([
    listTokens(kv, tenant.id, idp.id),
    listAuthFailures(kv, tenant.id, idp.id, 200),
    idpActivity(kv, tenant.id, idp.id),
    listRequestLog(kv, tenant.id, idp.id, { limit: 10 }),
    listRequestLog(kv, tenant.id, idp.id, { errorsOnly: true, limit: 100 }),
  ]);
  const now = Date.now();
  const since = new Date(now - 7 * 86_400_000).toISOString().slice(0, 13);
  const requests = latest.entries;
  const failed = errors.entries.filter((e) => e.authFailure).slice(0, 30);
  const tallied = failures.filter((f) => f.hour >= since).reduce((n, f) => n + f.count, 0);
  const base = scimBase(c, idp.id);
  const manage = canManage(c);
  const csrf = signedIn(c).session.csrf;
  return page(
    c,
    { title: idp.name, section: "idps" },
    (
      <>
        <IdpTabs idp={idp} current="scim" />
        <Island
          name="LiveUpdates"
          component={LiveUpdates}
          props={{ stream: `/admin/api/live?idp=${idp.id}` }}
        />
        {flash(c)}
        <ProvisioningSwitch idp={idp} csrf={csrf} manage={manage} />
        <section aria-labelledby="base-url-h" class="card">
          <h2 id="base-url-h">SCIM base URL</h2>
          <p class="hint">
            Paste this exactly, with its trailing slash, as the IdP's SCIM connector base URL (Okta)
            or Tenant URL (Entra).
          </p>
          <div class="copy-row">
            <code class="url" id="scim-base-url">{base}</code>
            <Island
              name="CopyButton"
              component={CopyButton}
              props={{ text: base, label: "SCIM base URL" }}
            />
          </div>
        </section>

        <section aria-labelledby="tokens-h">
          <div class="toolbar">
            <h2 id="tokens-h">Tokens</h2>
            {manage && (
              <Island
                name="TokenCreate"
                component={TokenCreate}
                props={{
                  idpId: idp.id,
                  idpName: idp.name,
                  fallbackHref: `/admin/idps/${idp.id}/tokens/new`,
                }}
              />
            )}
          </div>
          <FirstRunTokenNotice tokens={tokens} now={now} />
          {tokens.length === 0
            ? <Empty>No token yet: the IdP cannot authenticate.</Empty>
            : (
              <div class="table-scroll">
                <table class="table rows" id="tokens">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Created by</th>
                      <th scope="col">Created</th>
                      <th scope="col">Last used</th>
                      <th scope="col">Status</th>
                      {manage && (
                        <th scope="col">
                          <span class="visually-hidden">Actions</span>
                        </th>
                      )}
                    </tr>
                  </thead>
                  <tbody>
                    {tokens.map((t) => (
                      <tr key={t.id} data-token-id={t.id}>
                        <td data-label="Name">
                          <IdpText value={t.name} /> <code class="muted">{t.prefix}…</code>
                          {isFirstRunToken(t) && (
                            <>
                              {" "}
                              <Badge tone="warn">first-run token</Badge>
                            </>
                          )}
                        </td>
                        <td data-label="Created by">
                          {isFirstRunToken(t) ? "the first start" : <IdpText value={t.createdBy} />}
                        </td>
                        <td data-label="Created">
                          <Time iso={t.createdAt} relative />
                        </td>
                        <td data-label="Last used">
                          {t.lastUsed
                            ? (
                              <>
                                <Time iso={t.lastUsed.at} relative />{" "}
                                <span class="muted">from {t.lastUsed.ip}</span>
                              </>
                            )
                            : <span class="muted">never</span>}
                        </td>
                        <td data-label="Status">
                          {tokenStatus(t, now)}
                          {t.revokedAt && (
                            <span class="muted small">
                              {" "}
                              <Time iso={t.revokedAt} /> by {t.revokedBy}
                            </span>
                          )}
                        </td>
                        {manage && (
                          <td data-label="Actions">
                            {!t.revokedAt && (
                              <Island
                                name="ConfirmForm"
                                component={ConfirmForm}
                                props={{
                                  action: `/admin/idps/${idp.id}/tokens/${t.id}/revoke`,
                                  csrf,
                                  label: "Revoke",
                                  title: `Revoke token “${t.name}”?`,
                                  message:
                                    "The IdP's requests with this token will be refused with 401 at once. This cannot be undone.",
                                  danger: true,
                                }}
                              />
                            )}
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
        </section>

        <section aria-labelledby="requests-h" id="recent-requests" data-live="requests">
          <div class="toolbar">
            <h2 id="requests-h">Recent requests</h2>
            <a href={`/admin/idps/${idp.id}/requests`}>All requests and filters →</a>
          </div>
          {requests.length === 0
            ? (
              <Empty>
                No SCIM request yet{config.requestLogDays
                  ? ""
                  : " (the request log is off: WEFT_REQUEST_LOG_DAYS=0)"}.
              </Empty>
            )
            : <RequestTable idpId={idp.id} entries={requests} />}
        </section>

        <section aria-labelledby="failures-h" id="failures" data-live="failures">
          <h2 id="failures-h">Recent authentication failures</h2>
          {failed.length === 0
            ? (
              <Empty>
                No failed SCIM authentication in the last{" "}
                {plural(config.requestLogDays || 7, "day")}
                {tallied ? ` (${tallied} counted, outside the request log)` : ""}.
              </Empty>
            )
            : <FailureTable idpId={idp.id} entries={failed} />}
          <details class="help">
            <summary>Troubleshooting a 401 from the IdP</summary>
            <ul>
              <li>
                Use the token alone in the IdP's HTTP Header field: Okta and Entra add “Bearer ”
                themselves, so “Bearer Bearer …” is refused.
              </li>
              <li>Copy tokens without spaces or line breaks.</li>
              <li>
                A token works only with the base URL of its own IdP connection; a revoked or expired
                token must be replaced with a new one.
              </li>
              <li>
                Okta's “Test Connector Configuration” sends{" "}
                <code>GET /Users?startIndex=1&count=2</code>: a failure appears here within seconds.
              </li>
            </ul>
          </details>
        </section>

        <section aria-labelledby="activity-h" data-live="activity">
          <h2 id="activity-h">Activity</h2>
          <ActivityChart activity={activity} label={`Events of ${idp.name} per hour`} />
        </section>
      </>
    ),
  );
});

function NewTokenForm({ idp, csrf, error }: { idp: Idp; csrf: string; error?: string }) {
  return (
    <form method="post" action={`/admin/idps/${idp.id}/tokens`} class="card stack narrow">
      {error && <Notice tone="bad">{error}</Notice>}
      <Csrf token={csrf} />
      <Field
        id="name"
        label="Token name"
        required
        maxLength={100}
        hint="For example okta-production."
      />
      <div class="actions">
        <a class="button" href={`/admin/idps/${idp.id}/scim`}>Cancel</a>
        <button type="submit" class="button primary">Create token</button>
      </div>
    </form>
  );
}

idps.get("/:id/tokens/new", async (c) => {
  assertSuperAdmin(c, "create SCIM tokens");
  const idp = await idpOf(c);
  return page(
    c,
    { title: `New token for ${idp.name}`, section: "idps" },
    (
      <NewTokenForm idp={idp} csrf={signedIn(c).session.csrf} />
    ),
  );
});

/** The token name contract, shared with the JSON endpoint. */
export const TokenName = z.object({ name: z.string().trim().min(1).max(100) });

idps.post("/:id/tokens", async (c) => {
  assertSuperAdmin(c, "create SCIM tokens");
  const idp = await idpOf(c);
  const parsed = TokenName.safeParse(await readForm(c));
  if (!parsed.success) {
    return page(
      c,
      { title: `New token for ${idp.name}`, section: "idps", status: 400 },
      (
        <NewTokenForm
          idp={idp}
          csrf={signedIn(c).session.csrf}
          error="Enter a name of 1–100 characters."
        />
      ),
    );
  }
  const { secret, token } = await createToken(c.get("deps").kv, tenantOf(c).id, idp.id, {
    name: parsed.data.name,
    createdBy: signedIn(c).admin.email,
    requestId: c.get("requestId"),
  });
  return page(
    c,
    { title: `Token “${token.name}” created`, section: "idps", status: 201 },
    (
      <div class="narrow">
        <div class="secret-box" role="region" aria-label="New SCIM token">
          <p class="warning">
            <strong>Copy this token now.</strong>{" "}
            It cannot be shown again: Weft stores only its hash.
          </p>
          <code class="secret" id="new-token-secret">{secret}</code>
          <Island
            name="CopyButton"
            component={CopyButton}
            props={{ text: secret, label: "SCIM token" }}
          />
        </div>
        <p>
          <a class="button primary" href={`/admin/idps/${idp.id}/scim`}>
            Back to SCIM Provisioning
          </a>
        </p>
      </div>
    ),
  );
});

const Revoke = z.object({ confirmed: z.literal("yes").optional() });

idps.post("/:id/tokens/:tokenId/revoke", async (c) => {
  assertSuperAdmin(c, "revoke SCIM tokens");
  const idp = await idpOf(c);
  const tokenId = c.req.param("tokenId");
  const form = parseInput(Revoke, await readForm(c).then(({ confirmed }) => ({ confirmed })));
  const { kv } = c.get("deps");
  const token = (await listTokens(kv, tenantOf(c).id, idp.id)).find((t) => t.id === tokenId);
  if (!token) throw new HttpError(404, "This token does not exist");
  if (!form.confirmed) {
    // Without JavaScript there was no dialog: ask here.
    return page(
      c,
      { title: `Revoke token “${token.name}”?`, section: "idps" },
      (
        <form method="post" action={c.req.path} class="card stack narrow">
          <Csrf token={signedIn(c).session.csrf} />
          <input type="hidden" name="confirmed" value="yes" />
          <p>The IdP's requests with this token will be refused with 401 at once.</p>
          <div class="actions">
            <a class="button" href={`/admin/idps/${idp.id}/scim`}>Cancel</a>
            <button type="submit" class="button danger">Revoke</button>
          </div>
        </form>
      ),
    );
  }
  if (!token.revokedAt) {
    await revokeToken(kv, tenantOf(c).id, idp.id, token.id, signedIn(c).admin.email);
  }
  return seeOther(`/admin/idps/${idp.id}/scim?done=token-revoked`);
});
