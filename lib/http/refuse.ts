/**
 * A refusal made before any handler runs (a body too large, a URL or Host that cannot be taken),
 * rendered by the root app in the format of the request's surface (SCIM error, console page,
 * console JSON, person page).
 * @module
 */
import type { Context } from "hono";

/** Renders a refusal of the request with `status` and a detail for the client. */
export type Refuse = (c: Context, status: 400 | 413 | 414, detail: string) => Response;
