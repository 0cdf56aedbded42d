/**
 * Static files (stylesheet, island bundle) from `static/`, by an allow-list of names, at
 * `/assets/` for every page (console and person pages); `/admin/assets/` still answers, with
 * the console's `no-store`. Versioned URLs (`?v=<content hash>`) are cached for a year; others
 * revalidate. They hold no directory data.
 * @module
 */
import { Hono } from "hono";
import type { BaseEnv } from "../lib/http/env.ts";
import { assetPath, ASSETS, assetVersion } from "../lib/http/render.tsx";

/** `/assets/:name`. */
export const assets = new Hono<BaseEnv>();

const cache = new Map<string, Uint8Array>();

assets.get("/:name", async (c) => {
  const name = c.req.param("name");
  const type = ASSETS[name];
  if (!type) return c.text("Not found", 404);
  let bytes = cache.get(name);
  if (!bytes) {
    try {
      bytes = await Deno.readFile(assetPath(name));
    } catch {
      return c.text(
        name.startsWith("islands")
          ? "The island bundle is missing: run `deno task build`"
          : "Not found",
        404,
      );
    }
    cache.set(name, bytes);
  }
  const versioned = c.req.query("v") === assetVersion(name);
  return new Response(bytes as BodyInit, {
    headers: {
      "content-type": type,
      "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
    },
  });
});
