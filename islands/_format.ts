/**
 * Formatting shared by islands and server components. Deterministic (UTC, no locale) so the
 * server's output and the hydrated island agree.
 * @module
 */

/** `2025-11-28 19:34 UTC` from an ISO time. */
export function formatTime(iso: string | undefined, seconds = false): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, seconds ? 19 : 16)} UTC`;
}

/** `3 minutes ago`-style age of an ISO time relative to `now`. */
export function formatAge(iso: string | undefined, now: number): string {
  if (!iso) return "never";
  const ms = now - Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const s = Math.round(ms / 1000);
  if (s < 60) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? "" : "s"} ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? "" : "s"} ago`;
  const d = Math.round(h / 24);
  return `${d} days ago`;
}

/** The event types' labels in the console. */
export function eventLabel(type: string): string {
  return type.replace(/^scim_/, "SCIM ").replaceAll("_", " ");
}

/** Reads the CSRF token the layout puts in `<meta name="csrf-token">`. */
export function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}
