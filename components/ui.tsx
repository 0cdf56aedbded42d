/**
 * Small server-side building blocks: tabs, badges, definition lists, pager, notices, form
 * fields. Everything renders values as text (Preact escapes), never as HTML.
 * @module
 */
import type { ComponentChildren } from "preact";
import { formatAge, formatTime } from "../islands/_format.ts";
import { codePointName, textPieces } from "../islands/_text.ts";

/** A tab bar of links (works without JavaScript; the current tab has `aria-current`). */
export function Tabs(
  { tabs, current, label }: {
    tabs: { id: string; href: string; label: string }[];
    current: string;
    label: string;
  },
) {
  return (
    <nav class="tabs" aria-label={label}>
      {tabs.map((t) => (
        <a key={t.id} href={t.href} aria-current={t.id === current ? "page" : undefined}>
          {t.label}
        </a>
      ))}
    </nav>
  );
}

/**
 * Text an IdP (or anyone but Weft) chose: isolated with `<bdi>`, so a right-to-left override
 * inside it cannot reorder the page around it, and with each invisible character shown as a
 * marker (see `islands/_text.ts`). Use it wherever such text is shown.
 */
export function IdpText({ value }: { value: string | undefined | null }) {
  if (value === undefined || value === null) return null;
  return (
    <bdi class="idp-text">
      {textPieces(value).map((p, i) =>
        "text" in p ? p.text : (
          <span
            key={i}
            class="invisible-char"
            title={`Invisible character ${codePointName(p.hidden)}`}
          >
            {`⟨${codePointName(p.hidden)}⟩`}
          </span>
        )
      )}
    </bdi>
  );
}

/** A coloured status label. */
export function Badge(
  { tone = "neutral", children }: {
    tone?: "neutral" | "ok" | "warn" | "bad" | "info";
    children: ComponentChildren;
  },
) {
  return <span class={`badge ${tone}`}>{children}</span>;
}

/**
 * A time in the console's one format (seconds, UTC), machine-readable too; with `relative`,
 * its age beside it ("3 minutes ago", "in 5 days").
 */
export function Time({ iso, relative }: { iso?: string; relative?: boolean }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <>
      <time datetime={iso}>{formatTime(iso)}</time>
      {relative && <span class="muted small age">{` (${formatAge(iso, Date.now())})`}</span>}
    </>
  );
}

/** A message box. */
export function Notice(
  { tone = "info", children }: {
    tone?: "info" | "ok" | "warn" | "bad";
    children: ComponentChildren;
  },
) {
  return (
    <div class={`notice ${tone}`} role={tone === "bad" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** Previous/next links for cursor paging. */
export function Pager(
  { first, next, label }: { first?: string; next?: string; label: string },
) {
  if (!first && !next) return null;
  return (
    <nav class="pager" aria-label={label}>
      {first && <a href={first}>← First page</a>}
      {next && <a href={next} rel="next">Next page →</a>}
    </nav>
  );
}

/** A hidden CSRF field for forms. */
export function Csrf({ token }: { token?: string }) {
  return <input type="hidden" name="_csrf" value={token ?? ""} />;
}

/** A labelled input. */
export function Field(
  props: {
    id: string;
    label: string;
    name?: string;
    type?: string;
    value?: string;
    required?: boolean;
    hint?: string;
    error?: string;
    autocomplete?: string;
    placeholder?: string;
    maxLength?: number;
    readOnly?: boolean;
  },
) {
  const describedBy = [props.hint && `${props.id}-hint`, props.error && `${props.id}-error`]
    .filter(Boolean).join(" ") || undefined;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.name ?? props.id}
        type={props.type ?? "text"}
        value={props.value}
        required={props.required}
        autocomplete={props.autocomplete}
        placeholder={props.placeholder}
        maxLength={props.maxLength}
        readOnly={props.readOnly}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy}
      />
      {props.hint && <p class="hint" id={`${props.id}-hint`}>{props.hint}</p>}
      {props.error && <p class="error" id={`${props.id}-error`}>{props.error}</p>}
    </div>
  );
}

/** A read-only value with a copy button next to it. */
export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}
