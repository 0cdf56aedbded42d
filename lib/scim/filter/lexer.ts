/**
 * Tokens of SCIM filters and PATCH paths (RFC 7644 §3.4.2.2 and §3.5.2), with character positions.
 *
 * The lexer is deliberately coarse: everything that is not whitespace, a bracket, a parenthesis or
 * a JSON string is a `word` (attribute paths, operators, keywords, numbers and the unquoted values
 * some clients send). The parser classifies words, so case-insensitive keywords and Entra/authentik
 * leniency live in one place. Positions are 0-based UTF-16 offsets into the input, like
 * `JSON.parse` error messages.
 * @module
 */

/** The kinds of token. `.` is only a token right after `]` (as in `emails[type eq "work"].value`). */
export type TokenKind = "word" | "string" | "(" | ")" | "[" | "]" | "." | "eof";

/** One token and where it sits in the input. */
export interface Token {
  kind: TokenKind;
  /** The source text, quotes and escapes included (empty for `eof`). */
  text: string;
  /** The decoded value of a `string` token; `text` for every other kind. */
  value: string;
  /** 0-based offset of the first character. */
  pos: number;
  /** 0-based offset just past the last character. */
  end: number;
}

/** A lexical error at a position; the parser turns it into a `ScimError`. */
export class LexError extends Error {
  /** 0-based offset of the offending character. */
  readonly position: number;
  /** What is wrong, without the position (e.g. `unterminated string`). */
  readonly reason: string;

  constructor(reason: string, position: number) {
    super(`${reason} at position ${position}`);
    this.name = "LexError";
    this.reason = reason;
    this.position = position;
  }
}

const PUNCTUATION = new Set(["(", ")", "[", "]"]);
const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/** Whether `ch` separates tokens (ASCII whitespace; RFC 7644 says SP, we accept any run of it). */
function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ch === "\f" || ch === "\v";
}

/** Whether `ch` ends a word. */
function endsWord(ch: string): boolean {
  return isSpace(ch) || PUNCTUATION.has(ch) || ch === '"';
}

/** Reads the JSON string (RFC 8259 §7) starting at the quote at `start`; returns its value and end. */
function readString(input: string, start: number): { value: string; end: number } {
  let value = "";
  let i = start + 1;
  while (i < input.length) {
    const ch = input[i];
    if (ch === '"') return { value, end: i + 1 };
    if (ch === "\\") {
      const next = input[i + 1];
      if (next === undefined) break;
      if (next === "u") {
        const hex = input.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new LexError("invalid unicode escape", i);
        value += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      const simple = Object.hasOwn(SIMPLE_ESCAPES, next) ? SIMPLE_ESCAPES[next] : undefined;
      if (simple === undefined) {
        throw new LexError(`invalid escape ${JSON.stringify("\\" + next)} in string`, i);
      }
      value += simple;
      i += 2;
      continue;
    }
    if (ch.charCodeAt(0) < 0x20) throw new LexError("unescaped control character in string", i);
    value += ch;
    i++;
  }
  throw new LexError("unterminated string", start);
}

/** Splits a filter or path into tokens, ending with one `eof` token; throws {@linkcode LexError}. */
export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (isSpace(ch)) {
      i++;
      continue;
    }
    if (PUNCTUATION.has(ch)) {
      tokens.push({ kind: ch as TokenKind, text: ch, value: ch, pos: i, end: i + 1 });
      i++;
      continue;
    }
    if (ch === "." && i > 0 && input[i - 1] === "]") {
      tokens.push({ kind: ".", text: ch, value: ch, pos: i, end: i + 1 });
      i++;
      continue;
    }
    if (ch === '"') {
      const { value, end } = readString(input, i);
      tokens.push({ kind: "string", text: input.slice(i, end), value, pos: i, end });
      i = end;
      continue;
    }
    const start = i;
    while (i < input.length && !endsWord(input[i])) i++;
    const text = input.slice(start, i);
    tokens.push({ kind: "word", text, value: text, pos: start, end: i });
  }
  tokens.push({ kind: "eof", text: "", value: "", pos: input.length, end: input.length });
  return tokens;
}
