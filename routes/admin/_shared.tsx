/**
 * What the admin console's routes share: the typed context, `HttpError`, page rendering with the
 * signed-in admin, role guards and form reading.
 * @module
 */
import type { Context } from "hono";
import type { VNode } from "preact";
import { z } from "zod";
import type { BaseVariables } from "../../lib/http/env.ts";
import { htmlResponse, renderDocument } from "../../lib/http/render.tsx";
import type { AdminSession } from "../../lib/auth/sessions.ts";
import type { Admin } from "../../lib/store/admins.ts";
import type { Tenant } from "../../lib/store/types.ts";
import { Layout, type PageContext, type Section } from "../../components/Layout.tsx";

/** Console context: the root variables plus the session, when signed in. */
export type AdminEnv = {
  Variables: BaseVariables & { session: AdminSession | null; admin: Admin | null };
};

/** A console error shown as an HTML page. */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413 | 414 | 415 | 429 | 500,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The tenant of the request (the console is only served on a tenant's host). */
export function tenantOf(c: Context<AdminEnv>): Tenant {
  const tenant = c.get("tenant");
  if (!tenant) throw new HttpError(404, "No tenant is served at this host");
  return tenant;
}

/** The signed-in admin and session (the routes behind the session guard). */
export function signedIn(c: Context<AdminEnv>): { admin: Admin; session: AdminSession } {
  const admin = c.get("admin");
  const session = c.get("session");
  if (!admin || !session) throw new HttpError(403, "Sign in first");
  return { admin, session };
}

/** Refuses admins without the super-admin role (tokens, IdPs, settings, admins). */
export function assertSuperAdmin(c: Context<AdminEnv>, what: string): Admin {
  const { admin } = signedIn(c);
  if (admin.role !== "super_admin") {
    throw new HttpError(403, `Only a super admin can ${what}. Your role is read-only here.`);
  }
  return admin;
}

/** Whether the signed-in admin may change tokens and settings. */
export function canManage(c: Context<AdminEnv>): boolean {
  return c.get("admin")?.role === "super_admin";
}

/** The page context for the layout. */
export function pageContext(c: Context<AdminEnv>, section?: Section): PageContext {
  const admin = c.get("admin");
  return {
    tenantName: c.get("tenant")?.name ?? "Weft",
    admin: admin ? { email: admin.email, role: admin.role } : undefined,
    csrf: c.get("session")?.csrf,
    section,
  };
}

/** Renders a console page. */
export function page(
  c: Context<AdminEnv>,
  opts: { title: string; section?: Section; status?: number; headers?: Record<string, string> },
  body: VNode | VNode[] | string | null,
): Response {
  const html = renderDocument(
    <Layout ctx={pageContext(c, opts.section)} title={opts.title}>{body}</Layout>,
  );
  return htmlResponse(html, opts.status ?? 200, opts.headers);
}

/** A console form: each field's value, or values when it was given more than once. */
export type Form = Record<string, string | string[]>;

const forms = new WeakMap<object, Promise<Form>>();

const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

async function parseForm(c: Context): Promise<Form> {
  const type = c.req.header("content-type") ?? "";
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (!FORM_TYPE.test(type)) {
    if (bytes.length === 0 && type === "") return {};
    throw new HttpError(
      415,
      "Send the form as application/x-www-form-urlencoded or multipart/form-data",
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "The form is not valid UTF-8: nothing was changed");
  }
  let data: URLSearchParams | FormData;
  try {
    data = /^application\/x-www-form-urlencoded/i.test(type)
      ? new URLSearchParams(text)
      : await new Response(bytes, { headers: { "content-type": type } }).formData();
  } catch {
    throw new HttpError(400, "The form cannot be read: nothing was changed");
  }
  const out: Form = {};
  for (const [k, v] of data.entries()) {
    if (typeof v !== "string") throw new HttpError(400, "The console does not take file uploads");
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/**
 * Reads the request's form once (urlencoded or multipart, strict UTF-8, no files): `415` for any
 * other content type, `400` for a body that is not a readable form. Later calls get the same form.
 */
export function readForm(c: Context): Promise<Form> {
  let form = forms.get(c.req);
  if (!form) forms.set(c.req, form = parseForm(c));
  return form;
}

/** Parses form input with zod, or throws a 400 naming the fields. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const res = schema.safeParse(input);
  if (!res.success) {
    const detail = res.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`)
      .join("; ");
    throw new HttpError(400, `The form was not valid: ${detail}`);
  }
  return res.data;
}

/** The actor recorded in events for the signed-in admin. */
export function actorOf(c: Context<AdminEnv>): string {
  return `admin:${c.get("admin")?.email ?? "unknown"}`;
}

/** A 303 redirect after a successful form post. */
export function seeOther(location: string): Response {
  return new Response(null, { status: 303, headers: { location } });
}

/** Flash messages, named in a `done` query parameter after a redirect (no cookie needed). */
export const FLASH: Record<string, string> = {
  "idp-created": "Identity provider created.",
  "token-revoked": "Token revoked. Requests that use it now get 401.",
  "mirroring-saved": "Attribute mirroring saved. Re-apply it to update existing users.",
  "reapply-started": "Re-applying attribute mirroring to all users.",
  "sessions-revoked": "Sessions revoked.",
  "admin-removed": "Admin removed and signed out.",
  "link-revoked": "Setup link revoked. It no longer works.",
};
