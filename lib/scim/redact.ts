/**
 * What a SCIM request or response may show in the request log: the body as sent, with every
 * `password` value (RFC 7643 §4.1.1: write-only, never returned) and anything named like a secret
 * or token replaced by `"[redacted]"` — as a key anywhere in the JSON, and as the value of a PATCH
 * operation whose path names one. A body that is not JSON is kept as text, with such fields
 * redacted where they look like `name=value` pairs.
 * @module
 */

/** Names whose values are never logged (case-insensitive; matched on the last path segment). */
const SECRET_NAME =
  /^(password|passwd|secret|client_?secret|token|access_?token|refresh_?token|api_?key|otp)$/i;
const SECRET_ANYWHERE = /password|passwd|secret|token|api_?key|otp/i;
const REDACTED = "[redacted]";

function secretPath(path: unknown): boolean {
  if (typeof path !== "string") return false;
  const last = path.replace(/\[.*?\]/g, "").split(/[.:]/).at(-1) ?? "";
  return SECRET_NAME.test(last);
}

function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(record)) {
    if (SECRET_NAME.test(k)) out[k] = REDACTED;
    else if (k.toLowerCase() === "value" && secretPath(record.path ?? record.Path)) {
      out[k] = REDACTED;
    } else out[k] = redactValue(v);
  }
  return out;
}

/** The body with its secrets redacted (unchanged when it names none). */
export function redactBody(text: string): string {
  // Most bodies name no secret: no parse then.
  if (!SECRET_ANYWHERE.test(text)) return text;
  try {
    return JSON.stringify(redactValue(JSON.parse(text)));
  } catch {
    return text.replace(
      /((?:password|passwd|secret|token|api_?key|otp)[\w-]*\s*[=:]\s*)("[^"]*"|[^&\s,;]*)/gi,
      `$1${REDACTED}`,
    );
  }
}
