import assert from "node:assert/strict";
import type { AttrPath, CompareValue, Filter } from "./ast.ts";
import { ScimError } from "../errors.ts";
import { formatAttrPath, formatFilter, formatPath } from "./format.ts";
import { LexError, tokenize } from "./lexer.ts";
import {
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  MAX_FILTER_NODES,
  parseAttrPath,
  parseFilter,
  parsePath,
} from "./parser.ts";

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";

function cmp(path: AttrPath, op: string, value: CompareValue): Filter {
  return { kind: "compare", path, op, value } as Filter;
}

/** Asserts `fn` throws a ScimError of `scimType` whose detail matches `detail`. */
function assertScimError(
  fn: () => unknown,
  scimType: "invalidFilter" | "invalidPath",
  detail: RegExp,
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ScimError, `expected ScimError, got ${error}`);
    assert.equal(error.status, 400);
    assert.equal(error.scimType, scimType);
    assert.match(error.message, detail);
    return true;
  });
}

function assertInvalidFilter(input: string, detail: RegExp): void {
  assertScimError(() => parseFilter(input), "invalidFilter", detail);
}

/** A small deterministic PRNG (mulberry32), so fuzz failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("tokenize() reports kinds and positions", () => {
  const tokens = tokenize('emails[type eq "w\\"k"].value');
  assert.deepEqual(
    tokens.map((t) => [t.kind, t.value, t.pos, t.end]),
    [
      ["word", "emails", 0, 6],
      ["[", "[", 6, 7],
      ["word", "type", 7, 11],
      ["word", "eq", 12, 14],
      ["string", 'w"k', 15, 21],
      ["]", "]", 21, 22],
      [".", ".", 22, 23],
      ["word", "value", 23, 28],
      ["eof", "", 28, 28],
    ],
  );
  assert.throws(() => tokenize('a eq "x'), LexError);
});

Deno.test("parseFilter() handles a simple comparison", () => {
  assert.deepEqual(parseFilter('userName eq "bjensen"'), {
    kind: "compare",
    path: { attr: "userName" },
    op: "eq",
    value: "bjensen",
  });
});

Deno.test("parseFilter() accepts every operator case-insensitively", () => {
  for (const op of ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]) {
    for (const written of [op, op.toUpperCase(), op[0].toUpperCase() + op[1]]) {
      assert.deepEqual(parseFilter(`title ${written} "x"`), cmp({ attr: "title" }, op, "x"));
    }
  }
  assert.deepEqual(parseFilter("title PR"), { kind: "present", path: { attr: "title" } });
  assert.deepEqual(parseFilter("title Pr"), { kind: "present", path: { attr: "title" } });
});

Deno.test("parseFilter() keeps attribute name case", () => {
  assert.deepEqual(parseFilter('USERNAME Eq "x"'), cmp({ attr: "USERNAME" }, "eq", "x"));
  assert.deepEqual(
    parseFilter('Name.GivenName eq "x"'),
    cmp({ attr: "Name", sub: "GivenName" }, "eq", "x"),
  );
});

Deno.test("parseFilter() accepts and/or/not case-insensitively", () => {
  const expected: Filter = {
    kind: "or",
    left: {
      kind: "and",
      left: { kind: "present", path: { attr: "a" } },
      right: { kind: "not", filter: { kind: "present", path: { attr: "b" } } },
    },
    right: { kind: "present", path: { attr: "c" } },
  };
  assert.deepEqual(parseFilter("a pr AND NOT (b pr) OR c pr"), expected);
  assert.deepEqual(parseFilter("a pr And Not (b pr) Or c pr"), expected);
  assert.deepEqual(parseFilter("a pr and not(b pr) or c pr"), expected);
});

Deno.test("parseFilter() gives and precedence over or", () => {
  const a: Filter = { kind: "present", path: { attr: "a" } };
  const b: Filter = { kind: "present", path: { attr: "b" } };
  const c: Filter = { kind: "present", path: { attr: "c" } };
  assert.deepEqual(parseFilter("a pr or b pr and c pr"), {
    kind: "or",
    left: a,
    right: { kind: "and", left: b, right: c },
  });
  assert.deepEqual(parseFilter("a pr and b pr or c pr"), {
    kind: "or",
    left: { kind: "and", left: a, right: b },
    right: c,
  });
  assert.deepEqual(parseFilter("(a pr or b pr) and c pr"), {
    kind: "and",
    left: { kind: "or", left: a, right: b },
    right: c,
  });
});

Deno.test("parseFilter() is left-associative", () => {
  const [a, b, c]: Filter[] = ["a", "b", "c"].map((attr) => ({ kind: "present", path: { attr } }));
  assert.deepEqual(parseFilter("a pr and b pr and c pr"), {
    kind: "and",
    left: { kind: "and", left: a, right: b },
    right: c,
  });
  assert.deepEqual(parseFilter("a pr or b pr or c pr"), {
    kind: "or",
    left: { kind: "or", left: a, right: b },
    right: c,
  });
  assert.deepEqual(parseFilter("a pr or (b pr or c pr)"), {
    kind: "or",
    left: a,
    right: { kind: "or", left: b, right: c },
  });
});

Deno.test("parseFilter() binds not to its parenthesised filter", () => {
  assert.deepEqual(parseFilter('not (a pr) and b eq "x"'), {
    kind: "and",
    left: { kind: "not", filter: { kind: "present", path: { attr: "a" } } },
    right: cmp({ attr: "b" }, "eq", "x"),
  });
  assert.deepEqual(parseFilter("not (not (a pr))"), {
    kind: "not",
    filter: { kind: "not", filter: { kind: "present", path: { attr: "a" } } },
  });
});

Deno.test("parseFilter() reads JSON string escapes", () => {
  assert.deepEqual(
    parseFilter('displayName eq "Caf\\u00e9 \\"Q\\" \\\\ \\/ \\n \\t"'),
    cmp({ attr: "displayName" }, "eq", 'Café "Q" \\ / \n \t'),
  );
  assert.deepEqual(parseFilter('x eq "\\ud83d\\ude00"'), cmp({ attr: "x" }, "eq", "😀"));
  assert.deepEqual(parseFilter('x eq "O\'Malley"'), cmp({ attr: "x" }, "eq", "O'Malley"));
  assert.deepEqual(parseFilter('x eq ""'), cmp({ attr: "x" }, "eq", ""));
  assert.deepEqual(parseFilter('x eq "a b  (c) [d]"'), cmp({ attr: "x" }, "eq", "a b  (c) [d]"));
});

Deno.test("parseFilter() reads JSON numbers", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["42", 42],
    ["-7", -7],
    ["3.25", 3.25],
    ["-0.5", -0.5],
    ["1e3", 1000],
    ["2.5E-3", 0.0025],
    ["-1.5e+2", -150],
  ];
  for (const [text, value] of cases) {
    assert.deepEqual(
      parseFilter(`loginCount ge ${text}`),
      cmp({ attr: "loginCount" }, "ge", value),
    );
  }
  assert.ok(Object.is((parseFilter("x eq -0") as { value: number }).value, -0));
});

Deno.test("parseFilter() reads true, false and null case-insensitively", () => {
  for (
    const [text, value] of [["true", true], ["TRUE", true], ["False", false], ["null", null], [
      "NULL",
      null,
    ]] as const
  ) {
    assert.deepEqual(parseFilter(`active eq ${text}`), cmp({ attr: "active" }, "eq", value));
  }
  // Quoted, they are strings (Entra's "True" is handled by the evaluator).
  assert.deepEqual(parseFilter('active eq "True"'), cmp({ attr: "active" }, "eq", "True"));
});

Deno.test("parseFilter() accepts unquoted values as strings", () => {
  // authentik sends `userName eq akadmin` (goauthentik/authentik#16455).
  assert.deepEqual(parseFilter("userName eq akadmin"), cmp({ attr: "userName" }, "eq", "akadmin"));
  assert.deepEqual(
    parseFilter("userName eq test.user@okta.local and active eq true"),
    {
      kind: "and",
      left: cmp({ attr: "userName" }, "eq", "test.user@okta.local"),
      right: cmp({ attr: "active" }, "eq", true),
    },
  );
  assert.deepEqual(
    parseFilter("(userName eq akadmin)"),
    cmp({ attr: "userName" }, "eq", "akadmin"),
  );
  // Not JSON numbers, so strings.
  assert.deepEqual(parseFilter("externalId eq 007"), cmp({ attr: "externalId" }, "eq", "007"));
  assert.deepEqual(parseFilter("externalId eq 1.2.3"), cmp({ attr: "externalId" }, "eq", "1.2.3"));
  assert.deepEqual(parseFilter("externalId eq 12345"), cmp({ attr: "externalId" }, "eq", 12345));
});

Deno.test("parseFilter() accepts $ref, _ and - in names", () => {
  assert.deepEqual(
    parseFilter('members[$ref eq "https://x/Users/1"]'),
    {
      kind: "valuePath",
      path: { attr: "members" },
      filter: cmp({ attr: "$ref" }, "eq", "https://x/Users/1"),
    },
  );
  assert.deepEqual(parseFilter("members.$ref pr"), {
    kind: "present",
    path: { attr: "members", sub: "$ref" },
  });
  assert.deepEqual(parseFilter("x-attr_1 eq 5"), cmp({ attr: "x-attr_1" }, "eq", 5));
});

Deno.test("parseFilter() splits URN-qualified names at the last colon", () => {
  assert.deepEqual(
    parseFilter(`${ENTERPRISE}:department eq "x"`),
    cmp({ uri: ENTERPRISE, attr: "department" }, "eq", "x"),
  );
  assert.deepEqual(
    parseFilter(`${CORE_USER}:userName sw "J"`),
    cmp({ uri: CORE_USER, attr: "userName" }, "sw", "J"),
  );
  // "2.0" holds a dot: split on the last colon first, then on the dot.
  assert.deepEqual(
    parseFilter(`${ENTERPRISE}:manager.value eq "x"`),
    cmp({ uri: ENTERPRISE, attr: "manager", sub: "value" }, "eq", "x"),
  );
  assert.deepEqual(parseAttrPath(`${ENTERPRISE}:manager.value`), {
    uri: ENTERPRISE,
    attr: "manager",
    sub: "value",
  });
});

Deno.test("parseFilter() handles meta.lastModified", () => {
  assert.deepEqual(
    parseFilter('meta.lastModified gt "2011-05-13T04:42:34Z"'),
    cmp({ attr: "meta", sub: "lastModified" }, "gt", "2011-05-13T04:42:34Z"),
  );
});

Deno.test("parseFilter() handles valuePath", () => {
  assert.deepEqual(parseFilter('emails[type eq "work"]'), {
    kind: "valuePath",
    path: { attr: "emails" },
    filter: cmp({ attr: "type" }, "eq", "work"),
  });
  assert.deepEqual(parseFilter('emails[type eq "work" and value co "@example.com"]'), {
    kind: "valuePath",
    path: { attr: "emails" },
    filter: {
      kind: "and",
      left: cmp({ attr: "type" }, "eq", "work"),
      right: cmp({ attr: "value" }, "co", "@example.com"),
    },
  });
  assert.deepEqual(parseFilter('members[value eq "abc"]'), {
    kind: "valuePath",
    path: { attr: "members" },
    filter: cmp({ attr: "value" }, "eq", "abc"),
  });
  assert.deepEqual(parseFilter(`${CORE_USER}:emails[not (type eq "work")]`), {
    kind: "valuePath",
    path: { uri: CORE_USER, attr: "emails" },
    filter: { kind: "not", filter: cmp({ attr: "type" }, "eq", "work") },
  });
});

Deno.test("parseFilter() rewrites Entra's valuePath.subAttr comparison", () => {
  // Entra matches users with `emails[type eq "work"].value eq "x"`, which FILTER does not allow
  // (a valuePath takes no sub-attribute there). It means "an element with type work whose value
  // is x", which is exactly the valuePath with the comparison added to its element filter.
  assert.deepEqual(parseFilter('emails[type eq "work"].value eq "a@b.com"'), {
    kind: "valuePath",
    path: { attr: "emails" },
    filter: {
      kind: "and",
      left: cmp({ attr: "type" }, "eq", "work"),
      right: cmp({ attr: "value" }, "eq", "a@b.com"),
    },
  });
  assert.deepEqual(parseFilter('emails[type eq "other"].Value pr'), {
    kind: "valuePath",
    path: { attr: "emails" },
    filter: {
      kind: "and",
      left: cmp({ attr: "type" }, "eq", "other"),
      right: { kind: "present", path: { attr: "Value" } },
    },
  });
  assert.equal(
    formatFilter(parseFilter('emails[type eq "work" or type eq "home"].value eq "x"')),
    'emails[(type eq "work" or type eq "home") and value eq "x"]',
  );
});

Deno.test("parseFilter() handles Entra's id and manager check", () => {
  assert.deepEqual(parseFilter('id eq "x" and manager eq "y"'), {
    kind: "and",
    left: cmp({ attr: "id" }, "eq", "x"),
    right: cmp({ attr: "manager" }, "eq", "y"),
  });
});

Deno.test("parseFilter() tolerates extra whitespace", () => {
  assert.deepEqual(parseFilter('  userName \t eq\n "x"  '), cmp({ attr: "userName" }, "eq", "x"));
  assert.deepEqual(
    parseFilter('userName eq "x"or(title pr)'),
    parseFilter('userName eq "x" or title pr'),
  );
});

Deno.test("parseFilter() rejects an empty filter", () => {
  assertInvalidFilter("", /^Cannot parse filter: filter is empty at position 0$/);
  assertInvalidFilter("   ", /filter is empty at position 0/);
});

Deno.test("parseFilter() rejects trailing garbage with its position", () => {
  assertInvalidFilter(
    'userName eq "x")',
    /^Cannot parse filter: unexpected token "\)" at position 15$/,
  );
  assertInvalidFilter('userName eq "x" garbage', /unexpected token "garbage" at position 16/);
  assertInvalidFilter(
    'userName eq "x" and',
    /expected an expression, found end of input at position 19/,
  );
  assertInvalidFilter('userName eq "x" or or a pr', /unexpected token "or" at position 19/);
  assertInvalidFilter("userName eq foo bar", /unexpected token "bar" at position 16/);
  assertInvalidFilter('userName eq "x" "y"', /unexpected token "\\"y\\"" at position 16/);
});

Deno.test("parseFilter() rejects unbalanced parentheses and brackets", () => {
  assertInvalidFilter('(userName eq "x"', /unclosed "\(" at position 0/);
  assertInvalidFilter("((a pr) or (b pr)", /unclosed "\(" at position 0/);
  assertInvalidFilter("a pr)", /unexpected token "\)" at position 4/);
  assertInvalidFilter("()", /unexpected token "\)" at position 1/);
  assertInvalidFilter('emails[type eq "work"', /unclosed "\[" at position 6/);
  assertInvalidFilter(
    'emails[type eq "work")',
    /unexpected token "\)", expected "\]" at position 21/,
  );
  assertInvalidFilter('emails type eq "work"]', /unknown operator "type" at position 7/);
  assertInvalidFilter("(a pr]", /unexpected token "\]", expected "\)" at position 5/);
  assertInvalidFilter("not a pr", /expected "\(" after "not", found token "a" at position 4/);
});

Deno.test("parseFilter() rejects a missing value", () => {
  assertInvalidFilter("userName eq", /missing value after operator "eq" at position 11/);
  assertInvalidFilter("(userName eq)", /missing value after operator "eq" at position 12/);
  assertInvalidFilter(
    "userName eq and title pr",
    /missing value after operator "eq" at position 12/,
  );
  assertInvalidFilter("emails[value eq]", /missing value after operator "eq" at position 15/);
});

Deno.test("parseFilter() rejects an unknown or missing operator", () => {
  assertInvalidFilter('userName equals "x"', /unknown operator "equals" at position 9/);
  assertInvalidFilter('userName == "x"', /unknown operator "==" at position 9/);
  assertInvalidFilter('userName "x"', /expected an operator, found token "\\"x\\"" at position 9/);
  assertInvalidFilter("userName", /expected an operator, found end of input at position 8/);
});

Deno.test("parseFilter() rejects malformed attribute paths and strings", () => {
  assertInvalidFilter('1abc eq "x"', /invalid attribute path "1abc" at position 0/);
  assertInvalidFilter('a.b.c eq "x"', /invalid attribute path "a.b.c" at position 0/);
  assertInvalidFilter('urn::x eq "x"', /invalid attribute path "urn::x" at position 0/);
  assertInvalidFilter('name. eq "x"', /invalid attribute path "name." at position 0/);
  assertInvalidFilter('"userName" eq "x"', /unexpected token "\\"userName\\"" at position 0/);
  assertInvalidFilter('x eq "abc', /unterminated string at position 5/);
  assertInvalidFilter('x eq "a\\qb"', /invalid escape "\\\\q" in string at position 7/);
  assertInvalidFilter('x eq "\\u12"', /invalid unicode escape at position 6/);
  assertInvalidFilter('x eq "a\u0001"', /unescaped control character in string at position 7/);
  assertInvalidFilter("x eq 1e999", /number "1e999" is out of range at position 5/);
});

Deno.test("parseFilter() rejects a valuePath inside a valuePath", () => {
  // RFC 7644 errata EID 4690.
  assertInvalidFilter(
    'emails[type[value eq "x"]]',
    /a value filter cannot contain another value filter at position 11/,
  );
  assertInvalidFilter(
    'emails[type eq "a" and x[y pr]]',
    /a value filter cannot contain another value filter at position 24/,
  );
  assertInvalidFilter(
    'emails[emails.type eq "x"]',
    /must be a plain sub-attribute name at position 7/,
  );
  assertInvalidFilter('emails.value[type eq "x"]', /cannot follow a sub-attribute at position 12/);
});

Deno.test("parseFilter() rejects pr with a value", () => {
  assertInvalidFilter('title pr "x"', /operator "pr" takes no value at position 9/);
  assertInvalidFilter("title pr true", /operator "pr" takes no value at position 9/);
  assertInvalidFilter("emails[value pr x]", /operator "pr" takes no value at position 16/);
});

Deno.test("parseFilter() bounds length, depth and size", () => {
  assertInvalidFilter(
    "(".repeat(100_000),
    /filter is 100000 characters long, the limit is 10000 at position 10000/,
  );
  const longest = `userName eq "${"a".repeat(MAX_FILTER_LENGTH - 14)}"`;
  assert.equal(longest.length, MAX_FILTER_LENGTH);
  assert.equal(parseFilter(longest).kind, "compare");
  assertInvalidFilter(longest + " ", /10001 characters long/);

  assertInvalidFilter("(".repeat(9_000), /filter nests deeper than 50 levels at position 50/);
  assertInvalidFilter("not (".repeat(1_000), /nests deeper than 50 levels/);
  const deepest = "(".repeat(MAX_FILTER_DEPTH) + "a pr" + ")".repeat(MAX_FILTER_DEPTH);
  assert.deepEqual(parseFilter(deepest), { kind: "present", path: { attr: "a" } });
  assertInvalidFilter("(" + deepest + ")", /nests deeper than 50 levels at position 50/);

  const within = Array(500).fill("a pr").join(" or "); // 999 nodes
  assert.equal(parseFilter(within).kind, "or");
  assertInvalidFilter(
    Array(501).fill("a pr").join(" or "),
    new RegExp(`more than ${MAX_FILTER_NODES} expressions at position \\d+`),
  );
  assertInvalidFilter(Array(1100).fill("a pr").join(" and "), /more than 1000 expressions/);
});

Deno.test("parseFilter() never throws anything but ScimError on random input", () => {
  const random = rng(7644);
  const alphabet = 'abcXYZ019 ()[]."\\:$-_@eqnotprandr\t\n\u0000\u00e9😀/,+*';
  const soup = [
    "userName",
    "emails",
    "Emails",
    "value",
    "type",
    `${ENTERPRISE}:manager.value`,
    `${CORE_USER}:userName`,
    "meta.lastModified",
    "$ref",
    "eq",
    "EQ",
    "ne",
    "co",
    "gt",
    "pr",
    "and",
    "OR",
    "not",
    "(",
    ")",
    "[",
    "]",
    ".",
    "].value",
    '"x"',
    '"a\\"b"',
    '"',
    "\\",
    "\\u00e9",
    "12",
    "-1.5e3",
    "1e999",
    "true",
    "False",
    "null",
    "akadmin",
    "a@b.com",
    "urn:",
    ":",
  ];
  function check(input: string): void {
    for (
      const [parse, scimType] of [
        [parseFilter, "invalidFilter"],
        [parsePath, "invalidPath"],
        [parseAttrPath, "invalidPath"],
      ] as const
    ) {
      let result: unknown;
      try {
        result = parse(input);
      } catch (error) {
        assert.ok(error instanceof ScimError, `non-ScimError for ${JSON.stringify(input)}`);
        assert.equal(error.scimType, scimType);
        assert.match(error.message, /^Cannot parse .*at position \d+$/);
        continue;
      }
      if (parse === parseFilter) {
        // Whatever parses must survive a format round trip.
        const ast = result as Filter;
        assert.deepEqual(parseFilter(formatFilter(ast)), ast, JSON.stringify(input));
      }
    }
  }
  for (let n = 0; n < 3000; n++) {
    const length = Math.floor(random() * 40);
    let text = "";
    for (let i = 0; i < length; i++) {
      text += [...alphabet][Math.floor(random() * [...alphabet].length)];
    }
    check(text);
  }
  let parsed = 0;
  for (let n = 0; n < 5000; n++) {
    const count = 1 + Math.floor(random() * 12);
    let text = "";
    for (let i = 0; i < count; i++) {
      text += soup[Math.floor(random() * soup.length)];
      if (random() < 0.8) text += " ";
    }
    check(text);
    try {
      parseFilter(text);
      parsed++;
    } catch { /* counted above */ }
  }
  assert.ok(parsed > 0, "the token soup should sometimes form a valid filter");
  // Non-string input from untyped JavaScript callers.
  assertScimError(
    () => parseFilter(undefined as unknown as string),
    "invalidFilter",
    /not a string/,
  );
});

/** [input, canonical form]; the canonical form must itself be a fixed point. */
const CANONICAL: [string, string][] = [
  // RFC 7644 §3.4.2.2 examples.
  ['userName eq "bjensen"', 'userName eq "bjensen"'],
  [`name.familyName co "O'Malley"`, `name.familyName co "O'Malley"`],
  ['userName sw "J"', 'userName sw "J"'],
  [`${CORE_USER}:userName sw "J"`, `${CORE_USER}:userName sw "J"`],
  ["title pr", "title pr"],
  ['meta.lastModified gt "2011-05-13T04:42:34Z"', 'meta.lastModified gt "2011-05-13T04:42:34Z"'],
  ['meta.lastModified ge "2011-05-13T04:42:34Z"', 'meta.lastModified ge "2011-05-13T04:42:34Z"'],
  ['meta.lastModified lt "2011-05-13T04:42:34Z"', 'meta.lastModified lt "2011-05-13T04:42:34Z"'],
  ['meta.lastModified le "2011-05-13T04:42:34Z"', 'meta.lastModified le "2011-05-13T04:42:34Z"'],
  ['title pr and userType eq "Employee"', 'title pr and userType eq "Employee"'],
  ['title pr or userType eq "Intern"', 'title pr or userType eq "Intern"'],
  [`schemas eq "${ENTERPRISE}"`, `schemas eq "${ENTERPRISE}"`],
  [
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
  ],
  [
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
  ],
  [
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails.type eq "work"',
  ],
  [
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
  ],
  [
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
  ],
  // Case, whitespace and value normalisation.
  ['userName EQ "x"', 'userName eq "x"'],
  ["userName Eq akadmin", 'userName eq "akadmin"'],
  ['TITLE PR AND NOT (userName Ne "x")', 'TITLE pr and not (userName ne "x")'],
  ["active eq TRUE or active eq False", "active eq true or active eq false"],
  ["manager eq NULL", "manager eq null"],
  ["x gt -1.50", "x gt -1.5"],
  ["x ge 1E3", "x ge 1000"],
  ["x lt 0.5e-2", "x lt 0.005"],
  ['x eq "Caf\\u00e9 \\"q\\" \\/ \\\\"', 'x eq "Café \\"q\\" / \\\\"'],
  ['  userName   eq    "x"  ', 'userName eq "x"'],
  // Quirks.
  ['emails[type eq "work"].value eq "a@b.com"', 'emails[type eq "work" and value eq "a@b.com"]'],
  [
    'emails[type eq "work"].value eq "a@b.com" AND userName eq "x"',
    'emails[type eq "work" and value eq "a@b.com"] and userName eq "x"',
  ],
  ['id eq "x" and manager eq "y"', 'id eq "x" and manager eq "y"'],
  ['members[value eq "abc"]', 'members[value eq "abc"]'],
  [`${ENTERPRISE}:department eq "x"`, `${ENTERPRISE}:department eq "x"`],
  [`${ENTERPRISE}:manager.value eq "x"`, `${ENTERPRISE}:manager.value eq "x"`],
  ['members[$ref eq "https://x/Users/1"]', 'members[$ref eq "https://x/Users/1"]'],
  // Parentheses: only where the tree needs them.
  ["((a pr))", "a pr"],
  ["a pr or b pr and c pr", "a pr or b pr and c pr"],
  ["(a pr or b pr) and c pr", "(a pr or b pr) and c pr"],
  ["(a pr and b pr) or c pr", "a pr and b pr or c pr"],
  ["(a pr and b pr) and c pr", "a pr and b pr and c pr"],
  ["a pr and (b pr and c pr)", "a pr and (b pr and c pr)"],
  ["a pr or (b pr or c pr)", "a pr or (b pr or c pr)"],
  ["a pr and (b pr or c pr) and d pr", "a pr and (b pr or c pr) and d pr"],
  ["not ((a pr))", "not (a pr)"],
  [
    'emails[(type eq "a" or type eq "b") and value pr]',
    'emails[(type eq "a" or type eq "b") and value pr]',
  ],
];

Deno.test("formatFilter() round-trips to canonical form", () => {
  for (const [input, canonical] of CANONICAL) {
    const ast = parseFilter(input);
    assert.equal(formatFilter(ast), canonical, input);
    assert.equal(formatFilter(parseFilter(canonical)), canonical, canonical);
    assert.deepEqual(parseFilter(formatFilter(ast)), ast, input);
  }
});

Deno.test("formatFilter() output parses back to the same AST for random trees", () => {
  const random = rng(4690);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const paths: AttrPath[] = [
    { attr: "userName" },
    { attr: "name", sub: "givenName" },
    { uri: ENTERPRISE, attr: "manager", sub: "value" },
    { uri: CORE_USER, attr: "title" },
    { attr: "$ref" },
  ];
  const chars = ['"', "\\", "/", "\n", "\u0001", "é", "😀", "\ud800", " ", "a", "Z", "(", "]"];
  function value(): CompareValue {
    switch (Math.floor(random() * 5)) {
      case 0:
        return Array.from({ length: Math.floor(random() * 6) }, () => pick(chars)).join("");
      case 1:
        return Math.round((random() - 0.5) * 1e6) / 100;
      case 2:
        return (random() - 0.5) * 1e-12;
      case 3:
        return random() < 0.5;
      default:
        return null;
    }
  }
  function tree(depth: number, inner: boolean): Filter {
    const roll = depth <= 0 ? random() * 0.4 : random();
    const path: AttrPath = inner ? { attr: pick(["type", "value", "primary"]) } : pick(paths);
    if (roll < 0.25) {
      return {
        kind: "compare",
        path,
        op: pick(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]),
        value: value(),
      };
    }
    if (roll < 0.4) return { kind: "present", path };
    if (roll < 0.55) return { kind: "not", filter: tree(depth - 1, inner) };
    if (roll < 0.7 && !inner) {
      return { kind: "valuePath", path: { attr: "emails" }, filter: tree(depth - 1, true) };
    }
    return {
      kind: random() < 0.5 ? "and" : "or",
      left: tree(depth - 1, inner),
      right: tree(depth - 1, inner),
    };
  }
  for (let n = 0; n < 2000; n++) {
    const ast = tree(6, false);
    const text = formatFilter(ast);
    assert.deepEqual(parseFilter(text), ast, text);
  }
});

Deno.test("formatAttrPath() and formatPath() write canonical paths", () => {
  assert.equal(formatAttrPath({ attr: "userName" }), "userName");
  assert.equal(
    formatAttrPath({ uri: ENTERPRISE, attr: "manager", sub: "value" }),
    `${ENTERPRISE}:manager.value`,
  );
  assert.equal(
    formatPath(parsePath('emails[type EQ "work"].value')),
    'emails[type eq "work"].value',
  );
  assert.equal(formatPath(parsePath('members[value eq "abc"]')), 'members[value eq "abc"]');
  assert.equal(formatPath(parsePath("name.familyName")), "name.familyName");
});

Deno.test("parsePath() handles attribute paths and valuePaths", () => {
  assert.deepEqual(parsePath("userName"), { path: { attr: "userName" } });
  assert.deepEqual(parsePath("name.familyName"), { path: { attr: "name", sub: "familyName" } });
  assert.deepEqual(parsePath(`${ENTERPRISE}:employeeNumber`), {
    path: { uri: ENTERPRISE, attr: "employeeNumber" },
  });
  assert.deepEqual(parsePath(`${ENTERPRISE}:manager`), {
    path: { uri: ENTERPRISE, attr: "manager" },
  });
  assert.deepEqual(parsePath('members[value eq "89bb1940"]'), {
    path: { attr: "members" },
    filter: cmp({ attr: "value" }, "eq", "89bb1940"),
  });
  assert.deepEqual(parsePath('emails[type eq "work"].value'), {
    path: { attr: "emails" },
    filter: cmp({ attr: "type" }, "eq", "work"),
    subAttr: "value",
  });
  // Entra: proxyAddresses map to `emails[type eq "other"].Value`, capital V.
  assert.deepEqual(parsePath('emails[Type Eq "other"].Value'), {
    path: { attr: "emails" },
    filter: cmp({ attr: "Type" }, "eq", "other"),
    subAttr: "Value",
  });
  assert.deepEqual(parsePath('addresses[type eq "work" and primary eq True].formatted'), {
    path: { attr: "addresses" },
    filter: {
      kind: "and",
      left: cmp({ attr: "type" }, "eq", "work"),
      right: cmp({ attr: "primary" }, "eq", true),
    },
    subAttr: "formatted",
  });
});

Deno.test("parsePath() rejects malformed paths with invalidPath", () => {
  const bad: [string, RegExp][] = [
    ["", /^Cannot parse path: path is empty at position 0$/],
    ['emails eq "x"', /unexpected token "eq" at position 7/],
    ['emails[type eq "work"', /unclosed "\[" at position 6/],
    ['emails[type eq "work"].', /expected a sub-attribute name after "." at position 23/],
    ['emails[type eq "work"].value.x', /invalid sub-attribute name "value.x" at position 23/],
    ['emails[type eq "work"]value', /unexpected token "value" at position 22/],
    ['emails[type eq "work"] .value', /unexpected token ".value" at position 23/],
    ['emails [type eq "work"]', /unexpected token "\[" after whitespace at position 7/],
    ['emails.value[type eq "x"]', /cannot follow a sub-attribute at position 12/],
    ['emails[type[value eq "x"]]', /cannot contain another value filter at position 11/],
    ['members[value eq "a"][x pr]', /unexpected token "\[" at position 21/],
    ["members[]", /unexpected token "\]" at position 8/],
    ["(userName)", /expected an attribute path, found token "\(" at position 0/],
    ["1x", /invalid attribute path "1x" at position 0/],
  ];
  for (const [input, detail] of bad) {
    assertScimError(() => parsePath(input), "invalidPath", detail);
  }
});

Deno.test("parseAttrPath() reads plain attribute paths", () => {
  assert.deepEqual(parseAttrPath("userName"), { attr: "userName" });
  assert.deepEqual(parseAttrPath(" name.givenName "), { attr: "name", sub: "givenName" });
  assert.deepEqual(parseAttrPath("members.$ref"), { attr: "members", sub: "$ref" });
  assert.deepEqual(parseAttrPath(`${CORE_USER}:emails.value`), {
    uri: CORE_USER,
    attr: "emails",
    sub: "value",
  });
  for (
    const input of ["", 'emails[type eq "x"]', "a.b.c", "1abc", 'userName eq "x"', "urn::x", "a b"]
  ) {
    assertScimError(() => parseAttrPath(input), "invalidPath", /^Cannot parse attribute path: /);
  }
});
