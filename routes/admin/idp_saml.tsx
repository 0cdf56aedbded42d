/**
 * An IdP connection's SAML tab, where single sign-on is set up: the values to paste into the IdP
 * (with copy buttons) and the SP metadata, the IdP's settings (metadata import, or entity ID, SSO
 * URL and certificates by hand), the trusted certificates with fingerprint and expiry, the
 * IdP-initiated, JIT and matching settings, the optional SP key pair, a Test sign-in that runs a
 * real SP-initiated flow and reports each check without signing the admin in, and the recent
 * refusals with what to do.
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
  readForm,
  readFormFile,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Badge, Csrf, Empty, Notice, Time } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import CopyButton from "../../islands/CopyButton.tsx";
import ConfirmForm from "../../islands/ConfirmForm.tsx";
import type { SamlSettings } from "../../lib/store/types.ts";
import {
  emptySamlSettings,
  getSamlSettings,
  getTestResult,
  isSamlConfigured,
  listRefusals,
  saveSamlRequest,
  updateSamlSettings,
} from "../../lib/store/saml.ts";
import { authnRequestUrl, NAMEID_EMAIL, newRequestId, spUrls } from "../../lib/saml/sp.ts";
import { describeCertificate, makeKeyPair, readCertificates } from "../../lib/saml/x509.ts";
import { MAX_METADATA_BYTES, MetadataError, parseIdpMetadata } from "../../lib/saml/metadata.ts";
import { REFUSAL_HELP, type RefusalReason } from "../../lib/saml/reasons.ts";
import type { TestReport } from "../../lib/saml/sign_in.ts";
import { isSafeHeaderValue } from "../../lib/http/paths.ts";
import { idpOf, IdpTabs } from "./_idp.tsx";
import { plural } from "../../lib/words.ts";

/** `/admin/idps/:id/saml…`. */
export const idpSaml = new Hono<AdminEnv>();

/** Certificates expiring sooner than this are flagged. */
const WARN_BEFORE_MS = 30 * 86_400_000;

/** A short, stable id of a stored certificate entry (for its remove button). */
async function certId(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

function CopyValue({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <div class="copy-row">
      <code class="url" id={id}>{value}</code>
      <Island name="CopyButton" component={CopyButton} props={{ text: value, label }} />
    </div>
  );
}

function CertificateRows(
  { certs, ids, csrf, manage, idpId }: {
    certs: string[];
    ids: string[];
    csrf: string;
    manage: boolean;
    idpId: string;
  },
) {
  const now = Date.now();
  return (
    <div class="table-scroll">
      <table class="table" id="certificates">
        <thead>
          <tr>
            <th scope="col">Subject</th>
            <th scope="col">SHA-256 fingerprint</th>
            <th scope="col">Expires</th>
            {manage && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {certs.map((pem, i) => {
            const info = describeCertificate(pem);
            const left = info ? Date.parse(info.notAfter) - now : 0;
            return (
              <tr key={ids[i]} data-cert={ids[i]}>
                <td>
                  {info ? info.subject : (
                    <>
                      <Badge tone="bad">unreadable</Badge>{" "}
                      <span>This text is not a certificate and verifies nothing:</span>
                      <pre class="pem">{pem}</pre>
                    </>
                  )}
                </td>
                <td>
                  {info && <code class="fingerprint">{info.fingerprint}</code>}
                </td>
                <td class="nowrap">
                  {info && (
                    <>
                      <Time iso={info.notAfter} /> {left <= 0
                        ? <Badge tone="bad">expired</Badge>
                        : left < WARN_BEFORE_MS
                        ? (
                          <Badge tone="warn">
                            expires in {plural(Math.ceil(left / 86_400_000), "day")}
                          </Badge>
                        )
                        : null}
                    </>
                  )}
                </td>
                {manage && (
                  <td>
                    <Island
                      name="ConfirmForm"
                      component={ConfirmForm}
                      props={{
                        action: `/admin/idps/${idpId}/saml/certificates/${ids[i]}/remove`,
                        csrf,
                        label: "Remove",
                        title: "Stop trusting this certificate?",
                        message:
                          "Responses signed with its key are refused at once. Keep it until the IdP has switched to the new one.",
                        danger: true,
                      }}
                    />
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function SettingsForm({ s, csrf, idpId }: { s: SamlSettings; csrf: string; idpId: string }) {
  return (
    <form method="post" action={`/admin/idps/${idpId}/saml`} class="card stack" id="saml-settings">
      <h3>Enter by hand</h3>
      <Csrf token={csrf} />
      <div class="field">
        <label for="entityId">IdP entity ID (issuer)</label>
        <input id="entityId" name="entityId" value={s.entityId ?? ""} maxLength={1000} />
      </div>
      <div class="field">
        <label for="ssoUrl">IdP SSO URL (HTTP-Redirect)</label>
        <input id="ssoUrl" name="ssoUrl" type="url" value={s.ssoUrl ?? ""} maxLength={2000} />
      </div>
      <div class="field">
        <label for="certificate">Add a signing certificate (PEM)</label>
        <textarea id="certificate" name="certificate" rows={4} maxLength={20000} />
        <p class="hint">
          Trusted certificates are listed above; add the new one before a rotation.
        </p>
      </div>
      <div class="field">
        <label for="matchAttribute">Match users by</label>
        <input
          id="matchAttribute"
          name="matchAttribute"
          value={s.matchAttribute ?? ""}
          maxLength={200}
          placeholder="NameID"
          aria-describedby="matchAttribute-hint"
        />
        <p class="hint" id="matchAttribute-hint">
          Empty: the NameID. Or an attribute name the IdP sends. Either is matched to the userName,
          then the email, of users this IdP provisioned.
        </p>
      </div>
      <div class="field check">
        <input
          type="checkbox"
          id="idpInitiated"
          name="idpInitiated"
          value="on"
          checked={s.idpInitiated}
        />
        <label for="idpInitiated">Allow IdP-initiated sign-in (the IdP's dashboard tile)</label>
      </div>
      <div class="field check">
        <input type="checkbox" id="jit" name="jit" value="on" checked={s.jit} />
        <label for="jit">
          Create people just in time when no provisioned user matches (SCIM stays the source of
          truth)
        </label>
      </div>
      <div class="actions">
        <button type="submit" class="button primary">Save SAML settings</button>
      </div>
    </form>
  );
}

idpSaml.get("/:id/saml", async (c) => {
  const idp = await idpOf(c);
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const [stored, refusals] = await Promise.all([
    getSamlSettings(kv, tenant.id, idp.id),
    listRefusals(kv, tenant.id, idp.id, 200),
  ]);
  const s = stored ?? emptySamlSettings(tenant.id, idp.id);
  const urls = spUrls(c.get("origin"), idp.id);
  const manage = canManage(c);
  const csrf = signedIn(c).session.csrf;
  const ids = await Promise.all(s.certificates.map(certId));
  const since = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 13);
  const recent = refusals.filter((r) => r.hour >= since).slice(0, 30);
  const flash = FLASH[c.req.query("done") ?? ""];
  const error = c.req.query("error");
  return page(
    c,
    { title: idp.name, section: "idps" },
    <>
      <IdpTabs idp={idp} current="saml" />
      {flash && <Notice tone="ok">{flash}</Notice>}
      {error === "not-configured" && (
        <Notice tone="bad">
          Set the IdP's entity ID, SSO URL and a certificate before testing.
        </Notice>
      )}
      <p>
        {isSamlConfigured(s)
          ? <Badge tone="ok">single sign-on set up</Badge>
          : <Badge tone="warn">not set up yet</Badge>} <span class="muted">People sign in at</span>
        {" "}
        <code>{`${c.get("origin")}/login`}</code>
      </p>

      <section aria-labelledby="sp-h" class="card stack" id="sp-values">
        <h2 id="sp-h">Values for {idp.name}</h2>
        <p class="hint">
          Paste these into the IdP's SAML app (Okta: General → SAML Settings; Entra: Single sign-on
          → Basic SAML Configuration), or give it the metadata URL.
        </p>
        <h3>Single sign-on URL (ACS URL, Reply URL, Recipient)</h3>
        <CopyValue id="acs-url" label="ACS URL" value={urls.acsUrl} />
        <h3>Audience URI (SP entity ID, Identifier)</h3>
        <CopyValue id="sp-entity-id" label="SP entity ID" value={urls.entityId} />
        <h3>SP metadata URL</h3>
        <CopyValue id="metadata-url" label="metadata URL" value={urls.metadataUrl} />
        <p>
          <a href={`/saml/${idp.id}/metadata`} download={`weft-${idp.id}-metadata.xml`}>
            Download SP metadata
          </a>
        </p>
        <dl class="details">
          <dt>Name ID format</dt>
          <dd>
            <code>{NAMEID_EMAIL}</code> (EmailAddress), the user's userName or email
          </dd>
          <dt>Attribute statements</dt>
          <dd>
            <code>email</code>, <code>firstName</code>, <code>lastName</code>{" "}
            <span class="muted">(used only for just-in-time creation)</span>
          </dd>
          <dt>Signing</dt>
          <dd>Sign the assertion or the response, RSA-SHA256</dd>
        </dl>
      </section>

      <section aria-labelledby="idp-h" id="idp-settings">
        <h2 id="idp-h">{idp.name}'s settings</h2>
        <dl class="details">
          <dt>IdP entity ID</dt>
          <dd>{s.entityId ?? "—"}</dd>
          <dt>SSO URL</dt>
          <dd>{s.ssoUrl ?? "—"}</dd>
          <dt>IdP-initiated sign-in</dt>
          <dd>{s.idpInitiated ? "allowed" : "off"}</dd>
          <dt>Just-in-time creation</dt>
          <dd>{s.jit ? "on" : "off"}</dd>
          <dt>Matches users by</dt>
          <dd>{s.matchAttribute ? <code>{s.matchAttribute}</code> : "NameID"}</dd>
        </dl>
        <h3>Trusted signing certificates</h3>
        {s.certificates.length === 0
          ? <Empty>No certificate yet: no response can be verified.</Empty>
          : (
            <CertificateRows
              certs={s.certificates}
              ids={ids}
              csrf={csrf}
              manage={manage}
              idpId={idp.id}
            />
          )}
        {manage && (
          <div class="grid-2">
            <form
              method="post"
              action={`/admin/idps/${idp.id}/saml/metadata`}
              enctype="multipart/form-data"
              class="card stack"
              id="metadata-import"
            >
              <h3>Import the IdP's metadata</h3>
              <Csrf token={csrf} />
              <div class="field">
                <label for="metadata">Paste metadata XML</label>
                <textarea id="metadata" name="metadata" rows={6} maxLength={MAX_METADATA_BYTES} />
              </div>
              <div class="field">
                <label for="file">or upload the file</label>
                <input id="file" name="file" type="file" accept=".xml,application/xml,text/xml" />
              </div>
              <p class="hint">Replaces the entity ID, SSO URL and certificates.</p>
              <div class="actions">
                <button type="submit" class="button primary">Import metadata</button>
              </div>
            </form>
            <SettingsForm s={s} csrf={csrf} idpId={idp.id} />
          </div>
        )}
      </section>

      <section aria-labelledby="test-h" class="card stack" id="test-sign-in">
        <h2 id="test-h">Test sign-in</h2>
        <p class="hint">
          Runs a real SP-initiated sign-in with {idp.name}{" "}
          and shows what came back and each check's result. You are not signed in as that person.
        </p>
        <p>
          <a class="button primary" href={`/admin/idps/${idp.id}/saml/test`}>Test sign-in</a>
        </p>
      </section>

      <section aria-labelledby="sp-key-h" id="sp-key">
        <h2 id="sp-key-h">SP key pair (optional)</h2>
        {s.spKey
          ? (
            <>
              <p>
                AuthnRequests are signed and encrypted assertions are accepted. Certificate{" "}
                <code class="fingerprint">
                  {describeCertificate(s.spKey.certificate)?.fingerprint}
                </code>{" "}
                (in the SP metadata).
              </p>
              {manage && (
                <Island
                  name="ConfirmForm"
                  component={ConfirmForm}
                  props={{
                    action: `/admin/idps/${idp.id}/saml/sp-key/remove`,
                    csrf,
                    label: "Remove SP key pair",
                    title: "Remove the SP key pair?",
                    message:
                      "AuthnRequests will be unsigned and encrypted assertions refused. Turn encryption off in the IdP first.",
                    danger: true,
                  }}
                />
              )}
            </>
          )
          : (
            <>
              <p class="muted">
                None: AuthnRequests are unsigned and assertions must not be encrypted.
              </p>
              {manage && (
                <form method="post" action={`/admin/idps/${idp.id}/saml/sp-key`} class="inline">
                  <Csrf token={csrf} />
                  <button type="submit" class="button">Create an SP key pair</button>
                </form>
              )}
            </>
          )}
      </section>

      <section aria-labelledby="refusals-h" id="refusals">
        <h2 id="refusals-h">Recent refused sign-ins</h2>
        {recent.length === 0
          ? <Empty>No refused sign-in in the last 7 days.</Empty>
          : (
            <div class="table-scroll">
              <table class="table" id="saml-refusals">
                <thead>
                  <tr>
                    <th scope="col">Hour (UTC)</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Sign-ins</th>
                    <th scope="col">What to do</th>
                  </tr>
                </thead>
                <tbody>
                  {recent.map((r) => (
                    <tr key={`${r.hour}-${r.reason}`} data-reason={r.reason}>
                      <td class="nowrap">{r.hour.replace("T", " ")}:00</td>
                      <td>
                        <Badge tone="bad">{r.reason.replaceAll("_", " ")}</Badge>
                      </td>
                      <td>{r.count}</td>
                      <td>{REFUSAL_HELP[r.reason as RefusalReason]?.admin ?? ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        <p>
          <a href={`/admin/events?idp=${idp.id}&type=saml_sign_in_refused`}>
            Refusals in the Event Log →
          </a>
        </p>
      </section>
    </>,
  );
});

const optional = (max: number) =>
  z.string().trim().max(max).optional().transform((v) => v || undefined);

const SettingsInput = z.object({
  entityId: optional(1000),
  ssoUrl: z.union([z.literal(""), z.url({ protocol: /^https?$/ }).max(2000)]).optional()
    .transform((v) => v || undefined),
  certificate: optional(20000),
  matchAttribute: optional(200),
  idpInitiated: z.literal("on").optional(),
  jit: z.literal("on").optional(),
});

idpSaml.post("/:id/saml", async (c) => {
  assertSuperAdmin(c, "change SAML settings");
  const idp = await idpOf(c);
  const parsed = SettingsInput.safeParse(await readForm(c));
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? "input");
    throw new HttpError(400, `Check the field “${field}” and save again.`);
  }
  const f = parsed.data;
  const added = f.certificate ? readCertificates(f.certificate) : [];
  if (f.certificate && added.length === 0) {
    throw new HttpError(400, "The certificate is not a readable PEM or base64 X.509 certificate.");
  }
  await updateSamlSettings(
    c.get("deps").kv,
    { tenantId: tenantOf(c).id, idpId: idp.id, actor: actorOf(c), requestId: c.get("requestId") },
    (s) => ({
      ...s,
      entityId: f.entityId,
      ssoUrl: f.ssoUrl,
      certificates: [...new Set([...s.certificates, ...added])],
      matchAttribute: f.matchAttribute,
      idpInitiated: f.idpInitiated === "on",
      jit: f.jit === "on",
    }),
    "SAML settings changed",
  );
  return seeOther(`/admin/idps/${idp.id}/saml?done=saml-saved`);
});

idpSaml.post("/:id/saml/metadata", async (c) => {
  assertSuperAdmin(c, "change SAML settings");
  const idp = await idpOf(c);
  const form = await readForm(c);
  let xml = typeof form.metadata === "string" ? form.metadata.trim() : "";
  const file = await readFormFile(c, "file");
  if (!xml && file && file.size > 0) {
    if (file.size > MAX_METADATA_BYTES) throw new HttpError(413, "The metadata file is too large");
    xml = (await file.text()).trim();
  }
  if (!xml) throw new HttpError(400, "Paste the IdP's metadata XML or choose its file.");
  let md;
  try {
    md = await parseIdpMetadata(xml);
  } catch (error) {
    if (error instanceof MetadataError) throw new HttpError(400, error.message);
    throw error;
  }
  await updateSamlSettings(
    c.get("deps").kv,
    { tenantId: tenantOf(c).id, idpId: idp.id, actor: actorOf(c), requestId: c.get("requestId") },
    (s) => ({ ...s, entityId: md.entityId, ssoUrl: md.ssoUrl, certificates: md.certificates }),
    "SAML settings imported from IdP metadata",
  );
  return seeOther(`/admin/idps/${idp.id}/saml?done=saml-imported`);
});

idpSaml.post("/:id/saml/certificates/:cert/remove", async (c) => {
  assertSuperAdmin(c, "change SAML settings");
  const idp = await idpOf(c);
  const form = await readForm(c);
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const s = await getSamlSettings(kv, tenant.id, idp.id);
  const target = c.req.param("cert");
  const ids = await Promise.all((s?.certificates ?? []).map(certId));
  if (!ids.includes(target)) throw new HttpError(404, "This certificate is not trusted here");
  if (form.confirmed !== "yes") {
    return confirmPage(c, "Stop trusting this certificate?", c.req.path, idp.id);
  }
  await updateSamlSettings(
    kv,
    { tenantId: tenant.id, idpId: idp.id, actor: actorOf(c), requestId: c.get("requestId") },
    (cur) => ({
      ...cur,
      certificates: cur.certificates.filter((_, i) => ids[i] !== target),
    }),
    "Trusted SAML certificate removed",
  );
  return seeOther(`/admin/idps/${idp.id}/saml?done=certificate-removed`);
});

idpSaml.post("/:id/saml/sp-key", async (c) => {
  assertSuperAdmin(c, "change SAML settings");
  const idp = await idpOf(c);
  const kp = makeKeyPair({ commonName: `Weft SP ${idp.id}` });
  await updateSamlSettings(
    c.get("deps").kv,
    { tenantId: tenantOf(c).id, idpId: idp.id, actor: actorOf(c), requestId: c.get("requestId") },
    (s) => ({ ...s, spKey: { privateKey: kp.privateKey, certificate: kp.certificate } }),
    "SP key pair created",
  );
  return seeOther(`/admin/idps/${idp.id}/saml?done=sp-key-created`);
});

idpSaml.post("/:id/saml/sp-key/remove", async (c) => {
  assertSuperAdmin(c, "change SAML settings");
  const idp = await idpOf(c);
  const form = await readForm(c);
  if (form.confirmed !== "yes") {
    return confirmPage(c, "Remove the SP key pair?", c.req.path, idp.id);
  }
  await updateSamlSettings(
    c.get("deps").kv,
    { tenantId: tenantOf(c).id, idpId: idp.id, actor: actorOf(c), requestId: c.get("requestId") },
    (s) => ({ ...s, spKey: undefined }),
    "SP key pair removed",
  );
  return seeOther(`/admin/idps/${idp.id}/saml?done=sp-key-removed`);
});

function confirmPage(c: Context<AdminEnv>, title: string, action: string, idpId: string) {
  return page(
    c,
    { title, section: "idps" },
    <form method="post" action={action} class="card stack narrow">
      <Csrf token={signedIn(c).session.csrf} />
      <input type="hidden" name="confirmed" value="yes" />
      <p>This takes effect at once for every sign-in.</p>
      <div class="actions">
        <a class="button" href={`/admin/idps/${idpId}/saml`}>Cancel</a>
        <button type="submit" class="button danger">Confirm</button>
      </div>
    </form>,
  );
}

// A link, not a form: the console's CSP allows forms to post only to itself, and the test
// continues at the IdP. It only starts a flow whose result this admin session alone can read.
idpSaml.get("/:id/saml/test", async (c) => {
  const { admin, session } = signedIn(c);
  const idp = await idpOf(c);
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const s = await getSamlSettings(kv, tenant.id, idp.id);
  if (!isSamlConfigured(s)) return seeOther(`/admin/idps/${idp.id}/saml?error=not-configured`);
  const requestId = newRequestId();
  await saveSamlRequest(kv, {
    id: requestId,
    tenantId: tenant.id,
    idpId: idp.id,
    createdAt: new Date().toISOString(),
    test: { adminId: admin.id, sessionId: session.id },
  });
  const url = await authnRequestUrl(s, spUrls(c.get("origin"), idp.id), requestId, "");
  if (!isSafeHeaderValue(url)) throw new HttpError(400, "The SSO URL cannot be used");
  return seeOther(url);
});

idpSaml.get("/:id/saml/test/:request", async (c) => {
  const { session } = signedIn(c);
  const idp = await idpOf(c);
  const report = await getTestResult<TestReport>(
    c.get("deps").kv,
    tenantOf(c).id,
    c.req.param("request"),
  );
  if (!report || report.sessionId !== session.id || report.idpId !== idp.id) {
    throw new HttpError(
      404,
      "No test sign-in result here: it expired or was started by another session",
    );
  }
  const accepted = report.outcome === "accepted";
  return page(
    c,
    { title: `Test sign-in with ${idp.name}`, section: "idps" },
    <>
      <IdpTabs idp={idp} current="saml" />
      <div id="test-result" data-outcome={report.outcome}>
        {accepted
          ? (
            <Notice tone="ok">
              <p>
                <strong>A real sign-in would succeed.</strong>{" "}
                You were not signed in as that person.
              </p>
            </Notice>
          )
          : (
            <Notice tone="bad">
              <p>
                <strong>A real sign-in would be refused:</strong> <code>{report.outcome}</code>.
              </p>
              <p>{REFUSAL_HELP[report.outcome as RefusalReason]?.admin}</p>
            </Notice>
          )}
        <div class="table-scroll">
          <table class="table" id="test-checks">
            <caption>Checks</caption>
            <thead>
              <tr>
                <th scope="col">Check</th>
                <th scope="col">Result</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {report.checks.map((ch) => (
                <tr key={ch.name} data-check={ch.name}>
                  <th scope="row">{ch.name}</th>
                  <td>
                    {ch.ok === true
                      ? <Badge tone="ok">passed</Badge>
                      : ch.ok === false
                      ? <Badge tone="bad">failed</Badge>
                      : <Badge>not run</Badge>}
                  </td>
                  <td>{ch.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {report.received && (
          <section class="card" id="test-received">
            <h2>What {idp.name} sent (signed)</h2>
            <dl class="details">
              <dt>Issuer</dt>
              <dd>{report.received.issuer}</dd>
              <dt>NameID</dt>
              <dd>
                <code>{report.received.nameId}</code>
              </dd>
              <dt>NameID format</dt>
              <dd>{report.received.nameIdFormat ?? "—"}</dd>
              <dt>Matched user</dt>
              <dd>
                {report.user
                  ? <a href={`/admin/users/${report.user.id}`}>{report.user.userName}</a>
                  : report.wouldCreate
                  ? "none: a real sign-in creates one (JIT)"
                  : "none"}
              </dd>
            </dl>
            {report.received.attributes.length > 0 && (
              <div class="table-scroll">
                <table class="table attributes">
                  <caption>Attributes</caption>
                  <tbody>
                    {report.received.attributes.map(([name, values]) => (
                      <tr key={name}>
                        <th scope="row">
                          <code>{name}</code>
                        </th>
                        <td class="value">{values.join(", ")}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        )}
        <p class="muted small">
          Received <Time iso={report.at} />.{" "}
          <a href={`/admin/idps/${idp.id}/saml`}>Back to the SAML tab</a>
        </p>
      </div>
    </>,
  );
});
