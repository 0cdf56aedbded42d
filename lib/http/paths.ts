/**
 * Same-origin paths taken from input (`next`, `return_to`, `RelayState`). Every redirect whose
 * target comes from a request is built here: the input is parsed as a URL against a fixed
 * origin, kept only when it stays on that origin, and re-serialised, so what reaches `Location`
 * is percent-encoded ASCII. A raw control character in a response header makes the HTTP layer
 * abort the process, so this is the only way input may reach one.
 * @module
 */

const BASE = "http://weft.invalid";

/** Longest path taken from input; longer ones are refused rather than cut. */
export const MAX_RETURN_PATH = 2000;

/** Options for {@linkcode sameOriginPath}. */
export interface SameOriginPathOptions {
  /** The path must be this prefix or lie below it (`/admin` allows `/admin` and `/admin/…`). */
  under?: string;
}

/**
 * The same-origin path and query an input names, percent-encoded, or `null` when it names
 * anything else: another host (`//evil.example`, `/\evil.example`, `https://…`), a scheme, a
 * path outside `under`, or text longer than {@linkcode MAX_RETURN_PATH}. The fragment is dropped.
 */
export function sameOriginPath(
  input: string | null | undefined,
  options: SameOriginPathOptions = {},
): string | null {
  if (typeof input !== "string" || input.length === 0 || input.length > MAX_RETURN_PATH) {
    return null;
  }
  // One leading slash, then not a second slash or backslash (browsers read `/\x` as `//x`).
  // Control characters anywhere are refused outright: the URL parser would drop some of them
  // silently (tab, newline), which would make `/ad\tmin` mean `/admin`.
  // deno-lint-ignore no-control-regex -- control characters are what is refused here
  if (!/^\/(?![/\\])/.test(input) || /[\x00-\x1f\x7f\\]/.test(input)) return null;
  let url: URL;
  try {
    url = new URL(input, BASE);
  } catch {
    return null;
  }
  if (url.origin !== BASE) return null;
  const path = url.pathname + url.search;
  if (options.under) {
    const p = url.pathname;
    if (p !== options.under && !p.startsWith(options.under + "/")) return null;
  }
  return path.length > MAX_RETURN_PATH ? null : path;
}

/**
 * Characters a header value may not hold: controls other than tab, and DEL. Deno's `Headers`
 * accepts most of them, and the HTTP layer then aborts the process when it writes the response.
 */
// deno-lint-ignore no-control-regex -- control characters are what is looked for
const UNSAFE_HEADER_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Whether a value can be sent in a response header as it is. */
export function isSafeHeaderValue(value: string): boolean {
  return !UNSAFE_HEADER_VALUE.test(value);
}

/** The names of a response's headers whose values cannot be sent (normally none). */
export function unsafeHeaders(headers: Headers): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) if (!isSafeHeaderValue(value)) out.push(name);
  return out;
}
