/**
 * Console requests for `admin_security_test.ts`, beyond what `tests/admin_helpers.ts` sends:
 * every CSRF variant (token in the body, header or query, any Origin or none, `Sec-Fetch-Site`,
 * any content type), the client's socket address (what Deno.serve passes as `remoteAddr`), and
 * admins and console requests on a real server's KV file.
 * @module
 */
import type { AdminTestApp } from "../admin_helpers.ts";
import { type Admin, type AdminRole, createAdminFromLink } from "../../lib/store/admins.ts";
import { createSetupLink, hashPassword, hashSetupSecret } from "../../lib/auth/admin.ts";

/** One console request, with each part a test may get wrong on purpose. */
export interface ConsoleRequest {
  method?: string;
  path: string;
  /** Host (default: the test app's own, `acme.localhost`). */
  host?: string;
  /** The whole Cookie header. */
  cookie?: string;
  /** The Origin header; `null` leaves it out (default: `http://<host>`). */
  origin?: string | null;
  /** `Sec-Fetch-Site`, when set. */
  secFetchSite?: string;
  form?: Record<string, string>;
  json?: unknown;
  /** A raw body with its own content type (e.g. a `text/plain` form). */
  raw?: { body: string; type: string };
  /** The CSRF token to send, and where: a form field, the `x-csrf-token` header, or the query. */
  csrf?: { token: string; in: "body" | "header" | "query" };
  /** The client's socket address (`remoteAddr.hostname`). */
  ip?: string;
  headers?: Record<string, string>;
}

/** Builds the Request of a {@linkcode ConsoleRequest} against `origin` (scheme and host). */
export function buildRequest(base: string, r: ConsoleRequest): Request {
  const url = new URL(base + r.path);
  const headers = new Headers(r.headers ?? {});
  if (r.cookie) headers.set("cookie", r.cookie);
  if (r.origin !== null) headers.set("origin", r.origin ?? base);
  if (r.secFetchSite) headers.set("sec-fetch-site", r.secFetchSite);
  let body: string | undefined;
  if (r.form) {
    const form = new URLSearchParams(r.form);
    if (r.csrf?.in === "body") form.set("_csrf", r.csrf.token);
    body = form.toString();
    headers.set("content-type", "application/x-www-form-urlencoded");
  } else if (r.json !== undefined) {
    const json = r.csrf?.in === "body" && r.json && typeof r.json === "object"
      ? { ...r.json as Record<string, unknown>, _csrf: r.csrf.token }
      : r.json;
    body = JSON.stringify(json);
    headers.set("content-type", "application/json");
  } else if (r.raw) {
    body = r.raw.body;
    headers.set("content-type", r.raw.type);
  }
  if (r.csrf?.in === "header") headers.set("x-csrf-token", r.csrf.token);
  if (r.csrf?.in === "query") url.searchParams.set("_csrf", r.csrf.token);
  return new Request(url, {
    method: r.method ?? (body !== undefined ? "POST" : "GET"),
    headers,
    body,
    redirect: "manual",
  });
}

/** Sends a console request through the test app, from `r.ip` (default 192.0.2.1). */
export async function consoleRequest(t: AdminTestApp, r: ConsoleRequest): Promise<Response> {
  const base = `http://${r.host ?? new URL(t.origin).host}`;
  return await t.app.request(buildRequest(base, r), undefined, {
    remoteAddr: { hostname: r.ip ?? "192.0.2.1", port: 40000, transport: "tcp" },
  });
}

/** Reads a response body once and returns it with the status and headers. */
export async function settle(res: Response): Promise<{ status: number; text: string; h: Headers }> {
  return { status: res.status, text: await res.text(), h: res.headers };
}

/** The `weft_session` / `__Host-weft_session` cookie a response sets (`name=value`), if any. */
export function sessionCookieOf(res: Response): string | null {
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(";")[0];
    if (/^(__Host-)?weft_session=/.test(pair) && !/=$/.test(pair)) return pair;
  }
  return null;
}

/** The session id (`jti`) inside a session cookie's JWT. */
export function sessionIdOf(cookie: string): string {
  const jwt = cookie.slice(cookie.indexOf("=") + 1);
  const payload = JSON.parse(
    new TextDecoder().decode(
      Uint8Array.from(
        atob(jwt.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")),
        (c) => c.charCodeAt(0),
      ),
    ),
  );
  return String(payload.jti);
}

/** The CSRF token of the page's forms (`_csrf`), as a browser would submit it. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html) ?? /value="([^"]+)" name="_csrf"/.exec(html);
  if (!m) throw new Error("no CSRF token on the page");
  return m[1];
}

const hashes = new Map<string, Promise<string>>();

/** Creates a console admin on a KV (any process's store) through a one-time setup link. */
export async function createConsoleAdmin(
  kv: Deno.Kv,
  tenantId: string,
  email: string,
  role: AdminRole,
  password: string,
): Promise<Admin> {
  if (!hashes.has(password)) hashes.set(password, hashPassword(password));
  const { url } = await createSetupLink(kv, tenantId, "http://localhost", {
    role,
    createdBy: "reliability-test",
  });
  const secret = url.slice(url.lastIndexOf("/") + 1);
  return await createAdminFromLink(kv, tenantId, await hashSetupSecret(secret), {
    email,
    passwordHash: await hashes.get(password)!,
  });
}

/** A console request to a real server (its own origin unless told otherwise). */
export async function httpConsole(
  origin: string,
  r: ConsoleRequest,
): Promise<{ status: number; text: string; h: Headers; cookie: string | null }> {
  const res = await fetch(buildRequest(origin, r));
  const cookie = sessionCookieOf(res);
  return { ...(await settle(res)), cookie };
}
