/**
 * The frame of the pages a tenant's people see (`/login`, `/me`, sign-in refusals): the tenant's
 * name and the page. The console's stylesheet; no script at all.
 * @module
 */
import type { ComponentChildren } from "preact";
import { assetUrl } from "../lib/http/render.tsx";

/** Props of {@linkcode PersonLayout}. */
export interface PersonLayoutProps {
  tenantName: string;
  title: string;
  children: ComponentChildren;
}

/** A full page for a tenant's people. */
export function PersonLayout({ tenantName, title, children }: PersonLayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · ${tenantName}`}</title>
        <link rel="stylesheet" href={assetUrl("styles.css")} />
        <link rel="icon" href="data:," />
      </head>
      <body>
        <header class="top">
          <span class="brand">
            <span aria-hidden="true" class="logo">◆</span> {tenantName}
          </span>
        </header>
        <main id="main" class="person">
          <h1>{title}</h1>
          {children}
        </main>
      </body>
    </html>
  );
}
