/**
 * Text from IdPs as an admin must see it: characters that render as nothing or reorder what
 * follows (zero-width spaces and joiners, bidirectional overrides and isolates, soft hyphens,
 * controls, Hangul fillers) are made visible, so `adm\u200Bin` or `\u202Egnp.exe` cannot pass for
 * another name. The stored value is never changed; only what is shown. Shared by server
 * components and islands.
 * @module
 */

/** Characters shown as a marker instead of themselves. */
const INVISIBLE =
  // deno-lint-ignore no-control-regex -- controls are among the characters made visible
  /[\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]|\udb40[\udc00-\udc7f]/g;

/** Variation selectors after a pictograph are how emoji are written: those are left alone. */
const EMOJI_BEFORE = /\p{Extended_Pictographic}$/u;

/** `U+200B`: a code point as people write it. */
export function codePointName(ch: string): string {
  return "U+" + (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
}

/** A piece of shown text: plain text, or one invisible character to show as a marker. */
export type TextPiece = { text: string } | { hidden: string };

/** Splits text into plain runs and invisible characters. */
export function textPieces(value: string): TextPiece[] {
  const out: TextPiece[] = [];
  let last = 0;
  for (const m of value.matchAll(INVISIBLE)) {
    const at = m.index ?? 0;
    const ch = m[0];
    const selector = ch >= "\ufe00" && ch <= "\ufe0f";
    if (selector && EMOJI_BEFORE.test(value.slice(0, at))) continue;
    if (at > last) out.push({ text: value.slice(last, at) });
    out.push({ hidden: ch });
    last = at + ch.length;
  }
  if (last < value.length) out.push({ text: value.slice(last) });
  return out;
}

/** Whether any character of the text would be shown as a marker. */
export function hasInvisible(value: string): boolean {
  return textPieces(value).some((p) => "hidden" in p);
}

/** The text with each invisible character written as `⟨U+200B⟩`, for plain-text places (titles). */
export function visibleText(value: string): string {
  return textPieces(value).map((p) => "text" in p ? p.text : `⟨${codePointName(p.hidden)}⟩`)
    .join("");
}
