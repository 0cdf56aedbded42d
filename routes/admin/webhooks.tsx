/**
 * Settings → Webhooks (super admins): the tenant's endpoints; create (the signing secret shown
 * once), edit URL, events and description, disable and enable, delete (confirmed), rotate the
 * secret (the previous one signs for 24 hours more), send a `webhook.test` event; and per
 * endpoint its deliveries — event, attempts, time, status code, latency, the first 1 KiB of the
 * answer (escaped: it is the receiver's text), next retry — with Resend on each. Every change is
 * an audit event (written by the store in the change's own commit).
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import {
  actorOf,
  type AdminEnv,
  assertSuperAdmin,
  HttpError,
  page,
  readForm,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Badge, Csrf, Empty, Field, Notice, Time } from "../../components/ui.tsx";
import { Island } from "../../lib/http/render.tsx";
import ConfirmForm from "../../islands/ConfirmForm.tsx";
import CopyButton from "../../islands/CopyButton.tsx";
import { PUBLIC_EVENT_TYPES } from "../../lib/directory/types.ts";
import {
  type EndpointSummary,
  getEndpoint,
  listEndpoints,
  rotateSecret,
  setEndpointEnabled,
} from "../../lib/store/webhooks.ts";
import {
  type Delivery,
  DeliveryNotFoundError,
  listDeliveries,
  resendDelivery,
} from "../../lib/store/webhook_deliveries.ts";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  editWebhookEndpoint,
  EndpointInputError,
  sendTestEvent,
} from "../../lib/webhooks/endpoints.ts";

/** `/admin/settings/webhooks`. */
export const webhooks = new Hono<AdminEnv>();

const BASE = "/admin/settings/webhooks";

const DONE: Record<string, string> = {
  updated: "Endpoint saved.",
  disabled: "Endpoint disabled: no new event is queued for it.",
  enabled: "Endpoint enabled: new events are delivered again.",
  deleted: "Endpoint and its deliveries deleted.",
  test: "Test event queued: it appears below within seconds.",
  resent: "Delivery queued again: it is sent within seconds.",
};

function who(c: Context<AdminEnv>) {
  return { actor: actorOf(c), requestId: c.get("requestId"), clientIp: c.get("clientIp") };
}

function guard(c: Context<AdminEnv>) {
  return { allowPrivate: c.get("deps").config.webhookAllowPrivate };
}

async function endpointOf(c: Context<AdminEnv>): Promise<EndpointSummary> {
  const e = await getEndpoint(c.get("deps").kv, tenantOf(c).id, c.req.param("id") ?? "");
  if (!e) throw new HttpError(404, "No such webhook endpoint");
  return e;
}

/** Form values: the events checkboxes arrive as one value or a list. */
function endpointInput(form: Record<string, string | string[]>) {
  const picked = form.events;
  const events = form.all === "yes" || !picked ? "*" : picked;
  return {
    url: typeof form.url === "string" ? form.url : "",
    events,
    description: typeof form.description === "string" ? form.description : "",
  };
}

function EndpointForm(
  props: {
    action: string;
    csrf: string;
    endpoint?: EndpointSummary;
    error?: string;
    submit: string;
    /** `WEFT_WEBHOOK_ALLOW_PRIVATE`: http and private addresses are allowed. */
    allowPrivate: boolean;
  },
) {
  const e = props.endpoint;
  const all = !e || e.events.includes("*");
  return (
    <form method="post" action={props.action} class="card stack narrow" id="endpoint-form">
      {props.error && <Notice tone="bad">{props.error}</Notice>}
      <Csrf token={props.csrf} />
      <Field
        id="url"
        label="Endpoint URL"
        type="url"
        required
        maxLength={2000}
        value={e?.url}
        placeholder="https://app.example.com/webhooks/weft"
        hint={props.allowPrivate
          ? "http and private addresses are allowed on this server (WEFT_WEBHOOK_ALLOW_PRIVATE)."
          : "https only. Private, loopback, link-local and metadata addresses are refused."}
      />
      <Field id="description" label="Description" maxLength={200} value={e?.description} />
      <fieldset class="field">
        <legend>Events</legend>
        <label>
          <input type="checkbox" name="all" value="yes" checked={all} />{" "}
          Every event (<code>*</code>)
        </label>
        {PUBLIC_EVENT_TYPES.map((t) => (
          <label key={t}>
            <input
              type="checkbox"
              name="events"
              value={t}
              checked={!all && e?.events.includes(t)}
            />{" "}
            <code>{t}</code>
          </label>
        ))}
      </fieldset>
      <div class="actions">
        <a class="button" href={BASE}>Cancel</a>
        <button type="submit" class="button primary">{props.submit}</button>
      </div>
    </form>
  );
}

function SecretBox(
  { secret, endpointId, note }: { secret: string; endpointId: string; note: string },
) {
  return (
    <div class="narrow">
      <div class="secret-box" role="region" aria-label="Signing secret">
        <p class="warning">
          <strong>Copy this signing secret now.</strong> It cannot be shown again. {note}
        </p>
        <code class="secret" id="webhook-secret">{secret}</code>
        <Island
          name="CopyButton"
          component={CopyButton}
          props={{ text: secret, label: "signing secret" }}
        />
      </div>
      <p>
        <a class="button primary" href={`${BASE}/${endpointId}`}>Go to the endpoint</a>
      </p>
    </div>
  );
}

function status(e: EndpointSummary) {
  return e.enabled
    ? (
      <Badge tone={e.failingSince ? "warn" : "ok"}>
        {e.failingSince ? "Failing" : "Enabled"}
      </Badge>
    )
    : <Badge tone="bad">Disabled</Badge>;
}

webhooks.get("/", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const list = await listEndpoints(c.get("deps").kv, tenantOf(c).id);
  const done = DONE[c.req.query("done") ?? ""];
  return page(
    c,
    { title: "Webhooks", section: "webhooks" },
    (
      <>
        {done && <Notice tone="ok">{done}</Notice>}
        <p>
          Every event of the feed is POSTed to each subscribed endpoint, signed with the Standard
          Webhooks scheme, and retried for at least 24 hours until it answers 2xx.
        </p>
        <section aria-labelledby="endpoints-h">
          <h2 id="endpoints-h">Endpoints</h2>
          {list.length === 0 ? <Empty>No endpoint yet.</Empty> : (
            <div class="table-scroll">
              <table class="table rows" id="endpoints">
                <thead>
                  <tr>
                    <th>Endpoint</th>
                    <th>Events</th>
                    <th>Status</th>
                    <th>Created</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((e) => (
                    <tr key={e.id} data-endpoint-id={e.id}>
                      <td>
                        <a href={`${BASE}/${e.id}`}>{e.description || e.url}</a>
                        <div class="hint">{e.url}</div>
                      </td>
                      <td>{e.events.join(", ")}</td>
                      <td>
                        {status(e)}
                        {e.disabledReason && <div class="hint">{e.disabledReason}</div>}
                      </td>
                      <td>
                        <Time iso={e.createdAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section aria-labelledby="new-h">
          <h2 id="new-h">Add an endpoint</h2>
          <EndpointForm
            allowPrivate={guard(c).allowPrivate}
            action={BASE}
            csrf={signedIn(c).session.csrf}
            submit="Add endpoint"
          />
        </section>
      </>
    ),
  );
});

webhooks.post("/", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const input = endpointInput(await readForm(c));
  try {
    const { endpoint, secret } = await createWebhookEndpoint(
      c.get("deps").kv,
      tenantOf(c).id,
      input,
      who(c),
      guard(c),
    );
    return page(
      c,
      { title: "Endpoint added", section: "webhooks", status: 201 },
      <SecretBox secret={secret} endpointId={endpoint.id} note="Verify every delivery with it." />,
    );
  } catch (error) {
    if (!(error instanceof EndpointInputError)) throw error;
    return page(
      c,
      { title: "Add an endpoint", section: "webhooks", status: 400 },
      <EndpointForm
        allowPrivate={guard(c).allowPrivate}
        action={BASE}
        csrf={signedIn(c).session.csrf}
        error={error.message}
        submit="Add endpoint"
      />,
    );
  }
});

function DeliveryRows(
  { deliveries, csrf, endpointId }: { deliveries: Delivery[]; csrf: string; endpointId: string },
) {
  if (!deliveries.length) {
    return <Empty>No delivery yet. Send a test event to try the endpoint.</Empty>;
  }
  return (
    <div class="table-scroll">
      <table class="table rows" id="deliveries">
        <thead>
          <tr>
            <th>Event</th>
            <th>Status</th>
            <th>Last attempt</th>
            <th>Answer (first 1 KiB)</th>
            <th>Next retry</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((d) => {
            const last = d.attempts.at(-1);
            return (
              <tr key={d.eventId} data-event-id={d.eventId}>
                <td>
                  <code>{d.eventId}</code>
                  <div class="hint">{d.eventType}</div>
                </td>
                <td>
                  <Badge
                    tone={d.status === "succeeded" ? "ok" : d.status === "failed" ? "bad" : "warn"}
                  >
                    {d.status === "succeeded"
                      ? "Succeeded"
                      : d.status === "failed"
                      ? "Failed"
                      : "Pending"}
                  </Badge>
                  <div class="hint">
                    {d.attemptCount} attempt{d.attemptCount === 1 ? "" : "s"}
                  </div>
                </td>
                <td>
                  {last
                    ? (
                      <>
                        <Time iso={last.at} />
                        <div class="hint">
                          {last.statusCode ?? "no answer"} · {last.latencyMs} ms
                        </div>
                        {last.error && <div class="hint">{last.error}</div>}
                      </>
                    )
                    : "—"}
                </td>
                <td>
                  {last?.responseBody ? <pre class="response-body">{last.responseBody}</pre> : "—"}
                </td>
                <td>
                  {d.status === "pending" && d.nextAttemptAt !== null
                    ? <Time iso={new Date(d.nextAttemptAt).toISOString()} />
                    : "—"}
                </td>
                <td>
                  <form
                    method="post"
                    action={`${BASE}/${endpointId}/deliveries/${
                      encodeURIComponent(d.eventId)
                    }/resend`}
                    class="inline"
                  >
                    <Csrf token={csrf} />
                    <button type="submit" class="button small">Resend</button>
                  </form>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

webhooks.get("/:id", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const e = await endpointOf(c);
  const csrf = signedIn(c).session.csrf;
  const { deliveries, cursor } = await listDeliveries(c.get("deps").kv, tenantOf(c).id, e.id, {
    limit: 50,
    cursor: c.req.query("cursor"),
  });
  const done = DONE[c.req.query("done") ?? ""];
  return page(
    c,
    { title: e.description || e.url, section: "webhooks" },
    (
      <>
        {done && <Notice tone="ok">{done}</Notice>}
        {!e.enabled && (
          <Notice tone="bad">
            Disabled{e.disabledAt
              ? (
                <>
                  {" "}
                  <Time iso={e.disabledAt} />
                </>
              )
              : null}: {e.disabledReason}
          </Notice>
        )}
        {e.enabled && e.failingSince && (
          <Notice tone="warn">
            Deliveries have failed since{" "}
            <Time iso={e.failingSince} />. After 5 days of failures the endpoint is disabled.
          </Notice>
        )}
        <section class="card stack" aria-labelledby="ep-h">
          <h2 id="ep-h">Endpoint</h2>
          <p>
            {status(e)} <code>{e.id}</code> · {e.url}
          </p>
          <p>
            Secret created <Time iso={e.secretCreatedAt} />
            {e.rotating && e.previousUntil && (
              <>
                ; the previous secret also signs until <Time iso={e.previousUntil} />
              </>
            )}
          </p>
          <div class="actions">
            <form method="post" action={`${BASE}/${e.id}/test`} class="inline">
              <Csrf token={csrf} />
              <button type="submit" class="button small primary">Send test event</button>
            </form>
            <form method="post" action={`${BASE}/${e.id}/enabled`} class="inline">
              <Csrf token={csrf} />
              <input type="hidden" name="enabled" value={e.enabled ? "off" : "on"} />
              <button type="submit" class="button small">{e.enabled ? "Disable" : "Enable"}</button>
            </form>
            <Island
              name="ConfirmForm"
              component={ConfirmForm}
              props={{
                action: `${BASE}/${e.id}/rotate`,
                csrf,
                label: "Rotate secret",
                title: "Rotate the signing secret?",
                message:
                  "A new secret is shown once; the current one keeps signing beside it for 24 hours.",
              }}
            />
            <Island
              name="ConfirmForm"
              component={ConfirmForm}
              props={{
                action: `${BASE}/${e.id}/delete`,
                csrf,
                label: "Delete",
                title: "Delete this endpoint?",
                message: "No event is sent to it any more, and its deliveries are deleted.",
                danger: true,
              }}
            />
          </div>
        </section>
        <section aria-labelledby="deliveries-h">
          <h2 id="deliveries-h">Deliveries</h2>
          <DeliveryRows deliveries={deliveries} csrf={csrf} endpointId={e.id} />
          {cursor && (
            <p>
              <a href={`${BASE}/${e.id}?cursor=${encodeURIComponent(cursor)}`}>Older deliveries</a>
            </p>
          )}
        </section>
        <section aria-labelledby="edit-h">
          <h2 id="edit-h">Edit</h2>
          <EndpointForm
            allowPrivate={guard(c).allowPrivate}
            action={`${BASE}/${e.id}/edit`}
            csrf={csrf}
            endpoint={e}
            submit="Save changes"
          />
        </section>
      </>
    ),
  );
});

webhooks.post("/:id/edit", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const e = await endpointOf(c);
  try {
    await editWebhookEndpoint(
      c.get("deps").kv,
      tenantOf(c).id,
      e.id,
      endpointInput(await readForm(c)),
      who(c),
      guard(c),
    );
  } catch (error) {
    if (!(error instanceof EndpointInputError)) throw error;
    return page(
      c,
      { title: "Edit endpoint", section: "webhooks", status: 400 },
      <EndpointForm
        allowPrivate={guard(c).allowPrivate}
        action={`${BASE}/${e.id}/edit`}
        csrf={signedIn(c).session.csrf}
        endpoint={e}
        error={error.message}
        submit="Save changes"
      />,
    );
  }
  return seeOther(`${BASE}/${e.id}?done=updated`);
});

webhooks.post("/:id/enabled", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const e = await endpointOf(c);
  const on = (await readForm(c)).enabled === "on";
  await setEndpointEnabled(c.get("deps").kv, tenantOf(c).id, e.id, on, who(c));
  return seeOther(`${BASE}/${e.id}?done=${on ? "enabled" : "disabled"}`);
});

function confirmPage(c: Context<AdminEnv>, title: string, action: string, back: string) {
  return page(
    c,
    { title, section: "webhooks" },
    (
      <form method="post" action={action} class="card stack narrow">
        <Csrf token={signedIn(c).session.csrf} />
        <input type="hidden" name="confirmed" value="yes" />
        <div class="actions">
          <a class="button" href={back}>Cancel</a>
          <button type="submit" class="button danger">Confirm</button>
        </div>
      </form>
    ),
  );
}

webhooks.post("/:id/rotate", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const e = await endpointOf(c);
  if ((await readForm(c)).confirmed !== "yes") {
    return confirmPage(c, "Rotate the signing secret?", c.req.path, `${BASE}/${e.id}`);
  }
  const r = await rotateSecret(c.get("deps").kv, tenantOf(c).id, e.id, who(c));
  return page(
    c,
    { title: "Secret rotated", section: "webhooks" },
    (
      <SecretBox
        secret={r.secret}
        endpointId={e.id}
        note={`The previous secret keeps signing beside it until ${r.previousUntil}.`}
      />
    ),
  );
});

webhooks.post("/:id/delete", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const e = await endpointOf(c);
  if ((await readForm(c)).confirmed !== "yes") {
    return confirmPage(c, "Delete this endpoint?", c.req.path, `${BASE}/${e.id}`);
  }
  await deleteWebhookEndpoint(c.get("deps").kv, tenantOf(c).id, e.id, who(c));
  return seeOther(`${BASE}?done=deleted`);
});

webhooks.post("/:id/test", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const e = await endpointOf(c);
  await readForm(c);
  await sendTestEvent(c.get("deps").kv, tenantOf(c).id, e.id, who(c));
  return seeOther(`${BASE}/${e.id}?done=test`);
});

webhooks.post("/:id/deliveries/:event/resend", async (c) => {
  assertSuperAdmin(c, "manage webhooks");
  const e = await endpointOf(c);
  await readForm(c);
  try {
    await resendDelivery(c.get("deps").kv, tenantOf(c).id, e.id, c.req.param("event"), who(c));
  } catch (error) {
    if (error instanceof DeliveryNotFoundError) throw new HttpError(404, error.message);
    throw error;
  }
  return seeOther(`${BASE}/${e.id}?done=resent`);
});
