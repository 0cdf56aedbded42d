/**
 * What the admin console's routes share: the typed context, `HttpError`, page rendering with the
 * signed-in admin, role guards and form reading.
 * @module
 */
import type { Context } from "hono";
import type { VNode } from "preact";
import { z } from "zod";
import {
  type Form,
  FormError,
  readForm as readFormBody,
  readFormFile as readFormFileBody,
} from "../../lib/http/form.ts";
import type { BaseVariables } from "../../lib/http/env.ts";
import { htmlResponse, renderDocument } from "../../lib/http/render.tsx";
import type { AdminSession } from "../../lib/store/admin_sessions.ts";
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

/** Reads the request's form (see `lib/http/form.ts`); a bad body becomes a console `HttpError`. */
export async function readForm(c: Context): Promise<Form> {
  try {
    return await readFormBody(c);
  } catch (error) {
    if (error instanceof FormError) throw new HttpError(error.status, error.message);
    throw error;
  }
}

/** A file of the request's multipart form (the SAML tab's metadata upload), if one was sent. */
export async function readFormFile(c: Context, name: string): Promise<File | undefined> {
  await readForm(c);
  return await readFormFileBody(c, name);
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
  "apikey-revoked": "API key revoked. Requests that use it now get 401.",
  "mirroring-saved": "Attribute mirroring saved. Re-apply it to update existing users.",
  "reapply-started": "Re-applying attribute mirroring to all users.",
  "sessions-revoked": "Sessions revoked.",
  "admin-removed": "Admin removed and signed out.",
  "link-revoked": "Setup link revoked. It no longer works.",
  "idp-updated": "Identity provider saved.",
  "scim-on": "SCIM provisioning is on: the IdP's requests are served again.",
  "scim-off":
    "SCIM provisioning is off: the IdP's requests get 401 scim_disabled until it is turned on.",
  "saml-saved": "SAML settings saved.",
  "saml-imported": "IdP metadata imported: entity ID, SSO URL and certificates replaced.",
  "certificate-removed": "Certificate removed: responses signed with its key are refused.",
  "sp-key-created":
    "SP key pair created: AuthnRequests are now signed. Give the IdP the new metadata.",
  "sp-key-removed": "SP key pair removed.",
  "person-sessions-revoked": "The person's sign-in sessions ended.",
};
