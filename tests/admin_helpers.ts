/**
 * Admin console test harness: the test app of `_helpers.ts` plus a super admin and a read-only
 * admin, signed-in sessions without the password round trip, and a request helper that sends
 * the session cookie, the Origin and the CSRF token (each of which a test can leave out).
 * @module
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./_helpers.ts";
import { type Admin, type AdminRole, createAdminFromLink } from "../lib/store/admins.ts";
import { createSetupLink, hashPassword, hashSetupSecret } from "../lib/auth/admin.ts";
import { createSession } from "../lib/auth/sessions.ts";

/** The password every test admin has. */
export const PASSWORD = "correct horse battery staple";

let passwordHash: Promise<string> | null = null;

/** A test app with two admins. */
export interface AdminTestApp extends TestApp {
  origin: string;
  superAdmin: Admin;
  readOnly: Admin;
  /** Creates an admin with the test password. */
  addAdmin(email: string, role: AdminRole, tenantId?: string, origin?: string): Promise<Admin>;
  /** Signs an admin in; returns the cookie header and the session's CSRF token. */
  signIn(admin: Admin): Promise<{ cookie: string; csrf: string }>;
  /** Sends a console request. */
  admin(path: string, options?: AdminRequest): Promise<Response>;
}

/** Options of {@linkcode AdminTestApp.admin}. */
export interface AdminRequest {
  method?: string;
  /** Signed-in session to use (none when absent). */
  as?: { cookie: string; csrf: string };
  form?: Record<string, string>;
  json?: unknown;
  /** The Origin header: the app's own by default, `null` to omit it. */
  origin?: string | null;
  /** Leave the CSRF token out (forms and JSON). */
  noCsrf?: boolean;
  /** Another host (e.g. a second tenant). */
  host?: string;
}

/** Builds the app, a super admin and a read-only admin. */
export async function createAdminTestApp(
  env: Record<string, string> = {},
): Promise<AdminTestApp> {
  const t = await createTestApp(env);
  const origin = "http://acme.localhost";
  passwordHash ??= hashPassword(PASSWORD);
  const hash = await passwordHash;
  const addAdmin = async (email: string, role: AdminRole, tenantId = t.tenant.id, o = origin) => {
    const { url } = await createSetupLink(t.kv, tenantId, o, { role, createdBy: "test" });
    const secret = url.slice(url.lastIndexOf("/") + 1);
    return await createAdminFromLink(t.kv, tenantId, await hashSetupSecret(secret), {
      email,
      passwordHash: hash,
    });
  };
  const superAdmin = await addAdmin("root@acme.test", "super_admin");
  const readOnly = await addAdmin("viewer@acme.test", "admin");
  return {
    ...t,
    origin,
    superAdmin,
    readOnly,
    addAdmin,
    async signIn(admin) {
      const { jwt, session } = await createSession(t.kv, admin, {
        ip: "127.0.0.1",
        userAgent: "test",
      });
      return { cookie: `weft_session=${jwt}`, csrf: session.csrf };
    },
    admin(path, o = {}) {
      const base = o.host ? `http://${o.host}` : origin;
      const headers: Record<string, string> = {};
      if (o.as) headers.cookie = o.as.cookie;
      if (o.origin !== null) headers.origin = o.origin ?? base;
      let body: string | undefined;
      if (o.form) {
        const form = new URLSearchParams(o.form);
        if (o.as && !o.noCsrf) form.set("_csrf", o.as.csrf);
        body = form.toString();
        headers["content-type"] = "application/x-www-form-urlencoded";
      } else if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        headers["content-type"] = "application/json";
        if (o.as && !o.noCsrf) headers["x-csrf-token"] = o.as.csrf;
      }
      return Promise.resolve(
        t.app.request(base + path, {
          method: o.method ?? (body !== undefined ? "POST" : "GET"),
          headers,
          body,
          redirect: "manual",
        }),
      );
    },
  };
}

/** Asserts an HTML page with the console's CSP and no inline script; returns the body. */
export async function expectHtml(res: Response, status = 200): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text.slice(0, 800)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  // Every script is an external file; none carries inline code, and no handler attributes.
  for (const tag of text.match(/<script[^>]*>[\s\S]*?<\/script>/g) ?? []) {
    assert.match(tag, /^<script[^>]* src="\/assets\/[^"]+"[^>]*><\/script>$/, tag);
  }
  assert.doesNotMatch(text, /\son[a-z]+="/i);
  assert.doesNotMatch(text, /\sstyle="/i);
  return text;
}

/** Asserts a redirect and returns its location. */
export function expectRedirect(res: Response, status = 303): string {
  assert.equal(res.status, status, `expected a ${status} redirect, got ${res.status}`);
  return res.headers.get("location") ?? "";
}
