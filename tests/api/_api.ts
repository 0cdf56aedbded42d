/**
 * Helpers for directory API tests: an API key for the test tenant, `GET /api/v1/…` through
 * `app.request()`, and assertions on the API's JSON bodies and errors.
 * @module
 */
import assert from "node:assert/strict";
import type { TestApp } from "../_helpers.ts";
import { createApiKey } from "../../lib/store/api_keys.ts";
import type { ApiScope } from "../../lib/auth/api_keys.ts";

/** `http://acme.localhost/api/v1`. */
export const API = "http://acme.localhost/api/v1";

/** Mints an API key for the test tenant (every scope unless told). */
export async function apiKeyOf(
  t: TestApp,
  options: { scopes?: ApiScope[]; expiresAt?: string; name?: string } = {},
): Promise<string> {
  const { secret } = await createApiKey(t.kv, t.tenant.id, {
    name: options.name ?? "test app",
    scopes: options.scopes,
    expiresAt: options.expiresAt,
    createdBy: "test",
  });
  return secret;
}

/** `GET` (or another method) of a path under `/api/v1` with a bearer (or none). */
export function apiGet(
  t: TestApp,
  path: string,
  key: string | null,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const url = path.startsWith("http") ? path : API + path;
  return Promise.resolve(t.app.request(url, { method: init.method ?? "GET", headers }));
}

/** Asserts status and JSON content type; returns the parsed body. */
export async function expectJson<T = Record<string, unknown>>(
  res: Response,
  status: number,
): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return JSON.parse(text) as T;
}

/** Asserts an API error with `status` and `code`; returns its message. */
export async function expectApiError(res: Response, status: number, code: string): Promise<string> {
  const body = await expectJson<{ error: { code: string; message: string } }>(res, status);
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, code, body.error.message);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 0);
  return body.error.message;
}

/** Every item of a paged list, following `next_cursor` to the end (bounded). */
export async function pageAll<T>(
  t: TestApp,
  path: string,
  key: string,
  pages: { count: number } = { count: 0 },
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes("?") ? "&" : "?";
  for (let i = 0; i < 10_000; i++) {
    const url: string = cursor === null
      ? path
      : `${path}${sep}cursor=${encodeURIComponent(cursor)}`;
    const body = await expectJson<{ object: string; data: T[]; next_cursor: string | null }>(
      await apiGet(t, url, key),
      200,
    );
    assert.equal(body.object, "list");
    pages.count++;
    out.push(...body.data);
    cursor = body.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error("paging did not end");
}
