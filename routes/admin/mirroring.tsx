/**
 * Attribute mirroring settings: which SCIM attribute (core, enterprise or custom, by path) feeds
 * which canonical field, each rule enabled or not; a preview of a configuration on a sample user;
 * and "re-apply to all users" as a resumable background job with progress.
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
  page,
  readForm,
  seeOther,
  signedIn,
  tenantOf,
} from "./_shared.tsx";
import { Csrf, Empty, IdpText, Notice } from "../../components/ui.tsx";
import { type ReceivedPath, receivedPaths, rulesWithoutValues } from "./_received.ts";
import { sampleIdpRows } from "../../lib/store/user_list.ts";
import { Island } from "../../lib/http/render.tsx";
import CopyButton from "../../islands/CopyButton.tsx";
import ReapplyProgress from "../../islands/ReapplyProgress.tsx";
import { getMirroring, MirroringSchema, setMirroring } from "../../lib/store/mirroring.ts";
import type { MirroringConfig, MirrorRule, User } from "../../lib/store/types.ts";
import {
  claimStalledJob,
  getMirroringJob,
  jobIsLive,
  previewMirroring,
  runMirroringJob,
  startMirroringJob,
} from "../../lib/store/mirroring_job.ts";
import { listDirectoryUsers } from "../../lib/store/user_list.ts";
import { getLinkedUser } from "../../lib/store/users.ts";
import { ENTERPRISE_USER_SCHEMA } from "../../lib/scim/urns.ts";
import { enterForBackground, OPEN_GATE } from "../../lib/instance/write_gate.ts";

/** `/admin/settings/mirroring`. */
export const mirroring = new Hono<AdminEnv>();

const BLANK_ROWS = 2;
const MAX_ROWS = 50;

/** Reads the rule rows of the settings form (`field_N`, `sources_N`, `enabled_N`, `remove_N`). */
export function rulesFromForm(form: Record<string, string | string[]>): { rules: MirrorRule[] } {
  const one = (k: string) => {
    const v = form[k];
    return Array.isArray(v) ? v[0] ?? "" : v ?? "";
  };
  const rules: MirrorRule[] = [];
  for (let i = 0; i < MAX_ROWS + BLANK_ROWS; i++) {
    const field = one(`field_${i}`).trim();
    const sources = one(`sources_${i}`).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    // A path picked from the received attributes joins the rule's sources.
    const added = one(`add_${i}`).trim();
    if (added && !sources.includes(added)) sources.push(added);
    if (!field && sources.length === 0) continue;
    if (one(`remove_${i}`) === "on") continue;
    rules.push({ field, sources, enabled: one(`enabled_${i}`) === "on" });
  }
  return { rules };
}

interface Preview {
  user: User;
  derived: User;
  idpName?: string;
}

async function samplePreview(
  c: Context<AdminEnv>,
  config: MirroringConfig,
  sample: string | undefined,
): Promise<Preview | null> {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const found = await listDirectoryUsers(kv, tenant.id, { q: sample || undefined, limit: 1 });
  const user = found.users[0];
  if (!user) return null;
  const link = await getLinkedUser(kv, tenant.id, user.sourceIdpId, user.id);
  if (!link) return null;
  return { user, derived: previewMirroring(tenant.id, link.link, config, user) };
}

function valueOf(u: User, field: string): string | undefined {
  return field in u.custom ? u.custom[field] : (u as unknown as Record<string, unknown>)[field] as
    | string
    | undefined;
}

function PreviewTable({ preview, config }: { preview: Preview; config: MirroringConfig }) {
  const fields = [
    ...new Set([...config.rules.map((r) => r.field), ...Object.keys(preview.user.custom)]),
  ];
  return (
    <div class="table-scroll">
      <table class="table" id="preview">
        <caption>
          Preview on{" "}
          <a href={`/admin/users/${preview.user.id}/attributes`}>
            <IdpText value={preview.user.userName} />
          </a>
        </caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Now</th>
            <th scope="col">With this configuration</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {fields.map((f) => {
            const now = valueOf(preview.user, f);
            const next = valueOf(preview.derived, f);
            return (
              <tr key={f} class={now !== next ? "changed" : undefined}>
                <th scope="row">{f}</th>
                <td>
                  {now !== undefined ? <IdpText value={now} /> : <span class="muted">—</span>}
                </td>
                <td>
                  {next !== undefined ? <IdpText value={next} /> : <span class="muted">—</span>}
                  {now !== next && <span class="badge warn">changes</span>}
                </td>
                <td>
                  {preview.derived.mirroredFrom[f]
                    ? <code>{preview.derived.mirroredFrom[f]}</code>
                    : <span class="muted">no value</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Why there is no preview: nothing to preview on, no match, or rules that do not parse. */
type NoPreview = "no-users" | "no-match" | "invalid";

function SettingsPage(
  { config, csrf, manage, errors, preview, noPreview, sample, notice, info, job, received }: {
    config: MirroringConfig;
    csrf: string;
    manage: boolean;
    errors?: string[];
    preview: Preview | null;
    noPreview?: NoPreview;
    sample?: string;
    notice?: string;
    /** A neutral note (a preview of unsaved rules), never shown as success or failure. */
    info?: string;
    job: Awaited<ReturnType<typeof getMirroringJob>>;
    received: { paths: ReceivedPath[]; empty: Set<string>; sampled: number };
  },
) {
  const rows = [
    ...config.rules,
    ...Array.from({ length: manage ? BLANK_ROWS : 0 }, () => ({
      field: "",
      sources: [],
      enabled: true,
    })),
  ];
  return (
    <>
      {notice && <Notice tone="ok">{notice}</Notice>}
      {info && <Notice tone="info">{info}</Notice>}
      {errors && errors.length > 0 && (
        <Notice tone="bad">
          <p>The configuration was not saved:</p>
          <ul>{errors.map((e) => <li key={e}>{e}</li>)}</ul>
        </Notice>
      )}
      <p class="hint">
        Everything an IdP sends stays on the user's IdP attribute row. These rules decide which of
        those attributes become the user's canonical fields: the first source path with a value
        wins. Paths are SCIM attribute paths: core (<code>name.givenName</code>,{" "}
        <code>emails[type eq "work"].value</code>), enterprise (<code>
          {ENTERPRISE_USER_SCHEMA}:department
        </code>) or any custom extension URN.
      </p>
      <form method="post" action="/admin/settings/mirroring" id="mirroring-form">
        <Csrf token={csrf} />
        <fieldset disabled={!manage}>
          <legend class="visually-hidden">Mirroring rules</legend>
          <div class="table-scroll">
            <table class="table rules">
              <thead>
                <tr>
                  <th scope="col">Canonical field</th>
                  <th scope="col">
                    ← SCIM attribute paths (one per line, first with a value wins)
                  </th>
                  <th scope="col">Enabled</th>
                  {manage && <th scope="col">Remove</th>}
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => (
                  <tr key={i}>
                    <td>
                      <label class="visually-hidden" for={`field_${i}`}>
                        Field of rule {i + 1}
                      </label>
                      <input
                        id={`field_${i}`}
                        name={`field_${i}`}
                        value={r.field}
                        maxLength={64}
                        placeholder={r.field ? undefined : "new field"}
                      />
                    </td>
                    <td>
                      <label class="visually-hidden" for={`sources_${i}`}>
                        Sources of rule {i + 1}
                      </label>
                      <textarea
                        id={`sources_${i}`}
                        name={`sources_${i}`}
                        rows={Math.max(
                          1,
                          r.sources.reduce((n, x) => n + Math.ceil(x.length / 56), 0),
                        )}
                      >
                        {r.sources.join("\n")}
                      </textarea>
                      {manage && received.paths.length > 0 && (
                        <>
                          <label class="visually-hidden" for={`add_${i}`}>
                            Add a received attribute to rule {i + 1}
                          </label>
                          <input
                            id={`add_${i}`}
                            name={`add_${i}`}
                            list="received-paths"
                            class="add-source"
                            placeholder="+ add a received attribute…"
                            maxLength={500}
                          />
                        </>
                      )}
                      {r.field && received.empty.has(r.field) && (
                        <p class="warning small" data-no-values={r.field}>
                          No user has a value for{" "}
                          {r.sources.length > 1 ? "these paths" : "this path"} (checked{" "}
                          {received.sampled}{" "}
                          user{received.sampled === 1 ? "" : "s"}): re-applying would change
                          nothing.
                        </p>
                      )}
                    </td>
                    <td>
                      <input
                        type="checkbox"
                        id={`enabled_${i}`}
                        name={`enabled_${i}`}
                        checked={r.enabled}
                        aria-label={`Rule ${i + 1} enabled`}
                      />
                    </td>
                    {manage && (
                      <td>
                        <input
                          type="checkbox"
                          id={`remove_${i}`}
                          name={`remove_${i}`}
                          aria-label={`Remove rule ${i + 1}`}
                        />
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {manage && (
            <div class="actions">
              <button type="submit" class="button" formaction="/admin/settings/mirroring/preview">
                Preview on the sample user
              </button>
              <button type="submit" class="button primary">Save</button>
            </div>
          )}
        </fieldset>
        <input type="hidden" name="sample" value={sample} />
        <datalist id="received-paths">
          {received.paths.map((p) => (
            <option key={p.path} value={p.path}>
              {`${p.sample} (${p.users} user${p.users === 1 ? "" : "s"})`}
            </option>
          ))}
        </datalist>
      </form>
      <ReceivedTable received={received} />
      <section aria-labelledby="preview-h">
        <h2 id="preview-h">Preview</h2>
        <form
          method="get"
          action="/admin/settings/mirroring"
          class="filters"
          aria-label="Sample user"
        >
          <div class="field grow">
            <label for="sample">Sample user</label>
            <input
              id="sample"
              name="sample"
              type="search"
              value={sample}
              placeholder="userName or email (the first user when empty)"
            />
          </div>
          <div class="field buttons">
            <button type="submit" class="button">Preview the saved configuration</button>
          </div>
        </form>
        {preview
          ? <PreviewTable preview={preview} config={config} />
          : noPreview === "no-match"
          ? <Empty>No user matches “{sample}”: try another userName or email.</Empty>
          : noPreview === "invalid"
          ? <Empty>Correct the rules above to preview them.</Empty>
          : <Empty>No user to preview on yet.</Empty>}
      </section>
      <section aria-labelledby="reapply-h">
        <h2 id="reapply-h">Re-apply to all users</h2>
        <p class="hint">
          New pushes use the saved configuration at once. Re-applying updates the canonical fields
          of every existing user from what their IdP last sent.
        </p>
        <Island name="ReapplyProgress" component={ReapplyProgress} props={{ job }} />
        {manage && (
          <form method="post" action="/admin/settings/mirroring/reapply">
            <Csrf token={csrf} />
            <button type="submit" class="button" disabled={jobIsLive(job)}>
              Re-apply to all users
            </button>
          </form>
        )}
      </section>
    </>
  );
}

/** The attributes IdPs sent, with a sample value each: what rules can mirror. */
function ReceivedTable(
  { received }: { received: { paths: ReceivedPath[]; sampled: number } },
) {
  return (
    <section aria-labelledby="received-h">
      <h2 id="received-h">Attributes received</h2>
      {received.paths.length === 0 ? <Empty>No IdP has sent a user yet.</Empty> : (
        <>
          <p class="hint">
            What the IdPs sent for {received.sampled} user{received.sampled === 1 ? "" : "s"}{" "}
            sampled, as source paths: pick one in a rule's “add a received attribute” box, or copy
            it.
          </p>
          <div class="table-scroll">
            <table class="table" id="received">
              <thead>
                <tr>
                  <th scope="col">Source path</th>
                  <th scope="col">Sample value</th>
                  <th scope="col">Users</th>
                  <th scope="col">
                    <span class="visually-hidden">Copy</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {received.paths.slice(0, 100).map((p) => (
                  <tr key={p.path}>
                    <td>
                      <code>{p.path}</code>
                    </td>
                    <td>
                      <IdpText value={p.sample} />
                    </td>
                    <td>{p.users}</td>
                    <td>
                      <Island
                        name="CopyButton"
                        component={CopyButton}
                        props={{ text: p.path, label: "source path" }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

/** What the IdPs sent, sampled, and which of the rules no sampled user has a value for. */
async function receivedOf(c: Context<AdminEnv>, config: MirroringConfig) {
  const rows = await sampleIdpRows(c.get("deps").kv, tenantOf(c).id, 200);
  return {
    paths: receivedPaths(rows),
    empty: rulesWithoutValues(config.rules, rows),
    sampled: rows.length,
  };
}

const Sample = z.object({ sample: z.string().max(254).optional(), done: z.string().optional() });

mirroring.get("/", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const q = Sample.parse(c.req.query());
  const config = await getMirroring(kv, tenant.id);
  const [preview, job, received] = await Promise.all([
    samplePreview(c, config, q.sample),
    getMirroringJob(kv, tenant.id),
    receivedOf(c, config),
  ]);
  return page(
    c,
    { title: "Attribute mirroring", section: "mirroring" },
    (
      <SettingsPage
        config={config}
        csrf={signedIn(c).session.csrf}
        manage={canManage(c)}
        preview={preview}
        noPreview={q.sample ? "no-match" : "no-users"}
        sample={q.sample}
        notice={FLASH[q.done ?? ""]}
        job={job}
        received={received}
      />
    ),
  );
});

function zodMessages(error: z.ZodError, rules: MirrorRule[]): string[] {
  return error.issues.map((i) => {
    const [, index, part] = i.path;
    const rule = typeof index === "number" ? rules[index] : undefined;
    const where = rule
      ? `Rule “${rule.field || `#${Number(index) + 1}`}”${part ? ` (${String(part)})` : ""}`
      : "Rules";
    return `${where}: ${i.message}`;
  });
}

async function editedPage(c: Context<AdminEnv>, save: boolean): Promise<Response> {
  assertSuperAdmin(c, "change attribute mirroring");
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const form = await readForm(c);
  const input = rulesFromForm(form);
  const sample = typeof form.sample === "string" ? form.sample.slice(0, 254) : undefined;
  const parsed = MirroringSchema.safeParse(input);
  if (parsed.success && save) {
    await setMirroring(kv, tenant.id, parsed.data, actorOf(c));
    return seeOther(
      `/admin/settings/mirroring?done=mirroring-saved${
        sample ? `&sample=${encodeURIComponent(sample)}` : ""
      }`,
    );
  }
  const config = parsed.success ? parsed.data : input;
  const [preview, job, received] = await Promise.all([
    parsed.success ? samplePreview(c, config, sample) : Promise.resolve(null),
    getMirroringJob(kv, tenant.id),
    receivedOf(c, config),
  ]);
  return page(
    c,
    {
      title: "Attribute mirroring",
      section: "mirroring",
      status: parsed.success ? 200 : 400,
    },
    (
      <SettingsPage
        config={config}
        csrf={signedIn(c).session.csrf}
        manage
        errors={parsed.success ? undefined : zodMessages(parsed.error, input.rules)}
        preview={preview}
        noPreview={!parsed.success ? "invalid" : sample ? "no-match" : "no-users"}
        sample={sample}
        info={parsed.success
          ? "This is a preview of the rules as edited; Save makes them the configuration."
          : undefined}
        job={job}
        received={received}
      />
    ),
  );
}

mirroring.post("/", (c) => editedPage(c, true));
mirroring.post("/preview", (c) => editedPage(c, false));

/** The job's batches wait at the instance's write gate, as requests that write do. */
function holdFor(c: Context<AdminEnv>): () => Promise<() => void> {
  return () => enterForBackground(c.get("deps").gate ?? OPEN_GATE);
}

mirroring.post("/reapply", async (c) => {
  assertSuperAdmin(c, "re-apply attribute mirroring");
  const tenant = tenantOf(c);
  const { kv, log } = c.get("deps");
  const { job, started } = await startMirroringJob(kv, tenant.id, actorOf(c));
  if (started) {
    // Runs on after the response; progress is in KV, and a stalled job resumes on the next read.
    runMirroringJob(kv, tenant.id, job.id, holdFor(c)).catch((error) =>
      log.log("error", "mirroring re-apply failed", { error: String(error) })
    );
  }
  return seeOther("/admin/settings/mirroring?done=reapply-started");
});

/** Resumes a job whose process stopped (stale heartbeat); called by the status endpoint. */
export async function resumeStalledJob(c: Context<AdminEnv>) {
  const tenant = tenantOf(c);
  const { kv, log } = c.get("deps");
  const claimed = await claimStalledJob(kv, tenant.id);
  if (claimed) {
    runMirroringJob(kv, tenant.id, claimed.id, holdFor(c)).catch((error) =>
      log.log("error", "mirroring re-apply failed", { error: String(error) })
    );
  }
  return claimed ?? await getMirroringJob(kv, tenant.id);
}
