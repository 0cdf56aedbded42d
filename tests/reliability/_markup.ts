/**
 * What a browser would make of the console's output, for the stored-XSS checks of
 * `admin_security_test.ts`: an HTML tokenizer that follows the WHATWG tokenizer's states where
 * injected markup could matter (tags, attributes with quoted and unquoted values, comments,
 * raw-text elements, character references), checks that no markup came from data, and an
 * RFC 4180 CSV reader for the formula-injection checks of the Event Log export.
 * @module
 */

/** A start or end tag as the browser sees it. */
export interface Tag {
  kind: "tag";
  name: string;
  end: boolean;
  /** Attribute names lower-cased, values with character references decoded. */
  attrs: [string, string][];
  /** Raw text of a raw-text element (`script`, `style`, …) up to its end tag. */
  raw?: string;
  /** Where the tag starts in the document. */
  at: number;
}

/** Text between tags, character references decoded. */
export interface Text {
  kind: "text";
  text: string;
}

/** A comment or doctype. */
export interface Other {
  kind: "comment";
  text: string;
}

export type Token = Tag | Text | Other;

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
};

/** Decodes character references (numeric, and the named ones a renderer emits). */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]+|#\d+|[A-Za-z]+);?/g, (m, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X"
        ? parseInt(ref.slice(2), 16)
        : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return NAMED[ref] ?? m;
  });
}

/** Elements whose content is raw text (no tags inside) until their own end tag. */
const RAW_TEXT = new Set(["script", "style", "textarea", "title", "xmp", "iframe", "noembed"]);

/** Splits an HTML document into tags, text and comments as an HTML tokenizer would. */
export function tokenize(html: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let text = "";
  const flush = () => {
    if (text) out.push({ kind: "text", text: decodeEntities(text) });
    text = "";
  };
  while (i < html.length) {
    const ch = html[i];
    if (ch !== "<") {
      text += ch;
      i++;
      continue;
    }
    const next = html[i + 1] ?? "";
    if (html.startsWith("<!--", i)) {
      flush();
      const end = html.indexOf("-->", i + 4);
      const stop = end < 0 ? html.length : end + 3;
      out.push({ kind: "comment", text: html.slice(i, stop) });
      i = stop;
      continue;
    }
    if (next === "!" || next === "?") {
      flush();
      const end = html.indexOf(">", i);
      const stop = end < 0 ? html.length : end + 1;
      out.push({ kind: "comment", text: html.slice(i, stop) });
      i = stop;
      continue;
    }
    const isEnd = next === "/";
    const nameStart = isEnd ? i + 2 : i + 1;
    if (!/[A-Za-z]/.test(html[nameStart] ?? "")) {
      text += ch;
      i++;
      continue;
    }
    flush();
    const at = i;
    let j = nameStart;
    while (j < html.length && !/[\t\n\f\r />]/.test(html[j])) j++;
    const name = html.slice(nameStart, j).toLowerCase();
    const attrs: [string, string][] = [];
    // Attributes: names end at whitespace, "/", ">" or "="; values are quoted or unquoted.
    for (;;) {
      while (j < html.length && /[\t\n\f\r /]/.test(html[j])) j++;
      if (j >= html.length || html[j] === ">") break;
      let k = j + 1; // a name may start with "="
      while (k < html.length && !/[\t\n\f\r />=]/.test(html[k])) k++;
      const attrName = html.slice(j, k).toLowerCase();
      j = k;
      while (j < html.length && /[\t\n\f\r ]/.test(html[j])) j++;
      let value = "";
      if (html[j] === "=") {
        j++;
        while (j < html.length && /[\t\n\f\r ]/.test(html[j])) j++;
        const quote = html[j];
        if (quote === '"' || quote === "'") {
          const close = html.indexOf(quote, j + 1);
          const stop = close < 0 ? html.length : close;
          value = html.slice(j + 1, stop);
          j = stop + 1;
        } else {
          k = j;
          while (k < html.length && !/[\t\n\f\r >]/.test(html[k])) k++;
          value = html.slice(j, k);
          j = k;
        }
      }
      attrs.push([attrName, decodeEntities(value)]);
    }
    i = j + 1;
    const tag: Tag = { kind: "tag", name, end: isEnd, attrs, at };
    out.push(tag);
    if (!isEnd && RAW_TEXT.has(name)) {
      const close = html.toLowerCase().indexOf(`</${name}`, i);
      const stop = close < 0 ? html.length : close;
      tag.raw = html.slice(i, stop);
      if (name === "title" || name === "textarea") {
        out.push({ kind: "text", text: decodeEntities(tag.raw) });
      }
      i = stop;
    }
  }
  flush();
  return out;
}

/** The decoded text a reader sees (raw-text content of scripts and styles left out). */
export function visibleText(tokens: Token[]): string {
  return tokens.flatMap((t) => t.kind === "text" ? [t.text] : []).join("");
}

/** Every decoded attribute value (where escaped data may legitimately sit, e.g. island props). */
export function attributeValues(tokens: Token[]): string[] {
  return tokens.flatMap((t) => t.kind === "tag" ? t.attrs.map(([, v]) => v) : []);
}

/** Attributes whose value a browser follows as a URL. */
const URL_ATTRS = new Set([
  "href",
  "src",
  "action",
  "formaction",
  "xlink:href",
  "poster",
  "data",
  "background",
  "ping",
  "cite",
  "srcset",
  "manifest",
  "codebase",
]);

/** Elements that run or embed content; the console renders none of them. */
const ACTIVE_ELEMENTS = new Set([
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
  "applet",
  "base",
  "img",
  "image",
  "math",
  "video",
  "audio",
  "source",
  "portal",
  "foreignobject",
  "animate",
  "set",
  "handler",
  "style",
  "template",
]);

/**
 * Where a page's markup may have come from data rather than from the console's templates: any
 * inline or foreign script, event-handler or style attribute, `javascript:`-like URL, embedding
 * element, `meta refresh`, or a tag or attribute name carrying an injection marker. Empty means
 * the page is inert whatever the data.
 */
export function markupProblems(html: string, markers: RegExp = /xss|alert/i): string[] {
  const problems: string[] = [];
  const at = (t: Tag) => `<${t.end ? "/" : ""}${t.name}> at ${t.at}`;
  for (const t of tokenize(html)) {
    if (t.kind !== "tag") continue;
    if (markers.test(t.name)) problems.push(`${at(t)}: a tag named by data`);
    if (t.end) continue;
    if (ACTIVE_ELEMENTS.has(t.name)) problems.push(`${at(t)}: an embedding or active element`);
    if (t.name === "script") {
      const src = t.attrs.find(([n]) => n === "src")?.[1] ?? "";
      if (!src.startsWith("/assets/")) problems.push(`${at(t)}: a script not from Weft`);
      if ((t.raw ?? "").trim() !== "") problems.push(`${at(t)}: an inline script`);
    }
    if (t.name === "meta" && t.attrs.some(([n]) => n === "http-equiv")) {
      problems.push(`${at(t)}: meta http-equiv`);
    }
    // The console's own favicon placeholder: an empty data URL (no request, nothing to run).
    const emptyIcon = t.name === "link" &&
      t.attrs.some(([n, v]) => n === "rel" && v === "icon") &&
      t.attrs.some(([n, v]) => n === "href" && v === "data:,");
    if (t.name === "link" && !emptyIcon) {
      const href = t.attrs.find(([n]) => n === "href")?.[1] ?? "";
      if (!href.startsWith("/assets/")) problems.push(`${at(t)}: a link to ${href}`);
    }
    for (const [name, value] of t.attrs) {
      if (emptyIcon && name === "href") continue;
      if (markers.test(name)) problems.push(`${at(t)}: attribute ${name} named by data`);
      if (/^on/.test(name)) problems.push(`${at(t)}: event handler attribute ${name}`);
      if (name === "style" || name === "srcdoc") problems.push(`${at(t)}: ${name} attribute`);
      if (URL_ATTRS.has(name)) {
        // Browsers strip controls and whitespace before reading the scheme.
        // deno-lint-ignore no-control-regex -- what browsers ignore is the point
        const bare = value.replace(/[\u0000-\u0020]/g, "").toLowerCase();
        if (/^(javascript|vbscript|data|blob|file):/.test(bare)) {
          problems.push(`${at(t)}: ${name}="${value.slice(0, 60)}"`);
        }
        if (name !== "srcset" && !/^(\/(?!\/)|#|\?|https?:\/\/|mailto:|$)/.test(bare)) {
          problems.push(`${at(t)}: ${name}="${value.slice(0, 60)}" is no console URL`);
        }
      }
    }
  }
  return problems;
}

/** Parses RFC 4180 CSV (quoted cells may hold commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        cell += ch;
        i++;
      }
      continue;
    }
    if (ch === '"' && cell === "") {
      quoted = true;
      i++;
    } else if (ch === ",") {
      row.push(cell);
      cell = "";
      i++;
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i += 2;
    } else if (ch === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else {
      cell += ch;
      i++;
    }
  }
  if (quoted) throw new Error("CSV ends inside a quoted cell");
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/**
 * Whether a spreadsheet would read a cell as a formula (OWASP "CSV injection": a leading `=`,
 * `+`, `-`, `@`, tab or carriage return; fullwidth `＝`/`＋`/`－`/`＠` too, which some spreadsheets
 * normalise).
 */
export function isFormula(cell: string): boolean {
  return /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(cell);
}
