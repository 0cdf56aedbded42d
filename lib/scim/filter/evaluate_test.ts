import assert from "node:assert/strict";
import type { AttrPath } from "./ast.ts";
import type { AttributeDef, AttributeType } from "../schema_types.ts";
import { ScimError } from "../errors.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "../urns.ts";
import { type AttributeLookup, checkFilter, matches, parseDateTime } from "./evaluate.ts";
import { parseFilter } from "./parser.ts";
import { findKey, resolveValues } from "./resolve.ts";

const CUSTOM = "urn:example:params:scim:schemas:extension:acme:2.0:User";

function attr(name: string, type: AttributeType, extra: Partial<AttributeDef> = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description: "",
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...extra,
  };
}

/** A slice of RFC 7643 §8.7.1 for the tests; `meta` is left out on purpose (common attribute). */
const SCHEMAS: Record<string, AttributeDef[]> = {
  [USER_SCHEMA.toLowerCase()]: [
    attr("id", "string", { caseExact: true, mutability: "readOnly" }),
    attr("externalId", "string", { caseExact: true }),
    attr("userName", "string", { uniqueness: "server" }),
    attr("name", "complex", {
      subAttributes: [
        attr("formatted", "string"),
        attr("familyName", "string"),
        attr("givenName", "string"),
      ],
    }),
    attr("displayName", "string"),
    attr("nickName", "string"),
    attr("title", "string"),
    attr("userType", "string"),
    attr("active", "boolean"),
    attr("emails", "complex", {
      multiValued: true,
      subAttributes: [attr("value", "string"), attr("type", "string"), attr("primary", "boolean")],
    }),
    attr("phoneNumbers", "complex", {
      multiValued: true,
      subAttributes: [attr("value", "string"), attr("type", "string")],
    }),
    attr("roles", "complex", {
      multiValued: true,
      subAttributes: [attr("value", "string"), attr("primary", "boolean")],
    }),
    attr("x509Certificates", "complex", {
      multiValued: true,
      subAttributes: [attr("value", "binary", { caseExact: true })],
    }),
  ],
  [ENTERPRISE_USER_SCHEMA.toLowerCase()]: [
    attr("employeeNumber", "string"),
    attr("department", "string"),
    attr("manager", "complex", {
      subAttributes: [attr("value", "string"), attr("displayName", "string")],
    }),
  ],
  [CUSTOM.toLowerCase()]: [
    attr("loginCount", "integer"),
    attr("score", "decimal"),
    attr("hiredAt", "dateTime"),
  ],
};

/** Case-insensitive lookup over {@linkcode SCHEMAS}, like the schema module's. */
function lookup(path: AttrPath): AttributeDef | undefined {
  const attrs = SCHEMAS[(path.uri ?? USER_SCHEMA).toLowerCase()];
  const def = attrs?.find((a) => a.name.toLowerCase() === path.attr.toLowerCase());
  if (def === undefined || path.sub === undefined) return def;
  return def.subAttributes?.find((s) => s.name.toLowerCase() === path.sub!.toLowerCase());
}

/** A lookup that knows nothing, so every comparison goes by the JSON type of the value. */
function unknownLookup(): AttributeDef | undefined {
  return undefined;
}

const MANAGER_ID = "26118915-6090-4610-87e4-49d8ca9f808d";

/** Barbara Jensen, after RFC 7643 §8.2 with Entra and Okta habits mixed in. */
const USER: Record<string, unknown> = {
  schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM],
  id: "2819c223-7f76-453a-919d-413861904646",
  externalId: "BJensen-Ext",
  userName: "Bjensen",
  name: { formatted: "Ms. Barbara J Jensen, III", familyName: "Jensen", givenName: "Barbara" },
  displayName: "Babs Jensen",
  nickName: "",
  title: null,
  userType: "Employee",
  active: false,
  emails: [
    { value: "bjensen@example.com", type: "work", primary: true },
    { value: "babs@jensen.org", type: "home" },
  ],
  phoneNumbers: [],
  addresses: [{}],
  roles: [{ value: "Admin", primary: "True" }],
  x509Certificates: [{ value: "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx" }],
  [ENTERPRISE_USER_SCHEMA]: {
    employeeNumber: "701984",
    department: "Tour Operations",
    manager: { value: MANAGER_ID, displayName: "John Smith" },
  },
  [CUSTOM]: { loginCount: 42, score: 3.5, hiredAt: "2010-01-23T04:56:22+02:00" },
  meta: {
    resourceType: "User",
    created: "2010-01-23T04:56:22Z",
    lastModified: "2011-05-13T04:42:34Z",
    version: 'W/"3694e05e9dff591"',
  },
};

function m(
  filter: string,
  resource: Record<string, unknown> = USER,
  look: AttributeLookup = lookup,
): boolean {
  return matches(parseFilter(filter), resource, look);
}

function assertAll(resource: Record<string, unknown>, cases: [string, boolean][], look = lookup) {
  for (const [filter, expected] of cases) {
    assert.equal(m(filter, resource, look), expected, filter);
  }
}

function assertCannotEvaluate(filter: string, detail: RegExp, look = lookup, resource = USER) {
  assert.throws(() => m(filter, resource, look), (error: unknown) => {
    assert.ok(error instanceof ScimError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.scimType, "invalidFilter");
    assert.match(error.message, detail);
    return true;
  });
}

Deno.test("matches() handles eq with case rules", () => {
  assertAll(USER, [
    ['userName eq "Bjensen"', true],
    ['userName eq "BJENSEN"', true], // caseExact false (Okta's capitalised search)
    ['USERNAME EQ "bjensen"', true], // attribute names are case-insensitive too
    ['userName eq "bjensen2"', false],
    ['id eq "2819c223-7f76-453a-919d-413861904646"', true],
    ['id eq "2819C223-7F76-453A-919D-413861904646"', false], // caseExact true
    ['externalId eq "BJensen-Ext"', true],
    ['externalId eq "bjensen-ext"', false], // caseExact true
    ['name.givenName eq "BARBARA"', true],
    ['Name.GivenName eq "barbara"', true],
    ['emails.type eq "home"', true],
    ['displayName eq "Babs"', false],
    ['nosuchattr eq "x"', false],
  ]);
});

Deno.test("matches() uses common-attribute case rules when the lookup does not know them", () => {
  // id, externalId and meta are RFC 7643 §3.1 common attributes, absent from schema attribute lists.
  assertAll(USER, [
    ['id eq "2819c223-7f76-453a-919d-413861904646"', true],
    ['id eq "2819C223-7F76-453A-919D-413861904646"', false],
    ['externalId eq "bjensen-ext"', false],
    ['userName eq "BJENSEN"', true], // unknown attributes compare case-insensitively
    ['meta.resourceType eq "User"', true],
    ['meta.resourceType eq "user"', false],
  ], unknownLookup);
});

Deno.test("matches() handles ne", () => {
  assertAll(USER, [
    ['userName ne "x"', true],
    ['userName ne "BJENSEN"', false],
    ['emails.type ne "work"', true], // the home email is not "work"
    ['emails[type ne "work"]', true],
    ['title ne "x"', true], // no value is not identical to "x"
    ['nosuchattr ne "x"', true],
    ['externalId ne "bjensen-ext"', true],
  ]);
});

Deno.test("matches() handles co, sw and ew", () => {
  assertAll(USER, [
    ['userName co "JENS"', true],
    ['userName sw "bj"', true],
    ['userName ew "SEN"', true],
    ['userName sw "jensen"', false],
    ['externalId co "Ext"', true],
    ['externalId co "EXT"', false],
    ['emails co "example.com"', true], // RFC example: a complex attribute compares its value
    ['emails.value ew ".org"', true],
    ['emails.value co "example.org"', false],
    ['name.formatted co "barbara j"', true],
    ['displayName co ""', true],
  ]);
});

Deno.test("matches() handles gt, ge, lt and le on strings", () => {
  assertAll(USER, [
    ['userName gt "A"', true],
    ['userName gt "bjensen"', false],
    ['userName ge "BJENSEN"', true],
    ['userName lt "c"', true],
    ['userName le "bjensen"', true],
    ['userName lt "b"', false],
    ['externalId gt "b"', false], // caseExact: "B" < "b"
  ]);
});

Deno.test("matches() handles pr", () => {
  assertAll(USER, [
    ["userName pr", true],
    ["title pr", false], // null
    ["nickName pr", false], // ""
    ["phoneNumbers pr", false], // []
    ["addresses pr", false], // [{}]
    ["active pr", true], // false is a value
    ["name pr", true],
    ["name.middleName pr", false],
    ["emails.value pr", true],
    [`${ENTERPRISE_USER_SCHEMA}:manager pr`, true],
    [`${ENTERPRISE_USER_SCHEMA}:manager.displayName pr`, true],
    ["nosuchattr pr", false],
  ]);
  assert.equal(
    m("manager pr", { [ENTERPRISE_USER_SCHEMA]: { manager: { value: "" } } }),
    false, // Entra clears the manager with ""
  );
});

Deno.test("matches() treats eq null as not present", () => {
  assertAll(USER, [
    ["title eq null", true],
    ["nickName eq null", true],
    ["nosuchattr eq null", true],
    ["userName eq null", false],
    ["userName ne null", true],
    ["title ne null", false],
    ["emails[type eq null]", false],
    ["emails[primary eq null]", true],
  ]);
  assertCannotEvaluate("userName gt null", /operator "gt" cannot compare with null/);
});

Deno.test("matches() compares numbers numerically", () => {
  const c = CUSTOM;
  assertAll(USER, [
    [`${c}:loginCount eq 42`, true],
    [`${c}:loginCount eq 42.0`, true],
    [`${c}:loginCount eq "42"`, true],
    [`${c}:loginCount gt 41`, true],
    [`${c}:loginCount gt 42`, false],
    [`${c}:loginCount ge 42`, true],
    [`${c}:loginCount lt 1e2`, true],
    [`${c}:loginCount le -1`, false],
    [`${c}:loginCount ne 5`, true],
    [`${c}:score ge 3.5`, true],
    [`${c}:score lt 3.25`, false],
    [`${c}:score gt 10`, false], // numeric, not lexicographic
    [`loginCount gt 41`, true], // unqualified extension attribute
  ]);
  // Unknown to the schema: compared by the value's JSON type.
  assertAll(
    USER,
    [[`${c}:loginCount gt 41`, true], [`${c}:loginCount eq 42`, true]],
    unknownLookup,
  );
  assertCannotEvaluate(`${c}:loginCount co 4`, /operator "co" is not defined for numeric/);
  assertCannotEvaluate(`${c}:loginCount eq "many"`, /is numeric, cannot compare with "many"/);
});

Deno.test("matches() compares dateTime attributes as instants", () => {
  assertAll(USER, [
    ['meta.lastModified gt "2011-05-13T04:42:33Z"', true],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', false],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified eq "2011-05-13T04:42:34.000Z"', true],
    ['meta.lastModified eq "2011-05-13T06:42:34+02:00"', true],
    ['meta.lastModified eq "2011-05-13t04:42:34z"', true],
    ['meta.lastModified lt "2011-05-13T04:42:34.001Z"', true],
    ['meta.lastModified lt "2011-05-13T04:42:34.0001Z"', true],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified gt "2011-05-14"', false],
    ['meta.lastModified gt "2011-05-12T23:00:00-06:00"', false], // 05:00Z on the 13th
    ['meta.created lt "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified sw "2011-05"', true],
    ['META.LASTMODIFIED gt "2011-01-01T00:00:00Z"', true],
    [`${CUSTOM}:hiredAt eq "2010-01-23T02:56:22Z"`, true],
    [`${CUSTOM}:hiredAt lt "2010-01-23T04:00:00Z"`, true],
  ]);
  // meta.created and meta.lastModified are dateTime even for a lookup that knows nothing.
  assertAll(USER, [
    ['meta.lastModified eq "2011-05-13T06:42:34+02:00"', true],
    ['meta.lastModified gt "2011-05-12T23:00:00-06:00"', false],
  ], unknownLookup);
  assertCannotEvaluate('meta.lastModified gt "yesterday"', /is a dateTime, cannot compare with/);
  assertCannotEvaluate('meta.lastModified gt "2011-02-30T00:00:00Z"', /is a dateTime/);
  assertCannotEvaluate("meta.lastModified gt 5", /is a dateTime, cannot compare with 5/);
});

Deno.test("parseDateTime() reads ISO 8601 instants", () => {
  assert.equal(parseDateTime("2011-05-13T04:42:34Z"), Date.UTC(2011, 4, 13, 4, 42, 34));
  assert.equal(parseDateTime("2011-05-13T04:42:34.5+01:30"), Date.UTC(2011, 4, 13, 3, 12, 34, 500));
  assert.equal(parseDateTime("2011-05-13"), Date.UTC(2011, 4, 13));
  assert.equal(parseDateTime("0001-01-01T00:00:00Z"), -62135596800000);
  assert.equal(parseDateTime("2024-02-29T00:00:00Z"), Date.UTC(2024, 1, 29));
  for (const bad of ["2023-02-29T00:00:00Z", "2011-13-01", "2011-05-13T25:00:00Z", "May 13", 5]) {
    assert.equal(parseDateTime(bad), undefined, String(bad));
  }
});

Deno.test("matches() accepts Entra's True/False strings for booleans", () => {
  assertAll(USER, [
    ["active eq false", true],
    ["active eq true", false],
    ['active eq "False"', true],
    ['active eq "FALSE"', true],
    ['active eq "true"', false],
    ["active ne true", true],
    ["emails[primary eq true]", true],
    ['emails[primary eq "True"]', true],
    ["roles[primary eq true]", true], // stored as Entra's string "True"
    ['roles[primary eq "tRUE"]', true],
    ["roles[primary eq false]", false],
  ]);
  const stored = { active: "False", flag: "True" };
  assertAll(stored, [["active eq false", true], ["active eq true", false]]);
  assertAll(
    stored,
    [["flag eq true", true], ['flag eq "true"', true], ["flag eq false", false]],
    unknownLookup,
  );
  assertAll({ flag: true }, [['flag eq "True"', true], ['flag ne "true"', false]], unknownLookup);
  assertCannotEvaluate(
    "active gt false",
    /operator "gt" is not defined for boolean attribute "active"/,
  );
  assertCannotEvaluate('active co "f"', /operator "co" is not defined for boolean/);
  assertCannotEvaluate('active eq "maybe"', /"active" is boolean, cannot compare with "maybe"/);
  assertCannotEvaluate("flag ge true", /not defined for boolean attribute "flag"/, unknownLookup, {
    flag: true,
  });
});

Deno.test("matches() rejects ordering on complex and binary attributes", () => {
  assertCannotEvaluate(
    'emails gt "a"',
    /operator "gt" is not defined for complex attribute "emails"/,
  );
  assertCannotEvaluate('name le "x"', /not defined for complex attribute "name"/);
  assertCannotEvaluate(
    'x509Certificates.value gt "a"',
    /not defined for binary attribute "x509Certificates.value"/,
  );
  assertCannotEvaluate('name lt "x"', /not defined for complex attribute "name"/, unknownLookup);
  // Checked against the schema before evaluating, so short-circuiting cannot hide the error.
  assertCannotEvaluate('userName eq "nomatch" and active gt true', /boolean attribute "active"/);
  assert.throws(() => checkFilter(parseFilter("emails[primary lt true]"), lookup), ScimError);
  checkFilter(parseFilter('userName eq "x" and emails[type eq "work"]'), lookup);
});

Deno.test("checkFilter() - refuses a value filter on a simple single-valued attribute", () => {
  assertCannotEvaluate(
    'userName[type eq "x"].value eq "a"',
    /^Cannot evaluate filter: "userName" is not multi-valued, so it takes no value filter/,
  );
  assertCannotEvaluate("active[value eq true]", /"active" is not multi-valued/);
  assertCannotEvaluate(`${ENTERPRISE_USER_SCHEMA}:employeeNumber[value pr]`, /not multi-valued/);
  assertCannotEvaluate('id[value eq "x"]', /"id" is not multi-valued/);
  assert.throws(
    () => checkFilter(parseFilter('userName eq "x" or displayName[value eq "y"]'), lookup),
    ScimError,
  );
  // Multi-valued and complex attributes take one; an attribute the schema does not know is
  // not checked.
  checkFilter(parseFilter('emails[type eq "work"].value eq "a"'), lookup);
  checkFilter(parseFilter('name[givenName eq "Barbara"]'), lookup);
  checkFilter(parseFilter('nickNames[value eq "x"]'), lookup);
});

Deno.test("matches() handles valuePath", () => {
  assertAll(USER, [
    ['emails[type eq "work"]', true],
    ['emails[TYPE eq "WORK"]', true],
    ['emails[type eq "work" and value co "@example.com"]', true],
    ['emails[type eq "home" and value co "@example.com"]', false], // one element must match both
    ['emails[type eq "home" or value co "@example.com"]', true],
    ['emails[not (type eq "work")]', true],
    ['emails[type eq "other"]', false],
    ['emails[type eq "work"].value eq "BJENSEN@example.com"', true], // Entra's form
    ['emails[type eq "home"].value eq "bjensen@example.com"', false],
    ['emails[type eq "work"].value pr', true],
    [`${USER_SCHEMA}:emails[type eq "work"]`, true],
    ['phoneNumbers[type eq "work"]', false],
    ['x509Certificates[value eq "miidqzcc"]', false],
    ['x509Certificates[value sw "MIIDQzCC"]', true], // binary is caseExact
    ['nosuchattr[value eq "x"]', false],
  ]);
  const group = {
    schemas: [GROUP_SCHEMA],
    displayName: "Tour Guides",
    members: [{ value: "abc", display: "Babs", $ref: "https://x/Users/abc" }, { value: "def" }],
  };
  assertAll(group, [
    ['members[value eq "abc"]', true],
    ['members[value eq "ABC"]', true], // unknown sub-attribute: case-insensitive
    ['members[value eq "xyz"]', false],
    ['members[$ref ew "/abc"]', true],
    ['members.value eq "def"', true],
    ['displayName eq "tour guides" and members[value eq "def"]', true],
  ], unknownLookup);
});

Deno.test("matches() asks the lookup for a valuePath's sub-attributes as {uri, attr, sub}", () => {
  const seen: AttrPath[] = [];
  function spy(path: AttrPath): AttributeDef | undefined {
    seen.push(path);
    return lookup(path);
  }
  m(`${USER_SCHEMA}:emails[type eq "work" and primary eq true]`, USER, spy);
  const subs = () => seen.filter((path) => path.sub !== undefined);
  assert.deepEqual(subs().slice(0, 2), [
    { uri: USER_SCHEMA, attr: "emails", sub: "type" },
    { uri: USER_SCHEMA, attr: "emails", sub: "primary" },
  ]);
  seen.length = 0;
  m('emails[value eq "x"]', USER, spy);
  assert.deepEqual(subs()[0], { attr: "emails", sub: "value" });
});

Deno.test("matches() handles not, and, or", () => {
  assertAll(USER, [
    ['not (userName eq "bjensen")', false],
    ['not (userName eq "x")', true],
    ['userName eq "bjensen" and active eq false', true],
    ['userName eq "bjensen" and active eq true', false],
    ['userName eq "x" or active eq false', true],
    ['userName eq "x" or active eq true', false],
    ['userName eq "x" and title pr or active eq false', true], // and binds tighter
    ['userName eq "x" and (title pr or active eq false)', false],
    ["not (not (userName pr))", true],
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      true,
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      false,
    ],
  ]);
});

Deno.test("matches() resolves URN-qualified and extension attributes", () => {
  const e = ENTERPRISE_USER_SCHEMA;
  assertAll(USER, [
    [`${e}:department eq "tour operations"`, true],
    [`${e.toUpperCase()}:DEPARTMENT eq "Tour Operations"`, true],
    [`${e}:manager.value eq "${MANAGER_ID}"`, true],
    [`${e}:manager eq "${MANAGER_ID}"`, true], // complex → value
    [`${USER_SCHEMA}:userName eq "bjensen"`, true],
    [`${GROUP_SCHEMA}:userName eq "bjensen"`, false], // not this resource's core schema
    [`urn:example:other:2.0:User:department eq "tour operations"`, false],
    ['department eq "Tour Operations"', true], // unqualified extension attribute (RFC 7644 §3.10)
    ['schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', true],
  ]);
  // Entra's manager check (tutorial example 4), with and without schema knowledge.
  const entra = `id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "${MANAGER_ID}"`;
  assert.equal(m(entra), true);
  assert.equal(m(entra, USER, unknownLookup), true);
  assert.equal(m('id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "other"'), false);
  // Entra may send (and a store may keep) the manager as a bare string.
  assert.equal(m(`${e}:manager eq "abc"`, { [e]: { manager: "abc" } }), true);
});

Deno.test("matches() accepts unquoted values", () => {
  assert.equal(m("userName eq bjensen"), true);
  assert.equal(m("externalId eq 12345", { externalId: "12345" }), true);
  assert.equal(m("externalId eq 12345", { externalId: "123456" }), false);
  assert.equal(m("nickName eq 12345", { nickName: "12345" }, unknownLookup), true);
});

Deno.test("matches() never reads inherited properties", () => {
  const resource = JSON.parse(
    '{"userName":"x","__proto__":{"polluted":"yes"},"emails":[{"value":"a@b.c"}]}',
  );
  assertAll(resource, [
    ["constructor pr", false],
    ["toString pr", false],
    ["hasOwnProperty pr", false],
    ["polluted pr", false],
    ['emails[constructor pr or valueOf pr or value eq "a@b.c"]', true],
    ["emails[constructor pr]", false],
    ["userName.length pr", false],
    ['userName eq "x"', true],
  ], unknownLookup);
  const inherited = Object.create({ userName: "inherited", active: true });
  assertAll(inherited, [["userName pr", false], ["active eq true", false]]);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
});

Deno.test("matches() does not modify the resource", () => {
  const before = structuredClone(USER);
  m('emails[type eq "work"].value eq "x" or name.givenName pr or active eq "False"');
  assert.deepEqual(USER, before);
});

Deno.test("findKey() matches own keys case-insensitively", () => {
  const obj = { userName: 1, Emails: 2, exact: 3, EXACT: 4 };
  assert.equal(findKey(obj, "username"), "userName");
  assert.equal(findKey(obj, "emails"), "Emails");
  assert.equal(findKey(obj, "EXACT"), "EXACT"); // exact match wins
  assert.equal(findKey(obj, "missing"), undefined);
  assert.equal(findKey({}, "constructor"), undefined);
  assert.equal(findKey({}, "__proto__"), undefined);
  assert.equal(findKey(Object.create({ inherited: 1 }), "inherited"), undefined);
  assert.equal(findKey(JSON.parse('{"__proto__":1}'), "__PROTO__"), "__proto__"); // own key
});

Deno.test("resolveValues() flattens multi-valued attributes", () => {
  assert.deepEqual(resolveValues(USER, { attr: "emails", sub: "value" }), [
    "bjensen@example.com",
    "babs@jensen.org",
  ]);
  assert.deepEqual(resolveValues(USER, { attr: "EMAILS", sub: "Type" }), ["work", "home"]);
  assert.deepEqual(resolveValues(USER, { attr: "emails" }).length, 2);
  assert.deepEqual(resolveValues(USER, { attr: "schemas" }), USER.schemas);
  assert.deepEqual(resolveValues(USER, { attr: "name", sub: "givenName" }), ["Barbara"]);
  assert.deepEqual(resolveValues(USER, { attr: "title" }), []);
  assert.deepEqual(resolveValues(USER, { attr: "nothing", sub: "value" }), []);
  assert.deepEqual(resolveValues(USER, { attr: "phoneNumbers", sub: "value" }), []);
  assert.deepEqual(resolveValues(USER, { attr: "userName", sub: "value" }), []);
});

Deno.test("resolveValues() resolves schema URNs", () => {
  const e = ENTERPRISE_USER_SCHEMA;
  assert.deepEqual(resolveValues(USER, { uri: e, attr: "department" }), ["Tour Operations"]);
  assert.deepEqual(resolveValues(USER, { uri: e.toLowerCase(), attr: "Manager", sub: "Value" }), [
    MANAGER_ID,
  ]);
  assert.deepEqual(resolveValues(USER, { uri: USER_SCHEMA, attr: "userName" }), ["Bjensen"]);
  assert.deepEqual(resolveValues(USER, { uri: USER_SCHEMA.toUpperCase(), attr: "userName" }), [
    "Bjensen",
  ]);
  assert.deepEqual(resolveValues(USER, { uri: GROUP_SCHEMA, attr: "userName" }), []);
  // The core URN can be given, or inferred from `schemas`, `meta.resourceType`, or either core URN.
  const bare = { userName: "x", displayName: "g" };
  assert.deepEqual(resolveValues(bare, { uri: GROUP_SCHEMA, attr: "displayName" }, GROUP_SCHEMA), [
    "g",
  ]);
  assert.deepEqual(resolveValues(bare, { uri: USER_SCHEMA, attr: "userName" }, GROUP_SCHEMA), []);
  assert.deepEqual(resolveValues(bare, { uri: USER_SCHEMA, attr: "userName" }), ["x"]);
  assert.deepEqual(
    resolveValues({ ...bare, meta: { resourceType: "Group" } }, {
      uri: USER_SCHEMA,
      attr: "userName",
    }),
    [],
  );
  // Unqualified names fall back to extension objects only when not found at the top level.
  assert.deepEqual(resolveValues(USER, { attr: "employeeNumber" }), ["701984"]);
  assert.deepEqual(resolveValues({ title: "top", [e]: { title: "ext" } }, { attr: "title" }), [
    "top",
  ]);
  assert.deepEqual(resolveValues(USER, { uri: USER_SCHEMA, attr: "employeeNumber" }), []);
});
