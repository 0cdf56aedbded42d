/**
 * Server rendering of console pages with preact-render-to-string, and island markers: an island
 * is rendered on the server inside `<div data-island="Name" data-props="{…json…}">`, and
 * `islands/_client.ts` (bundled to `static/islands/islands.js`) hydrates it in place. Props
 * travel in a data attribute, escaped like any attribute, so no inline script is ever emitted
 * and the CSP can forbid them.
 * @module
 */
import type { ComponentType, VNode } from "preact";
import { renderToString } from "preact-render-to-string";

/** Where the console's static files live on disk. */
export const STATIC_DIR = new URL("../../static/", import.meta.url);

/** Files served under `/assets/` (nothing else on disk is reachable). */
export const ASSETS: Record<string, string> = {
  "styles.css": "text/css; charset=utf-8",
  "islands.js": "text/javascript; charset=utf-8",
  "islands.js.map": "application/json; charset=utf-8",
};

/** The on-disk path of an asset. */
export function assetPath(name: string): URL {
  return name.startsWith("islands.js")
    ? new URL(`islands/${name}`, STATIC_DIR)
    : new URL(name, STATIC_DIR);
}

const versions = new Map<string, string>();

/** A short content hash of an asset for cache busting (read once per process). */
export function assetVersion(name: string): string {
  let v = versions.get(name);
  if (v === undefined) {
    try {
      const bytes = Deno.readFileSync(assetPath(name));
      let h = 2166136261;
      for (const b of bytes) h = Math.imul(h ^ b, 16777619);
      v = (h >>> 0).toString(36);
    } catch {
      v = "missing";
    }
    versions.set(name, v);
  }
  return v;
}

/** The URL of an asset, with its content version. */
export function assetUrl(name: string): string {
  return `/assets/${name}?v=${assetVersion(name)}`;
}

/** Renders a full HTML document. */
export function renderDocument(body: VNode): string {
  return "<!doctype html>" + renderToString(body);
}

/** An HTML response with the console's headers. */
export function htmlResponse(
  html: string,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/** Island marker props. */
export interface IslandProps<P> {
  /** The island's name in `islands/_registry.ts`. */
  name: string;
  component: ComponentType<P>;
  props: P;
}

/**
 * Renders an island: its server output inside a marker element carrying the JSON props. The
 * props must be serialisable (no functions, no class instances).
 */
export function Island<P extends object>({ name, component: C, props }: IslandProps<P>): VNode {
  return (
    <div data-island={name} data-props={JSON.stringify(props)} class="island">
      <C {...props} />
    </div>
  );
}
