/**
 * The console's page frame: skip link, header with the tenant and the signed-in admin, the
 * navigation, and the main region. Assets come from Weft itself; the island bundle is loaded as
 * an external module script (the CSP forbids inline scripts).
 * @module
 */
import { visibleText } from "../islands/_text.ts";
import { IdpText } from "./ui.tsx";
import type { ComponentChildren } from "preact";
import { assetUrl } from "../lib/http/render.tsx";

/** What every console page knows about the request. */
export interface PageContext {
  tenantName: string;
  admin?: { email: string; role: "super_admin" | "admin" };
  csrf?: string;
  /** The nav section to mark as current. */
  section?: Section;
}

/** Navigation sections. */
export type Section =
  | "dashboard"
  | "idps"
  | "users"
  | "groups"
  | "events"
  | "mirroring"
  | "roles"
  | "apikeys"
  | "webhooks"
  | "apiref"
  | "admins";

const NAV: { id: Section; href: string; label: string; superOnly?: boolean }[] = [
  { id: "dashboard", href: "/admin", label: "Dashboard" },
  { id: "idps", href: "/admin/idps", label: "Identity providers" },
  { id: "users", href: "/admin/users", label: "Users" },
  { id: "groups", href: "/admin/groups", label: "Groups" },
  { id: "mirroring", href: "/admin/settings/mirroring", label: "Attribute mirroring" },
  { id: "events", href: "/admin/events", label: "Event Log" },
  { id: "roles", href: "/admin/settings/roles", label: "Roles" },
  { id: "apikeys", href: "/admin/settings/api-keys", label: "API keys", superOnly: true },
  { id: "webhooks", href: "/admin/settings/webhooks", label: "Webhooks", superOnly: true },
  { id: "apiref", href: "/admin/api-reference", label: "API reference" },
  { id: "admins", href: "/admin/admins", label: "Admins", superOnly: true },
];

/** Props of {@linkcode Layout}. */
export interface LayoutProps {
  ctx: PageContext;
  title: string;
  children: ComponentChildren;
}

/** A full console page. */
export function Layout({ ctx, title, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${visibleText(title)} · ${visibleText(ctx.tenantName)} · Weft`}</title>
        {ctx.csrf && <meta name="csrf-token" content={ctx.csrf} />}
        <link rel="stylesheet" href={assetUrl("styles.css")} />
        <link rel="icon" href="data:," />
        <script type="module" src={assetUrl("islands.js")} />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/admin">
            <span aria-hidden="true" class="logo">◆</span> Weft
            <span class="tenant">
              <IdpText value={ctx.tenantName} />
            </span>
          </a>
          {ctx.admin && (
            <div class="who">
              <span class="email" title={ctx.admin.email}>{ctx.admin.email}</span>
              <span class="badge">
                {ctx.admin.role === "super_admin" ? "Super admin" : "Admin"}
              </span>
              <form method="post" action="/admin/signout" class="inline">
                <input type="hidden" name="_csrf" value={ctx.csrf} />
                <button type="submit" class="link">Sign out</button>
              </form>
            </div>
          )}
        </header>
        <div class="frame">
          {ctx.admin && (
            <nav class="side" aria-label="Console">
              <ul>
                {NAV.filter((n) => !n.superOnly || ctx.admin?.role === "super_admin").map((n) => (
                  <li key={n.id}>
                    <a href={n.href} aria-current={ctx.section === n.id ? "page" : undefined}>
                      {n.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          <main id="main" tabIndex={-1}>
            <h1>
              <IdpText value={title} />
            </h1>
            {children}
          </main>
        </div>
      </body>
    </html>
  );
}
