/**
 * Formatting shared by islands and server components. Deterministic (UTC, no locale) so the
 * server's output and the hydrated island agree.
 * @module
 */
import { FIRST_RUN } from "../lib/auth/token_state.ts";
import { plural } from "../lib/words.ts";

/** The console's one time format, `2025-11-28 19:34:05 UTC`, from an ISO time. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 19)} UTC`;
}

export { plural } from "../lib/words.ts";

/** `3 minutes ago` (or `in 3 days`, for a time still to come) relative to `now`. */
export function formatAge(iso: string | undefined, now: number): string {
  if (!iso) return "never";
  const ms = now - Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const future = ms < 0;
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return future ? "in under a minute" : "just now";
  const m = Math.round(s / 60);
  const h = Math.round(m / 60);
  const d = Math.round(h / 24);
  const span = m < 60 ? plural(m, "minute") : h < 48 ? plural(h, "hour") : plural(d, "day");
  return future ? `in ${span}` : `${span} ago`;
}

/**
 * Who did it, in words: the token's name for a SCIM change, an admin's address, the CLI, the
 * first run, a SAML sign-in. The raw actor stays in the event's detail and in exports.
 */
export function actorLabel(actor: string, tokenName?: string): string {
  if (actor.startsWith("scim:") || actor === "scim-client") {
    return tokenName ? `token ${tokenName}` : actor === "scim-client" ? "SCIM client" : "token";
  }
  if (actor.startsWith("admin:")) return actor.slice("admin:".length);
  const words: Record<string, string> = {
    "cli": "CLI",
    [FIRST_RUN]: "the first start",
    "saml": "SAML sign-in",
    "saml-jit": "SAML sign-in (created the user)",
  };
  return words[actor] ?? actor;
}

/** The event types' labels in the console. */
export function eventLabel(type: string): string {
  return type.replace(/^scim_/, "SCIM ").replaceAll("_", " ");
}

/** Reads the CSRF token the layout puts in `<meta name="csrf-token">`. */
export function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}
