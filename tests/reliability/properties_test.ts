/**
 * Property-based tests (fast-check) on the filter engine (lib/scim/filter) and the PATCH engine
 * (lib/scim/patch/): no exception other than a `ScimError` escapes, `format(parse(x))`
 * round-trips, applying a PATCH to a copy never mutates the original or any prototype, and
 * evaluation never writes to the resource. `WEFT_SOAK=1` runs 20× more cases; a failure prints
 * the seed and path that replay it (`fc.assert` output).
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AttrPath,
  checkFilter,
  type CompareOp,
  type Filter,
  formatFilter,
  formatPath,
  matches,
  parseFilter,
  parsePath,
  type PatchPath,
} from "../../lib/scim/filter/mod.ts";
import { ScimError } from "../../lib/scim/errors.ts";
import {
  applyPatch,
  extractMemberOperations,
  parsePatchRequest,
} from "../../lib/scim/patch/mod.ts";
import { deepFreeze } from "../../lib/json.ts";
import { attributeLookup, coreSchemaUrn } from "../../lib/scim/schema_defs.ts";
import { normalizeResource } from "../../lib/scim/validate.ts";
import { SOAK } from "./_server.ts";

const RUNS = SOAK ? 20_000 : 1000;
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/** Runs `fn`; any throw other than a ScimError fails the property with the input. */
function onlyScimErrors<T>(what: string, input: unknown, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ScimError) return undefined;
    const shown = JSON.stringify(input, (_k, v) => typeof v === "bigint" ? String(v) : v);
    throw new Error(
      `${what} threw ${error instanceof Error ? `${error.name}: ${error.message}` : error} for ${
        shown?.slice(0, 500)
      }`,
    );
  }
}

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();
const ARRAY_PROTO_KEYS = Object.getOwnPropertyNames(Array.prototype).sort();
function assertPrototypesClean() {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_KEYS);
  assert.deepEqual(Object.getOwnPropertyNames(Array.prototype).sort(), ARRAY_PROTO_KEYS);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: filters
// ---------------------------------------------------------------------------------------------

/** `fc.record` with ordinary prototypes (fast-check v4 defaults to null-prototype records). */
const rec =
  ((model: never, constraints: object = {}) =>
    fc.record(model, { ...constraints, noNullPrototype: true } as never)) as typeof fc.record;

const KEYWORDS = new Set(["and", "or", "not"]);
const nameArb = fc.stringMatching(/^[A-Za-z$][A-Za-z0-9_$-]{0,11}$/).filter((s) =>
  !KEYWORDS.has(s.toLowerCase())
);
const knownAttr = fc.constantFrom(
  "userName",
  "displayName",
  "emails",
  "active",
  "externalId",
  "id",
  "title",
  "members",
  "meta",
  "name",
  "groups",
  "phoneNumbers",
);
const attrName = fc.oneof({ weight: 2, arbitrary: knownAttr }, { weight: 1, arbitrary: nameArb });
const uriArb = fc.oneof(
  fc.constantFrom(USER_URN, ENTERPRISE, "urn:ietf:params:scim:schemas:core:2.0:Group"),
  fc.tuple(
    fc.stringMatching(/^[a-z][a-z0-9+.-]{0,6}$/),
    fc.array(fc.stringMatching(/^[A-Za-z0-9.]{1,8}$/), { minLength: 1, maxLength: 4 }),
  ).map(([scheme, parts]) => [scheme, ...parts].join(":")),
);
const attrPathArb: fc.Arbitrary<AttrPath> = rec(
  { uri: uriArb, attr: attrName, sub: attrName },
  { requiredKeys: ["attr"], noNullPrototype: true },
);
const plainPathArb: fc.Arbitrary<AttrPath> = attrName.map((attr) => ({ attr }));
const compareValue = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ maxLength: 10 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const opArb = fc.constantFrom<CompareOp>("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le");

function filterArb(inValuePath: boolean): fc.Arbitrary<Filter> {
  const path = inValuePath ? plainPathArb : attrPathArb;
  return fc.letrec<{ f: Filter }>((tie) => ({
    f: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      rec({ kind: fc.constant("compare" as const), path, op: opArb, value: compareValue }),
      rec({ kind: fc.constant("present" as const), path }),
      rec({ kind: fc.constant("and" as const), left: tie("f"), right: tie("f") }),
      rec({ kind: fc.constant("or" as const), left: tie("f"), right: tie("f") }),
      rec({ kind: fc.constant("not" as const), filter: tie("f") }),
      ...(inValuePath ? [] : [
        rec({
          kind: fc.constant("valuePath" as const),
          path: rec({ uri: uriArb, attr: attrName }, { requiredKeys: ["attr"] }),
          filter: filterArb(true),
        }),
      ]),
    ),
  })).f as fc.Arbitrary<Filter>;
}

const filterAst = filterArb(false);

/** As a client sends it: through JSON, so `__proto__` arrives as an own key, as from `JSON.parse`. */
function viaJson<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return arb.map((v) => JSON.parse(JSON.stringify(v) ?? "null"));
}

/** Filter-like text built from the grammar's tokens, so most inputs get past the lexer. */
const tokenSoup = fc.array(
  fc.oneof(
    fc.constantFrom(
      "(",
      ")",
      "[",
      "]",
      ".",
      " ",
      " and ",
      " or ",
      "not ",
      " eq ",
      " pr",
      " gt ",
      ' "x"',
      '"a\\"b"',
      '"\\u00e9"',
      '"\\ud800"',
      "\\",
      '"',
      "userName",
      "emails",
      "value",
      "type",
      "members",
      "1",
      "-0",
      "1e999",
      "true",
      "null",
      ":",
      `${USER_URN}:`,
      `${ENTERPRISE}:manager`,
      "__proto__",
      "constructor",
      "$ref",
    ),
    fc.string({ maxLength: 4 }),
  ),
  { maxLength: 30 },
).map((parts) => parts.join(""));

/** A valid filter's text with a few random edits: mostly near-valid input. */
const mutatedFilter = fc.tuple(
  filterAst,
  fc.array(fc.tuple(fc.nat(), fc.nat(3), tokenSoup), { maxLength: 3 }),
).map(([ast, edits]) => {
  let text = formatFilter(ast);
  for (const [at, kind, insert] of edits) {
    const i = text.length ? at % text.length : 0;
    if (kind === 0) text = text.slice(0, i) + text.slice(i + 1);
    else if (kind === 1) text = text.slice(0, i) + insert + text.slice(i);
    else if (kind === 2) text = text.slice(0, i);
    else text = text.slice(0, i) + text.slice(i).toUpperCase();
  }
  return text;
});

const anyText = fc.oneof(
  { weight: 3, arbitrary: mutatedFilter },
  { weight: 1, arbitrary: filterAst.map(formatFilter) },
  { weight: 2, arbitrary: tokenSoup },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
);

// ---------------------------------------------------------------------------------------------
// Arbitraries: resources and PATCH operations
// ---------------------------------------------------------------------------------------------

const hostileKey = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
);
const jsonish = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom("True", "False", "", "2024-01-01T00:00:00Z"),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(attrName, hostileKey, fc.constantFrom("value", "type", "primary", "display")),
      tie("v"),
      {
        maxKeys: 4,
      },
    ),
  ),
})).v;

const userResource = viaJson(rec({
  userName: fc.string({ minLength: 1, maxLength: 12 }),
  displayName: fc.string({ maxLength: 8 }),
  active: fc.boolean(),
  name: rec({
    givenName: fc.string({ maxLength: 6 }),
    familyName: fc.string({ maxLength: 6 }),
  }),
  emails: fc.array(
    rec({
      value: fc.string({ maxLength: 8 }),
      type: fc.constantFrom("work", "home", "other"),
      primary: fc.boolean(),
    }),
    { maxLength: 3 },
  ),
  [ENTERPRISE]: rec({
    department: fc.string({ maxLength: 5 }),
    manager: rec({ value: fc.string({ maxLength: 5 }) }),
  }),
  extra: jsonish,
}, { requiredKeys: ["userName"] }));

const patchPathArb = fc.oneof(
  fc.constantFrom(
    "userName",
    "displayName",
    "active",
    "name",
    "name.givenName",
    "emails",
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    'emails[value co "@"].primary',
    "emails.value",
    "members",
    'members[value eq "u1"]',
    'members[display sw "a" or value pr]',
    `${ENTERPRISE}:department`,
    `${ENTERPRISE}:manager`,
    `${ENTERPRISE}:manager.value`,
    `${USER_URN}:userName`,
    "externalId",
    "id",
    "meta.created",
    "__proto__",
    "__proto__.polluted",
    "constructor.prototype.polluted",
    "name.__proto__",
    'emails[__proto__ eq "x"].value',
    "",
    " ",
  ),
  attrPathArb.map((p) => formatPath({ path: p })),
  tokenSoup,
);
/** Well-formed operations, values shaped for their path (most get applied). */
const emailArb = rec({
  value: fc.string({ maxLength: 8 }),
  type: fc.constantFrom("work", "home"),
  primary: fc.boolean(),
}, { requiredKeys: ["value"] });
const shapedOperation = fc.oneof(
  rec({
    op: fc.constantFrom("add", "replace"),
    path: fc.constantFrom(
      "displayName",
      "userName",
      "title",
      "nickName",
      "name.givenName",
      `${ENTERPRISE}:department`,
      `${ENTERPRISE}:manager`,
    ),
    value: fc.string({ minLength: 1, maxLength: 8 }),
  }),
  rec({
    op: fc.constantFrom("add", "replace", "Replace"),
    path: fc.constant("active"),
    value: fc.oneof(fc.boolean(), fc.constantFrom("True", "False")),
  }),
  rec({
    op: fc.constantFrom("add", "replace"),
    path: fc.constantFrom("emails", "phoneNumbers"),
    value: fc.array(emailArb, { maxLength: 3 }),
  }),
  rec({
    op: fc.constantFrom("add", "replace"),
    path: fc.constantFrom(
      'emails[type eq "work"].value',
      'emails[type eq "home"]',
      'emails[value co "a"].primary',
    ),
    value: fc.oneof(fc.string({ maxLength: 6 }), fc.boolean(), emailArb),
  }),
  rec({
    op: fc.constantFrom("add", "replace"),
    path: fc.constant("name"),
    value: rec({ givenName: fc.string({ maxLength: 5 }), familyName: fc.string({ maxLength: 5 }) }),
  }),
  rec({
    op: fc.constant("remove"),
    path: fc.constantFrom(
      "displayName",
      "emails",
      'emails[type eq "work"]',
      "name.givenName",
      'emails[value eq "x"].type',
      `${ENTERPRISE}:manager`,
      "title",
    ),
  }),
  rec({
    op: fc.constantFrom("add", "replace"),
    value: rec({
      displayName: fc.string({ maxLength: 5 }),
      active: fc.boolean(),
      "name.familyName": fc.string({ maxLength: 5 }),
      [`${ENTERPRISE}:department`]: fc.string({ maxLength: 4 }),
      id: fc.constant("u-1"),
    }, { requiredKeys: [] }),
  }),
  rec({ op: fc.constantFrom("add", "replace"), path: patchPathArb, value: jsonish }),
);
const opName = fc.constantFrom(
  "add",
  "remove",
  "replace",
  "Add",
  "REPLACE",
  "Remove",
  "delete",
  "",
);
const operationArb = fc.oneof(
  { weight: 10, arbitrary: shapedOperation },
  {
    weight: 6,
    arbitrary: rec({ op: opName, path: patchPathArb, value: jsonish }, {
      requiredKeys: ["op"],
    }),
  },
  { weight: 1, arbitrary: jsonish },
);
const patchBody = viaJson(fc.oneof(
  {
    weight: 8,
    arbitrary: rec({
      schemas: fc.constant([PATCH_OP]),
      Operations: fc.array(operationArb, { maxLength: 5 }),
    }),
  },
  { weight: 1, arbitrary: jsonish },
));

// ---------------------------------------------------------------------------------------------
// Properties: filters
// ---------------------------------------------------------------------------------------------

Deno.test("properties: parseFilter(formatFilter(ast)) returns the same AST", () => {
  fc.assert(
    fc.property(filterAst, (ast) => {
      const text = formatFilter(ast);
      if (text.length > 10_000) return;
      const parsed = onlyScimErrors("parseFilter", text, () => parseFilter(text));
      if (parsed === undefined) {
        // The formatter produced text the parser refuses: only bounds may explain that.
        let nodes = 0;
        const depth = (f: Filter): number => {
          nodes++;
          switch (f.kind) {
            case "and":
            case "or":
              return Math.max(depth(f.left), depth(f.right));
            case "not":
              return 1 + depth(f.filter);
            case "valuePath":
              return 1 + depth(f.filter);
            default:
              return 0;
          }
        };
        const d = depth(ast);
        assert.ok(d > 50 || nodes > 1000, `valid AST refused: ${text}`);
        return;
      }
      assert.deepStrictEqual(parsed, ast, `round trip of ${text}`);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("properties: any text → parseFilter returns or throws a ScimError; what parses re-formats to itself", () => {
  fc.assert(
    fc.property(anyText, (text) => {
      const ast = onlyScimErrors("parseFilter", text, () => parseFilter(text));
      if (ast === undefined) return;
      const again = formatFilter(ast);
      assert.deepStrictEqual(parseFilter(again), ast, `${JSON.stringify(text)} → ${again}`);
      assert.equal(formatFilter(parseFilter(again)), again);
    }),
    { numRuns: RUNS * 3 },
  );
});

Deno.test("properties: PATCH paths round-trip and never throw anything but a ScimError", () => {
  const pathAst: fc.Arbitrary<PatchPath> = fc.oneof(
    attrPathArb.map((path) => ({ path })),
    rec({
      path: rec({ uri: uriArb, attr: attrName }, { requiredKeys: ["attr"] }),
      filter: filterArb(true),
      subAttr: attrName,
    }, { requiredKeys: ["path", "filter"] }),
  );
  fc.assert(
    fc.property(pathAst, (p) => {
      const text = formatPath(p);
      const parsed = onlyScimErrors("parsePath", text, () => parsePath(text));
      if (parsed !== undefined) assert.deepStrictEqual(parsed, p, text);
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(anyText, (text) => {
      const p = onlyScimErrors("parsePath", text, () => parsePath(text));
      if (p !== undefined) assert.deepStrictEqual(parsePath(formatPath(p)), p);
    }),
    { numRuns: RUNS * 2 },
  );
});

Deno.test("properties: evaluating any filter on any resource returns a boolean or throws a ScimError, and writes nothing", () => {
  const lookups = (["User", "Group"] as const).map((t) => ({
    lookup: attributeLookup(t),
    urn: coreSchemaUrn(t),
  }));
  fc.assert(
    fc.property(filterAst, userResource, fc.nat(1), (ast, resource, which) => {
      const { lookup, urn } = lookups[which];
      const before = structuredClone(resource);
      onlyScimErrors("checkFilter", { ast }, () => checkFilter(ast, lookup));
      const result = onlyScimErrors(
        "matches",
        { ast, resource },
        () => matches(ast, deepFreeze(resource) as Record<string, unknown>, lookup, urn),
      );
      if (result !== undefined) assert.equal(typeof result, "boolean");
      assert.deepStrictEqual(resource, before);
      assertPrototypesClean();
    }),
    { numRuns: RUNS },
  );
});

// ---------------------------------------------------------------------------------------------
// Properties: PATCH
// ---------------------------------------------------------------------------------------------

Deno.test("properties: any PatchOp body → parsePatchRequest returns operations or throws a ScimError", () => {
  fc.assert(
    fc.property(patchBody, (body) => {
      onlyScimErrors("parsePatchRequest", body, () => parsePatchRequest(body));
      assertPrototypesClean();
    }),
    { numRuns: RUNS * 2 },
  );
});

Deno.test("properties: applyPatch on a User never mutates the original or a prototype, and fails only with ScimError", () => {
  fc.assert(
    fc.property(userResource, patchBody, (resource, body) => {
      const ops = onlyScimErrors("parsePatchRequest", body, () => parsePatchRequest(body));
      if (!ops) return;
      const original = resource as Record<string, unknown>;
      const snapshot = structuredClone(original);
      const result = onlyScimErrors(
        "applyPatch",
        { resource, body },
        () => applyPatch(original, ops, { resourceType: "User", id: "u-1" }),
      );
      assert.deepStrictEqual(original, snapshot, "the original resource was mutated");
      assertPrototypesClean();
      if (result) {
        assert.equal(typeof result.changed, "boolean");
        assert.ok(result.resource !== original || !result.changed, "a change must come in a copy");
        onlyScimErrors(
          "normalizeResource",
          result.resource,
          () =>
            normalizeResource("User", {
              ...result.resource,
              userName: result.resource.userName ?? "x",
            }),
        );
        assertPrototypesClean();
      }
      // The same on a deep-frozen input: a write attempt would throw a TypeError.
      onlyScimErrors(
        "applyPatch (frozen input)",
        { resource, body },
        () =>
          applyPatch(deepFreeze(structuredClone(snapshot)), ops, {
            resourceType: "User",
            id: "u-1",
          }),
      );
    }),
    { numRuns: RUNS },
  );
});

Deno.test("properties: group PATCH split and apply never throw anything but a ScimError", () => {
  const group = rec({
    displayName: fc.string({ minLength: 1, maxLength: 8 }),
    externalId: fc.string({ maxLength: 6 }),
    extra: jsonish,
  }, { requiredKeys: ["displayName"] });
  fc.assert(
    fc.property(viaJson(group), patchBody, (g, body) => {
      const ops = onlyScimErrors("parsePatchRequest", body, () => parsePatchRequest(body));
      if (!ops) return;
      const split = onlyScimErrors(
        "extractMemberOperations",
        body,
        () => extractMemberOperations(ops),
      );
      if (!split) return;
      for (const m of split.memberOps) {
        if ("values" in m) assert.ok(m.values.every((v) => typeof v === "string" && v !== ""));
      }
      const snapshot = structuredClone(g);
      onlyScimErrors(
        "applyPatch (Group)",
        { g, body },
        () =>
          applyPatch(deepFreeze(g) as Record<string, unknown>, split.otherOps, {
            resourceType: "Group",
            id: "g-1",
          }),
      );
      assert.deepStrictEqual(g, snapshot);
      assertPrototypesClean();
    }),
    { numRuns: RUNS },
  );
});

Deno.test("properties: normalizeResource on any JSON never throws anything but a ScimError", () => {
  fc.assert(
    fc.property(
      viaJson(jsonish),
      fc.constantFrom("User" as const, "Group" as const),
      (body, type) => {
        const snapshot = structuredClone(body);
        onlyScimErrors("normalizeResource", body, () => normalizeResource(type, deepFreeze(body)));
        assert.deepStrictEqual(body, snapshot);
        assertPrototypesClean();
      },
    ),
    { numRuns: RUNS },
  );
});
