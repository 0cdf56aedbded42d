/**
 * The directory API's page cursors: opaque to clients (base64url of a small JSON document),
 * naming the listing they belong to and the position after which the next page starts (the key
 * parts of the last item examined). A cursor that does not decode, belongs to another listing or
 * holds anything unexpected is an {@linkcode InvalidCursorError} (answered `400`).
 * @module
 */
import { z } from "zod";
import { InvalidCursorError } from "../store/kv.ts";

const Cursor = z.strictObject({
  v: z.literal(1),
  l: z.string().max(64),
  p: z.array(z.string().min(1).max(1024)).min(1).max(4),
});

/** The cursor of `listing` continuing after `position`. */
export function encodeCursor(listing: string, position: string[]): string {
  const json = JSON.stringify({ v: 1, l: listing, p: position });
  const bytes = new TextEncoder().encode(json);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The position a cursor of `listing` holds, with `parts` parts; throws on anything else. */
export function decodeCursor(cursor: string, listing: string, parts: number): string[] {
  if (!/^[A-Za-z0-9_-]{1,2800}$/.test(cursor)) throw new InvalidCursorError();
  let value: unknown;
  try {
    const bin = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new InvalidCursorError();
  }
  const parsed = Cursor.safeParse(value);
  if (!parsed.success || parsed.data.l !== listing || parsed.data.p.length !== parts) {
    throw new InvalidCursorError();
  }
  return parsed.data.p;
}
