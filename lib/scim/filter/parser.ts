/**
 * A hand-written parser for SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).
 *
 * The grammar, from RFC 7644 §3.4.2.2 and §3.5.2 with errata EID 4690 (no valuePath inside a
 * valuePath):
 *
 * ```abnf
 * FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
 * valuePath = attrPath "[" valFilter "]"
 *             ; FILTER uses sub-attributes of a parent attrPath
 * valFilter = attrExp / valLogExp / *1"not" "(" valFilter ")"
 *             ; errata 4690: like FILTER, but without a nested valuePath
 * valLogExp = valFilter SP ("and" / "or") SP valFilter
 * attrExp   = (attrPath SP "pr") /
 *             (attrPath SP compareOp SP compValue)
 * logExp    = FILTER SP ("and" / "or") SP FILTER
 * compValue = false / null / true / number / string
 *             ; rules from JSON (RFC 7159)
 * compareOp = "eq" / "ne" / "co" /
 *             "sw" / "ew" /
 *             "gt" / "lt" /
 *             "ge" / "le"
 * attrPath  = [URI ":"] ATTRNAME *1subAttr
 *             ; SCIM attribute name
 *             ; URI is SCIM "schema" URI
 * ATTRNAME  = ALPHA *(nameChar)
 * nameChar  = "-" / "_" / DIGIT / ALPHA
 * subAttr   = "." ATTRNAME
 *             ; a sub-attribute of a complex attribute
 *
 * PATH      = attrPath / valuePath [subAttr]      ; RFC 7644 §3.5.2
 * ```
 *
 * Precedence is `not (…)` > `and` > `or`, both binary operators left-associative; parentheses
 * group. Deliberate departures, each for a client seen in the field:
 *
 * - Keywords and operators are case-insensitive (`EQ`, `And`, `NOT`, `True`, `NULL`); attribute
 *   names keep the case they were written in.
 * - Any run of whitespace separates tokens, not just one SP.
 * - Unquoted values (`userName eq akadmin`, sent by authentik: goauthentik/authentik#16455) are
 *   strings, unless they are `true`/`false`/`null` or a JSON number.
 * - Names may contain `$`, so the `$ref` sub-attribute of RFC 7643 §2.4 (`members.$ref`), which
 *   ATTRNAME cannot spell, is addressable.
 * - Entra's filter `emails[type eq "work"].value eq "a@b.com"` (not in the FILTER rule: a
 *   valuePath followed by a sub-attribute) is rewritten to the valuePath
 *   `emails[type eq "work" and value eq "a@b.com"]`. Both mean "some single element has type work
 *   and that element's value is a@b.com", and the rewrite keeps the AST to the six node kinds
 *   (Entra user matching: MicrosoftDocs/azure-docs#11784; elimity-com/scim#105).
 *
 * Bounds against filter bombs: at most {@linkcode MAX_FILTER_LENGTH} characters, nesting of
 * parentheses and brackets at most {@linkcode MAX_FILTER_DEPTH} deep, at most
 * {@linkcode MAX_FILTER_NODES} AST nodes. The depth is checked before recursing, so no input can
 * overflow the stack, and every failure is a `ScimError`.
 * @module
 */
import type { AttrPath, CompareOp, CompareValue, Filter, PatchPath } from "./ast.ts";
import { ScimError } from "../errors.ts";
import { LexError, type Token, tokenize } from "./lexer.ts";

/** The longest filter or path accepted, in characters. */
export const MAX_FILTER_LENGTH = 10_000;
/** The deepest nesting of `(`, `not (` and `[` accepted. */
export const MAX_FILTER_DEPTH = 50;
/** The most AST nodes one filter may produce. */
export const MAX_FILTER_NODES = 1000;

const COMPARE_OPS: ReadonlySet<string> = new Set([
  "eq",
  "ne",
  "co",
  "sw",
  "ew",
  "gt",
  "ge",
  "lt",
  "le",
]);
/** ATTRNAME, plus `$` for `$ref` (RFC 7643 §2.4 names `$ref` although ATTRNAME cannot spell it). */
const NAME = /^[A-Za-z$][A-Za-z0-9_$-]*$/;
/** A URI before the last `:` of a qualified name: a scheme, then non-empty `:`-separated parts. */
const URI = /^[A-Za-z][A-Za-z0-9+.-]*(?::[^:]+)+$/;
/** A JSON number (RFC 8259 §6). */
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** Internal: a syntax error at a position, turned into a `ScimError` at the API boundary. */
class ParseError extends Error {
  constructor(readonly reason: string, readonly position: number) {
    super(reason);
  }
}

/** The parser's cursor over the token list and its bound counters. */
interface State {
  tokens: Token[];
  i: number;
  depth: number;
  nodes: number;
}

/** Quotes a token's text for a message, shortened so details stay readable. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text);
}

/** Describes a token for "found …" messages. */
function describe(token: Token): string {
  return token.kind === "eof" ? "end of input" : `token ${quote(token.text)}`;
}

/** The current token. */
function peek(s: State): Token {
  return s.tokens[s.i];
}

/** Consumes and returns the current token (never past `eof`). */
function next(s: State): Token {
  const token = s.tokens[s.i];
  if (token.kind !== "eof") s.i++;
  return token;
}

/** Whether `token` is the case-insensitive keyword `keyword`. */
function isKeyword(token: Token, keyword: string): boolean {
  return token.kind === "word" && token.text.toLowerCase() === keyword;
}

/** Counts one AST node against {@linkcode MAX_FILTER_NODES}. */
function countNode(s: State, at: Token): void {
  if (++s.nodes > MAX_FILTER_NODES) {
    throw new ParseError(`filter has more than ${MAX_FILTER_NODES} expressions`, at.pos);
  }
}

/** Enters one nesting level (checked before recursing, so depth is bounded). */
function enter(s: State, at: Token): void {
  if (++s.depth > MAX_FILTER_DEPTH) {
    throw new ParseError(`filter nests deeper than ${MAX_FILTER_DEPTH} levels`, at.pos);
  }
}

/** Splits an attribute path word into its parts, or returns `undefined` when it is malformed. */
function splitPath(text: string): AttrPath | undefined {
  let uri: string | undefined;
  let rest = text;
  // The URI may contain dots ("…:2.0:User") but never follows the last colon, so split there
  // first and only then look for the sub-attribute dot.
  const colon = text.lastIndexOf(":");
  if (colon !== -1) {
    uri = text.slice(0, colon);
    rest = text.slice(colon + 1);
    if (!URI.test(uri)) return undefined;
  }
  const parts = rest.split(".");
  if (parts.length > 2 || !parts.every((part) => NAME.test(part))) return undefined;
  const path: AttrPath = { attr: parts[0] };
  if (uri !== undefined) path.uri = uri;
  if (parts.length === 2) path.sub = parts[1];
  return path;
}

/** Reads an attribute path from a `word` token. */
function attrPathFrom(token: Token): AttrPath {
  if (token.kind !== "word") {
    throw new ParseError(`expected an attribute path, found ${describe(token)}`, token.pos);
  }
  const path = splitPath(token.text);
  if (!path) throw new ParseError(`invalid attribute path ${quote(token.text)}`, token.pos);
  return path;
}

/** Reads a sub-attribute name after a `.` token (which must touch both `]` and the name). */
function subAttrAfterDot(s: State): string {
  const dot = next(s);
  const name = peek(s);
  if (name.kind !== "word" || name.pos !== dot.end) {
    throw new ParseError(`expected a sub-attribute name after "."`, name.pos);
  }
  next(s);
  if (!NAME.test(name.text)) {
    throw new ParseError(`invalid sub-attribute name ${quote(name.text)}`, name.pos);
  }
  return name.text;
}

/** Reads a comparison value after `op`. */
function compareValue(s: State, op: Token): CompareValue {
  const token = peek(s);
  if (token.kind === "string") {
    next(s);
    return token.value;
  }
  const lower = token.text.toLowerCase();
  if (token.kind !== "word" || lower === "and" || lower === "or") {
    throw new ParseError(`missing value after operator ${quote(op.text)}`, token.pos);
  }
  next(s);
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (lower === "null") return null;
  if (NUMBER.test(token.text)) {
    const n = Number(token.text);
    if (!Number.isFinite(n)) {
      throw new ParseError(`number ${quote(token.text)} is out of range`, token.pos);
    }
    return n;
  }
  // Lenient: authentik sends `userName eq akadmin`; an unquoted word is a string.
  return token.text;
}

/** Reads `op value` or `pr` after `path` into a compare or present node. */
function operatorAndValue(s: State, path: AttrPath): Filter {
  const op = peek(s);
  if (op.kind !== "word") {
    throw new ParseError(`expected an operator, found ${describe(op)}`, op.pos);
  }
  const lower = op.text.toLowerCase();
  if (lower === "pr") {
    next(s);
    countNode(s, op);
    const after = peek(s);
    if (
      after.kind === "string" || (after.kind === "word" && !isKeyword(after, "and") &&
        !isKeyword(after, "or"))
    ) {
      throw new ParseError(`operator "pr" takes no value`, after.pos);
    }
    return { kind: "present", path };
  }
  if (!COMPARE_OPS.has(lower)) throw new ParseError(`unknown operator ${quote(op.text)}`, op.pos);
  next(s);
  const value = compareValue(s, op);
  countNode(s, op);
  return { kind: "compare", path, op: lower as CompareOp, value };
}

/** Reads the bracketed element filter of a valuePath; the current token is `[`. */
function valueFilter(s: State): Filter {
  const open = next(s);
  enter(s, open);
  const filter = orExpr(s, true);
  const close = peek(s);
  if (close.kind !== "]") {
    if (close.kind === "eof") throw new ParseError(`unclosed "["`, open.pos);
    throw new ParseError(`unexpected ${describe(close)}, expected "]"`, close.pos);
  }
  next(s);
  s.depth--;
  return filter;
}

/** Reads an attribute expression or a valuePath, starting at an attribute path word. */
function attrExpr(s: State, inValuePath: boolean): Filter {
  const pathToken = next(s);
  const path = attrPathFrom(pathToken);
  if (inValuePath && (path.uri !== undefined || path.sub !== undefined)) {
    throw new ParseError(
      `attribute ${quote(pathToken.text)} in a value filter must be a plain sub-attribute name`,
      pathToken.pos,
    );
  }
  const bracket = peek(s);
  if (bracket.kind === "[" && bracket.pos === pathToken.end) {
    if (inValuePath) {
      throw new ParseError(`a value filter cannot contain another value filter`, bracket.pos);
    }
    if (path.sub !== undefined) {
      throw new ParseError(`a value filter cannot follow a sub-attribute`, bracket.pos);
    }
    const filter = valueFilter(s);
    countNode(s, bracket);
    if (peek(s).kind !== ".") return { kind: "valuePath", path, filter };
    // Entra: `emails[type eq "work"].value eq "x"` → `emails[type eq "work" and value eq "x"]`.
    const subAttr = subAttrAfterDot(s);
    const element = operatorAndValue(s, { attr: subAttr });
    countNode(s, bracket);
    return { kind: "valuePath", path, filter: { kind: "and", left: filter, right: element } };
  }
  return operatorAndValue(s, path);
}

/** Reads `not (…)`, `(…)` or an attribute expression. */
function unary(s: State, inValuePath: boolean): Filter {
  const token = peek(s);
  if (token.kind === "(") {
    next(s);
    enter(s, token);
    const filter = orExpr(s, inValuePath);
    closeParen(s, token);
    return filter;
  }
  if (isKeyword(token, "not")) {
    next(s);
    const open = peek(s);
    if (open.kind !== "(") {
      throw new ParseError(`expected "(" after "not", found ${describe(open)}`, open.pos);
    }
    next(s);
    enter(s, open);
    const filter = orExpr(s, inValuePath);
    closeParen(s, open);
    countNode(s, token);
    return { kind: "not", filter };
  }
  if (token.kind === "word" && !isKeyword(token, "and") && !isKeyword(token, "or")) {
    return attrExpr(s, inValuePath);
  }
  if (token.kind === "eof") {
    throw new ParseError(`expected an expression, found end of input`, token.pos);
  }
  throw new ParseError(`unexpected ${describe(token)}`, token.pos);
}

/** Consumes the `)` matching `open`. */
function closeParen(s: State, open: Token): void {
  const close = peek(s);
  if (close.kind !== ")") {
    if (close.kind === "eof") throw new ParseError(`unclosed "("`, open.pos);
    throw new ParseError(`unexpected ${describe(close)}, expected ")"`, close.pos);
  }
  next(s);
  s.depth--;
}

/** Reads `unary ("and" unary)*`, left-associative. */
function andExpr(s: State, inValuePath: boolean): Filter {
  let left = unary(s, inValuePath);
  while (isKeyword(peek(s), "and")) {
    const op = next(s);
    const right = unary(s, inValuePath);
    countNode(s, op);
    left = { kind: "and", left, right };
  }
  return left;
}

/** Reads `andExpr ("or" andExpr)*`, left-associative. */
function orExpr(s: State, inValuePath: boolean): Filter {
  let left = andExpr(s, inValuePath);
  while (isKeyword(peek(s), "or")) {
    const op = next(s);
    const right = andExpr(s, inValuePath);
    countNode(s, op);
    left = { kind: "or", left, right };
  }
  return left;
}

/** Fails on anything left after a complete parse. */
function expectEnd(s: State): void {
  const token = peek(s);
  if (token.kind !== "eof") throw new ParseError(`unexpected ${describe(token)}`, token.pos);
}

/**
 * Runs `parse` over `input` and turns every failure into `fail("Cannot parse <what>: …")`, so
 * callers only ever see a `ScimError`.
 */
function run<T>(
  input: string,
  what: string,
  fail: (detail: string) => ScimError,
  parse: (s: State) => T,
): T {
  try {
    if (typeof input !== "string") throw new ParseError(`${what} is not a string`, 0);
    if (input.length > MAX_FILTER_LENGTH) {
      throw new ParseError(
        `${what} is ${input.length} characters long, the limit is ${MAX_FILTER_LENGTH}`,
        MAX_FILTER_LENGTH,
      );
    }
    const s: State = { tokens: tokenize(input), i: 0, depth: 0, nodes: 0 };
    if (peek(s).kind === "eof") throw new ParseError(`${what} is empty`, 0);
    const result = parse(s);
    expectEnd(s);
    return result;
  } catch (error) {
    if (error instanceof ScimError) throw error;
    if (error instanceof ParseError || error instanceof LexError) {
      throw fail(`Cannot parse ${what}: ${error.reason} at position ${error.position}`);
    }
    // Defensive: a bug must still surface as a SCIM error, never as a 500 with a stack.
    const scimError = fail(`Cannot parse ${what}: internal parser error`);
    throw new ScimError(scimError.status, scimError.message, {
      scimType: scimError.scimType,
      cause: error,
    });
  }
}

/** Parses a SCIM filter (RFC 7644 §3.4.2.2); throws `ScimError` `invalidFilter` naming the position. */
export function parseFilter(input: string): Filter {
  return run(input, "filter", ScimError.invalidFilter, (s) => orExpr(s, false));
}

/** Parses a PATCH path, `attrPath` or `valuePath ["." subAttr]` (RFC 7644 §3.5.2); throws `invalidPath`. */
export function parsePath(input: string): PatchPath {
  return run(input, "path", ScimError.invalidPath, (s) => {
    const pathToken = next(s);
    const path = attrPathFrom(pathToken);
    const bracket = peek(s);
    if (bracket.kind !== "[") return { path };
    if (bracket.pos !== pathToken.end) {
      throw new ParseError(`unexpected token "[" after whitespace`, bracket.pos);
    }
    if (path.sub !== undefined) {
      throw new ParseError(`a value filter cannot follow a sub-attribute`, bracket.pos);
    }
    const result: PatchPath = { path, filter: valueFilter(s) };
    if (peek(s).kind === ".") result.subAttr = subAttrAfterDot(s);
    return result;
  });
}

/** Parses a plain attribute path (`attributes=`, `excludedAttributes=`, `sortBy`); throws `invalidPath`. */
export function parseAttrPath(input: string): AttrPath {
  return run(input, "attribute path", ScimError.invalidPath, (s) => attrPathFrom(next(s)));
}
