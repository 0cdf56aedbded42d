/**
 * SCIM over HTTP: responses with `application/scim+json`, JSON bodies, list query parameters
 * (RFC 7644 §3.4.2) and `If-Match` (§3.14).
 * @module
 */
import type { Context } from "hono";
import { z } from "zod";
import { ScimError, toErrorBody } from "../scim/errors.ts";
import { parseFilter } from "../scim/filter/parser.ts";
import type { ListParams } from "../scim/list_params.ts";
import { parseAttributeList } from "../scim/projection.ts";
import { SEARCH_REQUEST } from "../scim/urns.ts";

/** The SCIM media type (RFC 7644 §8.1). */
export const SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8";

/** The JSON text of each SCIM response built by {@linkcode scimJson}, for the request log. */
const bodies = new WeakMap<Response, string>();

/** A SCIM JSON response. */
export function scimJson(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  const text = status === 204 ? null : JSON.stringify(body);
  const res = new Response(text, {
    status,
    headers: { "content-type": SCIM_CONTENT_TYPE, ...headers },
  });
  if (text !== null) bodies.set(res, text);
  return res;
}

/**
 * The body text of a response {@linkcode scimJson} built, without reading the response; undefined
 * for a streamed one (a group's members) or any other.
 */
export function scimBodyOf(res: Response): string | undefined {
  return bodies.get(res);
}

/** The RFC 7644 §3.12 error response for a ScimError. */
export function scimErrorResponse(error: ScimError): Response {
  return scimJson(toErrorBody(error), error.status, error.headers);
}

/** The text of each request body read by {@linkcode readJsonBody} (the request log's copy). */
const bodyTexts = new WeakMap<Request, string>();

/** The body text {@linkcode readJsonBody} read from `request`, if it read one. */
export function bodyTextOf(request: Request): string | undefined {
  return bodyTexts.get(request);
}

/** Reads a JSON request body (`application/scim+json` or `application/json`, any charset). */
export async function readJsonBody(c: Context): Promise<unknown> {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (
    type && type !== "application/scim+json" && type !== "application/json" &&
    !type.endsWith("+json")
  ) {
    throw new ScimError(
      415,
      `Content type "${type}" is not supported: send application/scim+json or application/json`,
    );
  }
  let text: string;
  try {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    if (error instanceof ScimError) throw error;
    throw ScimError.invalidSyntax("Cannot read the request body: it is not valid UTF-8");
  }
  bodyTexts.set(c.req.raw, text);
  if (text.trim() === "") {
    throw ScimError.invalidSyntax("The request body is empty: a JSON object is required");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = error instanceof SyntaxError ? `: ${error.message}` : "";
    throw ScimError.invalidSyntax(`Cannot parse the request body as JSON${where}`);
  }
}

/**
 * Decodes the raw `filter` query value. A raw `+` is ambiguous: form encoding uses it for a space
 * (Entra sends `filter=userName+eq+%22x%22`), while unencoded e-mail addresses carry a real one
 * (idp-behaviour P4). Outside quoted strings it is a space; inside, the primary reading keeps the
 * plus and `alternative` (present only when it differs) reads it as a space, to try when the
 * primary matches nothing. `%2B` is always a plus.
 */
export function decodeFilterParam(raw: string): { primary: string; alternative?: string } {
  const PLUS = "\uE000";
  let decoded: string;
  try {
    decoded = decodeURIComponent(
      raw.replaceAll("+", PLUS).replace(/%(?![0-9a-fA-F]{2})/g, "%25"),
    );
  } catch {
    throw ScimError.invalidFilter("Cannot decode the filter parameter: invalid percent-encoding");
  }
  let primary = "";
  let alternative = "";
  let ambiguous = false;
  let inString = false;
  for (let i = 0; i < decoded.length; i++) {
    const ch = decoded[i];
    if (ch === '"' && decoded[i - 1] !== "\\") inString = !inString;
    if (ch === PLUS) {
      primary += inString ? "+" : " ";
      alternative += " ";
      ambiguous ||= inString;
    } else {
      primary += ch;
      alternative += ch;
    }
  }
  return ambiguous ? { primary, alternative } : { primary };
}

/** The raw (undecoded) values of a query parameter, matched case-insensitively. */
export function rawQueryParam(url: string, name: string): string | undefined {
  const q = url.indexOf("?");
  if (q < 0) return undefined;
  for (const part of url.slice(q + 1).split("&")) {
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k.toLowerCase() === name.toLowerCase()) return eq < 0 ? "" : part.slice(eq + 1);
  }
  return undefined;
}

const intParam = (name: string) =>
  z.union([z.number(), z.string()]).optional().transform((v, ctx) => {
    if (v === undefined || v === "") return undefined;
    // Decimal digits only: Number() would also read "0x10", "1e2" or " 3 ".
    const n = typeof v === "number" ? v : /^[+-]?\d{1,9}$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || !Number.isInteger(n)) {
      ctx.addIssue({ code: "custom", message: `"${name}" must be an integer` });
      return z.NEVER;
    }
    return n;
  });

const ListInput = z.object({
  filter: z.string().optional(),
  startIndex: intParam("startIndex"),
  count: intParam("count"),
  sortBy: z.string().max(500).optional(),
  sortOrder: z.string().optional(),
  cursor: z.string().max(2000).optional(),
  attributes: z.union([z.string(), z.array(z.string())]).optional(),
  excludedAttributes: z.union([z.string(), z.array(z.string())]).optional(),
});

/**
 * An `attributes` / `excludedAttributes` list. Entries written as value paths
 * (`emails[type eq "work"]`, sent by Microsoft's validator) name their attribute: the filter is
 * dropped, so the whole attribute is returned rather than the request failing.
 */
function attributeList(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? v.map((s) => s.trim()).filter(Boolean) : parseAttributeList(v);
  return list?.map((a) => a.replace(/\[[^\]]*\]/g, ""));
}

/** The projection asked for in the query string (`attributes`, `excludedAttributes`). */
export function projectionFromQuery(
  c: Context,
): { attributes?: string[]; excludedAttributes?: string[] } {
  return {
    attributes: attributeList(c.req.query("attributes")),
    excludedAttributes: attributeList(c.req.query("excludedAttributes")),
  };
}

/**
 * Validates list parameters (from the query string or a SearchRequest body). Out-of-range paging
 * is clamped as RFC 7644 §3.4.2.4 says: `startIndex < 1` → 1, `count < 0` → 0, `count` capped.
 */
export function parseListParams(input: Record<string, unknown>, maxResults: number): ListParams {
  const parsed = ListInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw ScimError.invalidValue(
      `Invalid list parameter "${issue.path.join(".")}": ${issue.message}`,
    );
  }
  const p = parsed.data;
  const order = p.sortOrder?.toLowerCase();
  if (order !== undefined && order !== "ascending" && order !== "descending") {
    throw ScimError.invalidValue(
      `sortOrder must be "ascending" or "descending", not "${p.sortOrder}"`,
    );
  }
  const filterText = p.filter?.trim();
  return {
    filter: filterText ? parseFilter(filterText) : undefined,
    startIndex: Math.max(1, p.startIndex ?? 1),
    count: Math.min(Math.max(0, p.count ?? 100), maxResults),
    sortBy: p.sortBy || undefined,
    sortOrder: order === "descending" ? "descending" : "ascending",
    cursor: p.cursor,
    attributes: attributeList(p.attributes),
    excludedAttributes: attributeList(p.excludedAttributes),
  };
}

/** List parameters from a GET query string (filter decoded with {@linkcode decodeFilterParam}). */
export function listParamsFromQuery(c: Context, maxResults: number): ListParams {
  const q = c.req.query();
  const lower: Record<string, unknown> = {};
  const names = [
    "filter",
    "startIndex",
    "count",
    "sortBy",
    "sortOrder",
    "cursor",
    "attributes",
    "excludedAttributes",
  ];
  for (const [k, v] of Object.entries(q)) {
    const name = names.find((n) => n.toLowerCase() === k.toLowerCase());
    if (name) lower[name] = v;
  }
  const rawFilter = rawQueryParam(c.req.url, "filter");
  let alternative: string | undefined;
  if (rawFilter !== undefined) {
    const decoded = decodeFilterParam(rawFilter);
    lower.filter = decoded.primary;
    alternative = decoded.alternative;
  }
  const params = parseListParams(lower, maxResults);
  if (alternative !== undefined) {
    try {
      params.filterAlternative = parseFilter(alternative);
    } catch {
      // The space reading does not parse: the plus reading is the only one.
    }
  }
  return params;
}

/** List parameters from a `POST .search` body (RFC 7644 §3.4.3). */
export function listParamsFromSearch(body: unknown, maxResults: number): ListParams {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw ScimError.invalidSyntax("A SearchRequest must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  const schemas = b.schemas;
  if (
    schemas !== undefined &&
    !(Array.isArray(schemas) &&
      schemas.some((s) =>
        typeof s === "string" && s.toLowerCase() === SEARCH_REQUEST.toLowerCase()
      ))
  ) {
    throw ScimError.invalidSyntax(`A SearchRequest must list the schema "${SEARCH_REQUEST}"`);
  }
  const { schemas: _s, ...rest } = b;
  return parseListParams(rest, maxResults);
}

/** The versionstamp an `If-Match` header asks for; undefined for none or `*`. */
export function ifMatchVersion(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const v = header.trim();
  if (v === "*") return undefined;
  const m = /^(?:W\/)?"([^"]*)"$/.exec(v);
  return m ? m[1] : v;
}
