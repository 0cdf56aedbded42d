/**
 * A corpus of hostile and broken SCIM requests, hand-written and generated (issue 5, "Hostile and
 * broken input"). Each entry is a request that a correct receiver refuses with a 4xx SCIM error
 * and that changes nothing; a few read-only requests (marked `allow`) may instead answer with a
 * harmless 2xx, which must also change nothing.
 *
 * Categories: malformed and truncated JSON, wrong types, strings beyond KV key limits, 10,000-
 * element arrays, deep nesting, bodies over the limit, invalid UTF-8, NUL and control characters,
 * `__proto__`/`constructor`/`prototype` keys and paths, filter bombs, path injection in ids,
 * Unicode look-alike userNames, enormous query strings, wrong content types, hostile
 * authorization headers, and refused writes (conflicts, preconditions).
 * @module
 */

/** What the corpus may refer to: resources that exist before it runs. */
export interface Fixture {
  userId: string;
  userName: string;
  externalId: string;
  /** A second user, whose userName another write may try to take. */
  otherUserName: string;
  /** A user whose userName has an accent (precomposed é). */
  accentedUserName: string;
  groupId: string;
  groupName: string;
  idpId: string;
  /** The IdP's SCIM base path, `/scim/v2/inbound/<idp>`. */
  basePath: string;
}

/** One hostile request. */
export interface BadRequest {
  /** Unique, readable name (shown on failure). */
  name: string;
  category: string;
  method: string;
  /** Under the IdP's SCIM base (`/Users`), or from the origin when it starts with `//`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer> | (() => ReadableStream<Uint8Array>);
  /** The Authorization header; undefined sends the valid bearer token, null sends none. */
  auth?: string | null;
  /** Host header override (default: the tenant's host). */
  host?: string;
  /** Extra acceptable statuses for read-only requests whose correct answer may be a 2xx. */
  allow?: number[];
}

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

const json = (v: unknown) => JSON.stringify(v);
const enc = new TextEncoder();
const bytes = (...parts: (string | number[] | Uint8Array)[]): Uint8Array<ArrayBuffer> => {
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p) : new Uint8Array(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};
const q = (filter: string) => encodeURIComponent(filter);

/** A valid new user body (unique), for mutations of one attribute. */
export function validUser(n: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemas: [USER],
    userName: `hostile.${n}@example.test`,
    externalId: `hostile-${n}`,
    name: { givenName: "Hostile", familyName: n },
    emails: [{ value: `hostile.${n}@example.test`, type: "work", primary: true }],
    active: true,
    ...extra,
  };
}

function patch(ops: unknown[]): string {
  return json({ schemas: [PATCH], Operations: ops });
}

/** Builds the corpus for a fixture. */
export function buildCorpus(f: Fixture): BadRequest[] {
  const out: BadRequest[] = [];
  const add = (category: string, r: Omit<BadRequest, "category">) => out.push({ ...r, category });
  let n = 0;
  const uniq = () => `c${n++}`;
  const U = `/Users/${f.userId}`;
  const G = `/Groups/${f.groupId}`;

  // -- Malformed and truncated JSON -------------------------------------------------------------
  const targets: [string, string, string][] = [
    ["POST", "/Users", json(validUser("trunc-user"))],
    ["PUT", U, json(validUser("trunc-put"))],
    ["PATCH", U, patch([{ op: "replace", path: "displayName", value: "Truncated" }])],
    ["POST", "/Groups", json({ displayName: "Truncated group", members: [{ value: f.userId }] })],
    ["PATCH", G, patch([{ op: "add", path: "members", value: [{ value: f.userId }] }])],
    ["POST", "/.search", json({ schemas: [SEARCH], filter: `userName eq "${f.userName}"` })],
    ["POST", "/Users/.search", json({ schemas: [SEARCH], filter: 'userName sw "a"' })],
  ];
  for (const [method, path, body] of targets) {
    for (const cut of [1, 0.25, 0.5, 0.75, 0.95]) {
      const at = cut === 1 ? 1 : Math.floor(body.length * cut);
      add("malformed JSON", {
        name: `${method} ${path} truncated at ${at}/${body.length}`,
        method,
        path,
        body: body.slice(0, at),
      });
    }
  }
  const malformed = [
    "{",
    "}",
    "[",
    '{"userName":}',
    "{'userName':'single quotes'}",
    '{"userName":"trailing comma",}',
    '{"userName":"x"} trailing garbage',
    '{"userName":"x"}{"userName":"y"}',
    '{"userName": NaN}',
    '{"userName": undefined}',
    '{"userName": Infinity}',
    '{"userName": 0x10}',
    '{"userName": "unterminated}',
    '{"userName": "bad escape \\x41"}',
    '{"userName": "bad unicode \\u12"}',
    "/* comment */ {}",
    "",
    "   \n\t ",
    "null",
    "[]",
    '"a string"',
    "123",
    "true",
    '[{"userName":"in an array"}]',
  ];
  malformed.forEach((body, i) => {
    add("malformed JSON", {
      name: `POST /Users malformed #${i}: ${body.slice(0, 30)}`,
      method: "POST",
      path: "/Users",
      body,
    });
    if (i % 3 === 0) {
      add("malformed JSON", {
        name: `PATCH /Groups/{id} malformed #${i}`,
        method: "PATCH",
        path: G,
        body,
      });
    }
  });

  // -- Wrong types everywhere --------------------------------------------------------------------
  const wrongUser: [string, unknown][] = [
    ["userName", 123],
    ["userName", true],
    ["userName", { value: "x" }],
    ["userName", ["x"]],
    ["userName", ""],
    ["userName", "   "],
    ["name", "Just A String"],
    ["name", 42],
    ["name", [{ givenName: "x" }, { givenName: "y" }]],
    ["name", { givenName: 5 }],
    ["name", { familyName: ["a"] }],
    ["name", { formatted: { a: 1 } }],
    ["displayName", 7],
    ["displayName", { a: 1 }],
    ["nickName", ["a", "b"]],
    ["title", false],
    ["active", "maybe"],
    ["active", 2],
    ["active", { value: true }],
    ["active", ["true"]],
    ["emails", "a@b.test"],
    ["emails", 5],
    ["emails", [5]],
    ["emails", ["a@b.test"]],
    ["emails", [{ value: 5 }]],
    ["emails", [{ value: "a@b.test", primary: "sometimes" }]],
    ["emails", [{ value: { nested: true } }]],
    ["phoneNumbers", [{ value: 5551234 }]],
    ["addresses", [{ postalCode: 12345, type: ["work"] }]],
    ["addresses", "1 Main St"],
    ["locale", 1],
    ["timezone", ["Europe/Paris"]],
    ["userType", {}],
    ["externalId", 12345],
    ["externalId", { id: "x" }],
    ["roles", "admin"],
    ["roles", [{ value: 1, primary: "yes" }]],
    ["x509Certificates", [{ value: "not base64 !!!" }]],
    ["x509Certificates", [{ value: 3 }]],
    ["photos", [{ value: ["http://x"] }]],
    ["ims", [{ value: false }]],
    ["entitlements", [{ value: [] }]],
    [ENTERPRISE, "not an object"],
    [ENTERPRISE, ["a"]],
    [ENTERPRISE, { employeeNumber: 42 }],
    [ENTERPRISE, { manager: { value: 42 } }],
    [ENTERPRISE, { manager: ["a", "b"] }],
    [ENTERPRISE, { department: { a: 1 } }],
    [`${ENTERPRISE}:employeeNumber`, 99],
    [`${USER}:userName`, 99],
  ];
  for (const [attr, value] of wrongUser) {
    const body = validUser(uniq());
    if (attr === "userName") delete body.userName;
    body[attr] = value;
    add("wrong types", {
      name: `POST /Users ${attr}=${json(value).slice(0, 40)}`,
      method: "POST",
      path: "/Users",
      body: json(body),
    });
  }
  for (const [attr, value] of wrongUser.filter((_, i) => i % 2 === 0)) {
    const body = validUser("put-" + uniq(), { userName: f.userName, externalId: f.externalId });
    body[attr] = value;
    add("wrong types", {
      name: `PUT /Users/{id} ${attr}=${json(value).slice(0, 40)}`,
      method: "PUT",
      path: U,
      body: json(body),
    });
  }
  const wrongPatch: [string, unknown][] = [
    ["userName", 123],
    ["userName", ""],
    ["active", "maybe"],
    ["active", 3],
    ["name.givenName", []],
    ["name.givenName", { a: 1 }],
    ["name", "flat"],
    ['emails[type eq "work"].value', { a: 1 }],
    ['emails[type eq "work"].primary', "often"],
    ["emails", 7],
    ["externalId", 5],
    [`${ENTERPRISE}:employeeNumber`, { a: 1 }],
    [`${ENTERPRISE}:manager`, 42],
    ["displayName", ["a", "b"]],
  ];
  for (const [path, value] of wrongPatch) {
    add("wrong types", {
      name: `PATCH /Users/{id} replace ${path}=${json(value).slice(0, 30)}`,
      method: "PATCH",
      path: U,
      body: patch([{ op: "replace", path, value }]),
    });
  }
  const badOps: unknown[] = [
    { op: "replace", path: "displayName" },
    { op: "add", path: "displayName" },
    { op: "remove" },
    { op: "remove", path: "" },
    { op: "delete", path: "displayName" },
    { op: 5, path: "displayName", value: "x" },
    { op: null, value: { displayName: "x" } },
    { path: "displayName", value: "x" },
    { op: "replace", path: 5, value: "x" },
    { op: "replace", path: ["displayName"], value: "x" },
    { op: "replace", path: "display Name", value: "x" },
    { op: "replace", path: "emails[type eq]", value: "x" },
    { op: "replace", path: 'emails[type eq "work"', value: "x" },
    { op: "replace", path: 'emails[type eq "work"]]', value: "x" },
    { op: "replace", path: 'emails[emails[type eq "a"]]', value: "x" },
    { op: "replace", path: "name..givenName", value: "x" },
    { op: "replace", path: "urn:bad", value: "x" },
    { op: "replace", path: ".", value: "x" },
    { op: "replace", path: "name.givenName.extra", value: "x" },
    { op: "replace", value: "not an object" },
    { op: "replace", value: ["not", "an", "object"] },
    { op: "replace", value: 5 },
    "not an operation",
    42,
    null,
    [],
  ];
  badOps.forEach((op, i) => {
    add("wrong types", {
      name: `PATCH /Users/{id} bad operation #${i}: ${json(op).slice(0, 50)}`,
      method: "PATCH",
      path: U,
      body: patch([op]),
    });
  });
  const badEnvelopes: unknown[] = [
    { Operations: [{ op: "replace", path: "displayName", value: "x" }] },
    { schemas: [USER], Operations: [{ op: "replace", path: "displayName", value: "x" }] },
    { schemas: PATCH, Operations: [] },
    { schemas: [PATCH] },
    { schemas: [PATCH], Operations: { op: "replace" } },
    { schemas: [PATCH], Operations: "replace" },
    { schemas: [PATCH], Operations: null },
    { schemas: [5], Operations: [] },
  ];
  badEnvelopes.forEach((body, i) => {
    add("wrong types", {
      name: `PATCH /Users/{id} bad envelope #${i}`,
      method: "PATCH",
      path: U,
      body: json(body),
    });
    add("wrong types", {
      name: `PATCH /Groups/{id} bad envelope #${i}`,
      method: "PATCH",
      path: G,
      body: json(body),
    });
  });
  const wrongGroup: unknown[] = [
    { displayName: 5 },
    { displayName: "" },
    { displayName: ["a"] },
    { displayName: { value: "a" } },
    { members: [] },
    { displayName: "g-members-string " + uniq(), members: "everyone" },
    { displayName: "g-members-num " + uniq(), members: [5] },
    { displayName: "g-members-empty " + uniq(), members: [{}] },
    { displayName: "g-members-value-num " + uniq(), members: [{ value: 5 }] },
    { displayName: "g-members-unknown " + uniq(), members: [{ value: "no-such-user" }] },
    { displayName: "g-members-null " + uniq(), members: [{ value: null }] },
    { displayName: "g-members-blank " + uniq(), members: [{ value: "" }] },
    { displayName: "g-externalId " + uniq(), externalId: 5 },
  ];
  wrongGroup.forEach((body, i) => {
    add("wrong types", {
      name: `POST /Groups wrong type #${i}: ${json(body).slice(0, 50)}`,
      method: "POST",
      path: "/Groups",
      body: json(body),
    });
  });
  const wrongMemberOps: unknown[] = [
    { op: "add", path: "members", value: "u1" },
    { op: "add", path: "members", value: [{ value: 5 }] },
    { op: "add", path: "members", value: [{ value: "no-such-user" }] },
    { op: "add", path: "members", value: [{ display: "no value" }] },
    { op: "add", path: 'members[value eq "x"]', value: [{ value: f.userId }] },
    { op: "replace", path: "members.value", value: "x" },
    { op: "remove", path: "members[value eq" },
    { op: "remove", path: 'members[value eq "x"].display.extra' },
    { op: "replace", path: "displayName", value: 5 },
    { op: "replace", path: "displayName", value: "" },
    { op: "replace", value: { displayName: ["x"] } },
    { op: "add", value: { members: "all" } },
  ];
  wrongMemberOps.forEach((op, i) => {
    add("wrong types", {
      name: `PATCH /Groups/{id} bad member op #${i}: ${json(op).slice(0, 50)}`,
      method: "PATCH",
      path: G,
      body: patch([op]),
    });
  });
  const badSearch: unknown[] = [
    { schemas: [SEARCH], filter: 5 },
    { schemas: [SEARCH], filter: ["userName pr"] },
    { schemas: [SEARCH], startIndex: "one" },
    { schemas: [SEARCH], count: { n: 1 } },
    { schemas: [SEARCH], count: 1.5 },
    { schemas: [SEARCH], sortOrder: "sideways" },
    { schemas: [SEARCH], sortBy: 5 },
    { schemas: [SEARCH], attributes: 5 },
    { schemas: [USER], filter: "userName pr" },
    { schemas: SEARCH, filter: "userName pr" },
    { schemas: [SEARCH], filter: "userName eq" },
    { schemas: [SEARCH], cursor: 5 },
  ];
  badSearch.forEach((body, i) => {
    add("wrong types", {
      name: `POST /.search bad #${i}: ${json(body).slice(0, 50)}`,
      method: "POST",
      path: "/.search",
      body: json(body),
    });
    if (i % 2 === 0) {
      add("wrong types", {
        name: `POST /Groups/.search bad #${i}`,
        method: "POST",
        path: "/Groups/.search",
        body: json(body),
      });
    }
  });

  // -- Strings beyond KV limits (a key holds 2 KiB; a value 64 KiB) -----------------------------
  for (const len of [2100, 4000, 5000, 70_000]) {
    const long = "x".repeat(len);
    add("KV limits", {
      name: `POST /Users userName of ${len} characters`,
      method: "POST",
      path: "/Users",
      body: json(validUser(uniq(), { userName: `${long}@example.test` })),
    });
    add("KV limits", {
      name: `POST /Users externalId of ${len} characters`,
      method: "POST",
      path: "/Users",
      body: json(validUser(uniq(), { externalId: long })),
    });
    add("KV limits", {
      name: `POST /Users email of ${len} characters`,
      method: "POST",
      path: "/Users",
      body: json(validUser(uniq(), { emails: [{ value: `${long}@example.test`, type: "work" }] })),
    });
    add("KV limits", {
      name: `POST /Groups displayName of ${len} characters`,
      method: "POST",
      path: "/Groups",
      body: json({ displayName: long + uniq(), members: [] }),
    });
    add("KV limits", {
      name: `POST /Groups externalId of ${len} characters`,
      method: "POST",
      path: "/Groups",
      body: json({ displayName: "long ext " + uniq(), externalId: long }),
    });
    add("KV limits", {
      name: `PATCH /Users/{id} userName of ${len} characters`,
      method: "PATCH",
      path: U,
      body: patch([{ op: "replace", path: "userName", value: long }]),
    });
    add("KV limits", {
      name: `PATCH /Users/{id} externalId of ${len} characters`,
      method: "PATCH",
      path: U,
      body: patch([{ op: "replace", path: "externalId", value: long }]),
    });
    add("KV limits", {
      name: `PATCH /Groups/{id} displayName of ${len} characters`,
      method: "PATCH",
      path: G,
      body: patch([{ op: "replace", path: "displayName", value: long }]),
    });
    add("KV limits", {
      name: `PATCH /Groups/{id} add member id of ${len} characters`,
      method: "PATCH",
      path: G,
      body: patch([{ op: "add", path: "members", value: [{ value: long }] }]),
    });
    add("KV limits", {
      name: `PUT /Users/{id} userName of ${len} characters`,
      method: "PUT",
      path: U,
      body: json(validUser(uniq(), { userName: long, externalId: f.externalId })),
    });
    for (const path of [`/Users/${long}`, `/Groups/${long}`]) {
      add("KV limits", { name: `GET ${path.slice(0, 8)}<${len}>`, method: "GET", path });
      add("KV limits", { name: `DELETE ${path.slice(0, 8)}<${len}>`, method: "DELETE", path });
      add("KV limits", {
        name: `PATCH ${path.slice(0, 8)}<${len}>`,
        method: "PATCH",
        path,
        body: patch([{ op: "replace", path: "displayName", value: "x" }]),
      });
    }
    add("KV limits", {
      name: `PUT /Users/<${len}>`,
      method: "PUT",
      path: `/Users/${long}`,
      body: json(validUser(uniq())),
    });
    add("KV limits", {
      name: `PUT /Groups/<${len}>`,
      method: "PUT",
      path: `/Groups/${long}`,
      body: json({ displayName: "x" }),
    });
    // A lookup of a long value: "no such user" (200, empty) or a 400 are both right; a 500 is not.
    const filterLen = Math.min(len, 9000);
    for (const attr of ["userName", "externalId", "emails.value", "id"]) {
      add("KV limits", {
        name: `GET /Users?filter=${attr} eq <${filterLen}>`,
        method: "GET",
        path: `/Users?filter=${q(`${attr} eq "${"y".repeat(filterLen)}"`)}`,
        allow: [200],
      });
    }
    for (const attr of ["displayName", "externalId", "id"]) {
      add("KV limits", {
        name: `GET /Groups?filter=${attr} eq <${filterLen}>`,
        method: "GET",
        path: `/Groups?filter=${q(`${attr} eq "${"y".repeat(filterLen)}"`)}`,
        allow: [200],
      });
    }
    add("KV limits", {
      name: `PATCH /Groups/{id} remove member filter value <${filterLen}>`,
      method: "PATCH",
      path: G,
      body: patch([{ op: "remove", path: `members[value eq "${"z".repeat(filterLen)}"]` }]),
      allow: [200, 204],
    });
  }
  add("KV limits", {
    name: "POST /Users whose stored form exceeds 64 KiB",
    method: "POST",
    path: "/Users",
    body: json(
      validUser(uniq(), {
        addresses: Array.from(
          { length: 40 },
          () => ({ streetAddress: "s".repeat(2000), type: "work" }),
        ),
      }),
    ),
  });

  // -- 10,000-element arrays -------------------------------------------------------------------
  const tenK = <T>(f: (i: number) => T) => Array.from({ length: 10_000 }, (_, i) => f(i));
  add("huge arrays", {
    name: "POST /Users with 10,000 emails",
    method: "POST",
    path: "/Users",
    body: json(validUser(uniq(), { emails: tenK((i) => ({ value: `e${i}@x.test` })) })),
  });
  add("huge arrays", {
    name: "POST /Users with 10,000 roles",
    method: "POST",
    path: "/Users",
    body: json(validUser(uniq(), { roles: tenK((i) => ({ value: `r${i}` })) })),
  });
  add("huge arrays", {
    name: "POST /Users with 10,000 phoneNumbers",
    method: "POST",
    path: "/Users",
    body: json(validUser(uniq(), { phoneNumbers: tenK((i) => ({ value: `+1${i}` })) })),
  });
  add("huge arrays", {
    name: "POST /Groups with 10,001 members",
    method: "POST",
    path: "/Groups",
    body: json({
      displayName: "huge " + uniq(),
      members: [...tenK((i) => ({ value: `m${i}` })), { value: "last" }],
    }),
  });
  add("huge arrays", {
    name: "POST /Groups with 10,000 unknown members",
    method: "POST",
    path: "/Groups",
    body: json({
      displayName: "unknown10k " + uniq(),
      members: tenK((i) => ({ value: `nobody-${i}` })),
    }),
  });
  add("huge arrays", {
    name: "PATCH /Groups/{id} add 10,000 unknown members",
    method: "PATCH",
    path: G,
    body: patch([{ op: "add", path: "members", value: tenK((i) => ({ value: `ghost-${i}` })) }]),
  });
  add("huge arrays", {
    name: "PATCH /Groups/{id} 10,000 operations",
    method: "PATCH",
    path: G,
    body: patch(tenK(() => ({ op: "replace", path: "displayName", value: "x" }))),
  });
  add("huge arrays", {
    name: "PATCH /Users/{id} 10,000 operations",
    method: "PATCH",
    path: U,
    body: patch(tenK((i) => ({ op: "replace", path: "displayName", value: `v${i}` }))),
  });
  add("huge arrays", {
    name: "PATCH /Users/{id} replace emails with 10,000",
    method: "PATCH",
    path: U,
    body: patch([{
      op: "replace",
      path: "emails",
      value: tenK((i) => ({ value: `p${i}@x.test` })),
    }]),
  });
  add("huge arrays", {
    name: "POST /Users schemas array of 10,000 junk URNs and no userName",
    method: "POST",
    path: "/Users",
    body: json({ schemas: tenK((i) => `urn:junk:${i}`) }),
  });
  add("huge arrays", {
    name: "POST /.search with 10,000 attributes",
    method: "POST",
    path: "/.search",
    body: json({ schemas: [SEARCH], attributes: tenK((i) => `a${i}`), filter: "bad filter (" }),
  });
  add("huge arrays", {
    name: "POST /Users top-level JSON array of 10,000 users",
    method: "POST",
    path: "/Users",
    body: json(tenK((i) => validUser(`arr${i}`))),
  });

  // -- Deep nesting ------------------------------------------------------------------------------
  const nest = (depth: number, leaf: unknown = "x") => {
    let v: unknown = leaf;
    for (let i = 0; i < depth; i++) v = { a: v };
    return v;
  };
  const nestArr = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  for (const depth of [20, 1000, 100_000]) {
    add("deep nesting", {
      name: `POST /Users custom attribute nested ${depth} deep`,
      method: "POST",
      path: "/Users",
      body: depth > 5000
        ? `{"userName":"deep${depth}@x.test","custom":${'{"a":'.repeat(depth)}1${
          "}".repeat(depth)
        }}`
        : json(validUser(uniq(), { custom: nest(depth) })),
    });
    add("deep nesting", {
      name: `POST /Users arrays nested ${depth} deep`,
      method: "POST",
      path: "/Users",
      body: `{"userName":"arr${depth}@x.test","custom":${nestArr(depth)}}`,
    });
    add("deep nesting", {
      name: `PATCH /Users/{id} value nested ${depth} deep`,
      method: "PATCH",
      path: U,
      body: depth > 5000
        ? `{"schemas":["${PATCH}"],"Operations":[{"op":"add","path":"nickName","value":${
          '{"a":'.repeat(depth)
        }1${"}".repeat(depth)}}]}`
        : patch([{ op: "add", path: "nickName", value: nest(depth) }]),
    });
    add("deep nesting", {
      name: `POST /Groups extension nested ${depth} deep`,
      method: "POST",
      path: "/Groups",
      body: depth > 5000
        ? `{"displayName":"deep ${depth}","urn:x:ext":${'{"a":'.repeat(depth)}1${
          "}".repeat(depth)
        }}`
        : json({ displayName: "deep " + uniq(), "urn:x:ext": nest(depth) }),
    });
  }
  add("deep nesting", {
    name: `POST /Users enterprise extension nested 12 deep`,
    method: "POST",
    path: "/Users",
    body: json(validUser(uniq(), { [ENTERPRISE]: { department: nest(12) } })),
  });

  // -- Bodies over the limit (1 MiB by default) ---------------------------------------------------
  const big = (size: number) => json(validUser(uniq(), { nickName: "n".repeat(size) }));
  add("body limit", {
    name: "POST /Users 1 MiB + 1 KiB body",
    method: "POST",
    path: "/Users",
    body: big(1_049_600),
  });
  add("body limit", {
    name: "POST /Users 8 MiB body",
    method: "POST",
    path: "/Users",
    body: big(8 * 1_048_576),
  });
  add("body limit", {
    name: "PATCH /Groups/{id} 2 MiB body",
    method: "PATCH",
    path: G,
    body: patch([{
      op: "add",
      path: "members",
      value: [{ value: f.userId, display: "d".repeat(2 * 1_048_576) }],
    }]),
  });
  add("body limit", {
    name: "PUT /Users/{id} 3 MiB body",
    method: "PUT",
    path: U,
    body: big(3 * 1_048_576),
  });
  add("body limit", {
    name: "POST /.search 2 MiB body",
    method: "POST",
    path: "/.search",
    body: json({ schemas: [SEARCH], filter: "userName pr", pad: "p".repeat(2 * 1_048_576) }),
  });
  add("body limit", {
    name: "POST /Users 3 MiB streamed body without Content-Length",
    method: "POST",
    path: "/Users",
    body: () =>
      new ReadableStream({
        start(c) {
          c.enqueue(enc.encode('{"userName":"stream@x.test","nickName":"'));
          for (let i = 0; i < 48; i++) c.enqueue(new Uint8Array(65536).fill(0x61));
          c.enqueue(enc.encode('"}'));
          c.close();
        },
      }),
  });
  add("body limit", {
    name: "POST /Users Content-Length lies (says 10, sends 2 MiB)",
    method: "POST",
    path: "/Users",
    headers: { "content-length": "10" },
    body: big(2 * 1_048_576),
  });

  // -- Invalid UTF-8, NUL and control characters -------------------------------------------------
  const utf8: [string, Uint8Array<ArrayBuffer>][] = [
    ["lone continuation byte", bytes('{"userName":"a', [0x80], '@x.test"}')],
    ["0xFF byte", bytes('{"userName":"a', [0xff], '@x.test"}')],
    ["overlong slash", bytes('{"userName":"a', [0xc0, 0xaf], '@x.test"}')],
    ["UTF-16 surrogate encoded in UTF-8", bytes('{"userName":"a', [0xed, 0xa0, 0x80], '@x.test"}')],
    ["truncated 3-byte sequence at the end", bytes('{"userName":"a@x.test"}', [0xe2, 0x82])],
    ["truncated sequence inside a string", bytes('{"userName":"a', [0xe2, 0x82], '@x.test"}')],
    ["Latin-1 body", bytes('{"userName":"jos', [0xe9], '@x.test"}')],
    [
      "UTF-16LE body",
      new Uint8Array([...enc.encode('{"userName":"u16@x.test"}')].flatMap((b) => [b, 0])),
    ],
    ["raw NUL outside strings", bytes('{"userName":"nul@x.test"', [0], "}")],
    ["raw NUL inside a string", bytes('{"userName":"nul', [0], '@x.test"}')],
    ["raw newline inside a string", bytes('{"userName":"new\nline@x.test"}')],
    ["raw tab inside a string", bytes('{"userName":"ta\tb@x.test"}')],
  ];
  for (const [what, body] of utf8) {
    add("encoding", { name: `POST /Users ${what}`, method: "POST", path: "/Users", body });
    add("encoding", {
      name: `PATCH /Users/{id} ${what}`,
      method: "PATCH",
      path: U,
      body: bytes(
        `{"schemas":["${PATCH}"],"Operations":[{"op":"replace","path":"displayName","value":`,
        body,
        "}]}",
      ),
    });
  }
  const controls: [string, string][] = [
    ["NUL", "\u0000"],
    ["SOH", "\u0001"],
    ["ESC (terminal escape)", "\u001b[31m"],
    ["newline", "\n"],
    ["carriage return", "\r"],
    ["DEL", "\u007f"],
    ["C1 NEL", "\u0085"],
    ["lone high surrogate", "\ud800"],
    ["lone low surrogate", "\udc00"],
    ["noncharacter U+FFFF", "\uffff"],
  ];
  for (const [what, ch] of controls) {
    add("encoding", {
      name: `POST /Users userName with ${what}`,
      method: "POST",
      path: "/Users",
      body: json(validUser(uniq(), { userName: `ctl${ch}${n}@example.test` })),
    });
    add("encoding", {
      name: `POST /Users externalId with ${what}`,
      method: "POST",
      path: "/Users",
      body: json(validUser(uniq(), { externalId: `ext${ch}${n}` })),
    });
    add("encoding", {
      name: `POST /Groups displayName with ${what}`,
      method: "POST",
      path: "/Groups",
      body: json({ displayName: `Group${ch}${n}` }),
    });
  }
  add("encoding", { name: "GET /Users/%00", method: "GET", path: "/Users/%00" });
  add("encoding", { name: "GET /Users/<id>%00", method: "GET", path: `/Users/${f.userId}%00` });
  add("encoding", {
    name: "DELETE /Users/<id>%00",
    method: "DELETE",
    path: `/Users/${f.userId}%00`,
  });
  add("encoding", {
    name: "GET /Users?filter with NUL",
    method: "GET",
    path: `/Users?filter=${q('userName eq "\u0000"')}`,
    allow: [200],
  });
  add("encoding", {
    name: "GET /Users?filter with lone surrogate escape",
    method: "GET",
    path: `/Users?filter=${q('userName eq "\\ud800"')}`,
    allow: [200],
  });
  add("encoding", {
    name: "GET /Users?filter with invalid percent-encoded UTF-8",
    method: "GET",
    path: "/Users?filter=userName%20eq%20%22%FF%FE%22",
    allow: [200],
  });
  add("encoding", {
    name: "GET /Users?filter with broken percent-encoding",
    method: "GET",
    path: "/Users?filter=userName%20eq%20%22%E0%A4%A%22",
  });

  // -- __proto__, constructor, prototype -----------------------------------------------------------
  const protoBodies: [string, string][] = [
    ["top-level __proto__", `{"userName":"p1@x.test","__proto__":{"polluted":"yes"}}`],
    [
      "top-level constructor.prototype",
      `{"userName":"p2@x.test","constructor":{"prototype":{"polluted":"yes"}}}`,
    ],
    ["top-level prototype", `{"userName":"p3@x.test","prototype":{"polluted":"yes"}}`],
    ["name.__proto__", `{"userName":"p4@x.test","name":{"__proto__":{"polluted":"yes"}}}`],
    [
      "emails[0].__proto__",
      `{"userName":"p5@x.test","emails":[{"value":"p5@x.test","__proto__":{"polluted":"yes"}}]}`,
    ],
    [
      "enterprise __proto__",
      `{"userName":"p6@x.test","${ENTERPRISE}":{"__proto__":{"polluted":"yes"}}}`,
    ],
    [
      "unknown extension __proto__",
      `{"userName":"p7@x.test","urn:x:ext":{"__proto__":{"polluted":"yes"}}}`,
    ],
    ["dotted key __proto__.polluted", `{"userName":"p8@x.test","__proto__.polluted":"yes"}`],
    ["dotted key name.__proto__", `{"userName":"p9@x.test","name.__proto__":"yes"}`],
    ["URN-qualified __proto__", `{"userName":"p10@x.test","${USER}:__proto__":{"polluted":"yes"}}`],
    ["URN-qualified constructor", `{"userName":"p11@x.test","${ENTERPRISE}:constructor":"yes"}`],
    [
      "custom deep __proto__",
      `{"userName":"p12@x.test","custom":{"a":{"__proto__":{"polluted":"yes"}}}}`,
    ],
  ];
  for (const [what, body] of protoBodies) {
    add("prototype", { name: `POST /Users ${what}`, method: "POST", path: "/Users", body });
    add("prototype", {
      name: `PUT /Users/{id} ${what}`,
      method: "PUT",
      path: U,
      body: body.replace(/"userName":"[^"]*"/, `"userName":"${f.userName}"`),
    });
  }
  const protoPaths = [
    "__proto__",
    "__proto__.polluted",
    "constructor",
    "constructor.prototype",
    "prototype",
    "name.__proto__",
    "name.constructor",
    '__proto__[value eq "x"]',
    'emails[__proto__ eq "x"].value',
    'emails[type eq "work"].__proto__',
    `${USER}:__proto__`,
    `${ENTERPRISE}:__proto__`,
    `${ENTERPRISE}:manager.__proto__`,
  ];
  for (const path of protoPaths) {
    for (const op of ["add", "replace", "remove"]) {
      add("prototype", {
        name: `PATCH /Users/{id} ${op} ${path}`,
        method: "PATCH",
        path: U,
        body: patch([{ op, path, value: { polluted: "yes" } }]),
      });
    }
    add("prototype", {
      name: `PATCH /Groups/{id} add ${path}`,
      method: "PATCH",
      path: G,
      body: patch([{ op: "add", path, value: { polluted: "yes" } }]),
    });
  }
  for (const key of ["__proto__", "constructor", "prototype"]) {
    add("prototype", {
      name: `PATCH /Users/{id} pathless value with ${key}`,
      method: "PATCH",
      path: U,
      body:
        `{"schemas":["${PATCH}"],"Operations":[{"op":"add","value":{"${key}":{"polluted":"yes"}}}]}`,
    });
    add("prototype", {
      name: `PATCH /Groups/{id} pathless value with ${key}`,
      method: "PATCH",
      path: G,
      body:
        `{"schemas":["${PATCH}"],"Operations":[{"op":"replace","value":{"${key}":{"members":[{"value":"${f.userId}"}]}}}]}`,
    });
    add("prototype", {
      name: `PATCH /Users/{id} nested pathless value with ${key}`,
      method: "PATCH",
      path: U,
      body:
        `{"schemas":["${PATCH}"],"Operations":[{"op":"add","value":{"name":{"${key}":{"polluted":"yes"}}}}]}`,
    });
    add("prototype", {
      name: `PATCH envelope key ${key}`,
      method: "PATCH",
      path: U,
      body: `{"${key}":{"schemas":["${PATCH}"],"Operations":[]}}`,
    });
    add("prototype", {
      name: `POST /Groups member value ${key}`,
      method: "POST",
      path: "/Groups",
      body: json({ displayName: `proto ${key}`, members: [{ value: key }] }),
    });
    add("prototype", { name: `GET /Users/${key}`, method: "GET", path: `/Users/${key}` });
    add("prototype", { name: `DELETE /Groups/${key}`, method: "DELETE", path: `/Groups/${key}` });
    add("prototype", {
      name: `GET /Users?filter=${key} pr`,
      method: "GET",
      path: `/Users?filter=${q(`${key} pr`)}`,
      allow: [200],
    });
    add("prototype", {
      name: `GET /Users?sortBy=${key}`,
      method: "GET",
      path: `/Users?sortBy=${key}`,
      allow: [200],
    });
    add("prototype", {
      name: `GET /Users?attributes=${key}`,
      method: "GET",
      path: `/Users?attributes=${key}`,
      allow: [200],
    });
    add("prototype", {
      name: `POST /.search with ${key} key`,
      method: "POST",
      path: "/.search",
      body: `{"schemas":["${SEARCH}"],"${key}":{"filter":"userName pr"},"filter":"bad ("}`,
    });
  }

  // -- Filter bombs -------------------------------------------------------------------------------
  const deep = (d: number) => "(".repeat(d) + 'userName eq "x"' + ")".repeat(d);
  const nots = (d: number) => "not (".repeat(d) + 'userName eq "x"' + ")".repeat(d);
  const ors = (k: number, term = (i: number) => `userName eq "u${i}"`) =>
    Array.from({ length: k }, (_, i) => term(i)).join(" or ");
  const bombs: [string, string][] = [
    ["51 nested parentheses", deep(51)],
    ["1,000 nested parentheses", deep(1000)],
    ["4,000 nested parentheses", deep(4000)],
    ["60 nested not()", nots(60)],
    ["2,000 nested not()", nots(2000)],
    ["1,000 or terms (too many nodes)", ors(1000, (i) => `a eq ${i}`)],
    ["5,000 or terms (too long)", ors(5000)],
    ["20,000 or terms", ors(20_000, () => "a pr")],
    ["1,001 and terms", Array.from({ length: 1001 }, () => "a pr").join(" and ")],
    ["unbalanced (", "(".repeat(30) + 'userName eq "x"'],
    ["unbalanced )", 'userName eq "x"' + ")".repeat(30)],
    ["nested value path", 'emails[type eq "work" and emails[value pr]]'],
    ["value path 60 brackets", "emails[".repeat(60) + "value pr" + "]".repeat(60)],
    ["number out of range", "meta.version gt 1e999"],
    ["huge exponent", "x eq 1e99999999999999"],
    ["unterminated string", 'userName eq "abc'],
    ["bad escape in string", 'userName eq "\\q"'],
    ["operator only", "eq"],
    ["missing value", "userName eq"],
    ["unknown operator", 'userName like "a%"'],
    ["pr with value", 'userName pr "x"'],
    ["and at start", 'and userName eq "x"'],
    ["empty parentheses", "()"],
    ["10,001 characters", 'userName eq "' + "a".repeat(9988) + '"'],
    ["only whitespace and parentheses", "( ( ( ) ) )"],
    ["attribute with bad URN", 'urn::userName eq "x"'],
    ["sub-attribute chain", 'name.givenName.first eq "x"'],
  ];
  for (const [what, filter] of bombs) {
    add("filter bombs", {
      name: `GET /Users?filter= ${what}`,
      method: "GET",
      path: `/Users?filter=${q(filter)}`,
    });
    add("filter bombs", {
      name: `POST /.search filter ${what}`,
      method: "POST",
      path: "/.search",
      body: json({ schemas: [SEARCH], filter }),
    });
    add("filter bombs", {
      name: `PATCH /Groups/{id} remove members[${what}]`,
      method: "PATCH",
      path: G,
      body: patch([{ op: "remove", path: `members[${filter}]` }]),
    });
  }
  // Legitimate but heavy filters: a 2xx is right; the point is that nothing breaks.
  add("filter bombs", {
    name: "GET /Users?filter= 400 indexed or terms",
    method: "GET",
    path: `/Users?filter=${q(ors(400, (i) => `userName eq "${i}"`))}`,
    allow: [200],
  });
  add("filter bombs", {
    name: "GET /Users?filter= 50 nested parentheses",
    method: "GET",
    path: `/Users?filter=${q(deep(50))}`,
    allow: [200],
  });
  add("filter bombs", {
    name: "GET /Groups?filter= 300 member value terms",
    method: "GET",
    path: `/Groups?filter=${q(ors(300, (i) => `members.value eq "${i}"`))}`,
    allow: [200],
  });

  // -- Path injection in ids ------------------------------------------------------------------------
  const ids = [
    "..%2FGroups",
    "%2e%2e%2fGroups",
    "..%2F..%2F..%2Fhealthz",
    "%2E%2E%5C%2E%2E%5C",
    "..;%2FGroups",
    `${f.userId}%2F..%2F${f.groupId}`,
    `${f.userId}%2Fgroups`,
    `${f.groupId}%3Fattributes%3Dmembers`,
    `${f.userId}%23fragment`,
    "%252e%252e%252f",
    "%u002e%u002e",
    "*",
    "%2A",
    "'%20OR%201%3D1--",
    "%7B%22%24ne%22%3Anull%7D",
    "%5B%5D",
    encodeURIComponent(f.userName),
    encodeURIComponent(f.externalId),
    `${f.userId.toUpperCase()}`,
    ` ${f.userId}`.replace(" ", "%20"),
    `${f.userId}%20`,
    "a".repeat(100_000),
  ];
  for (const id of ids) {
    const label = id.length > 40 ? `<${id.length} chars>` : id;
    add("path injection", { name: `GET /Users/${label}`, method: "GET", path: `/Users/${id}` });
    add("path injection", {
      name: `PATCH /Users/${label}`,
      method: "PATCH",
      path: `/Users/${id}`,
      body: patch([{ op: "replace", path: "active", value: false }]),
    });
    add("path injection", {
      name: `DELETE /Groups/${label}`,
      method: "DELETE",
      path: `/Groups/${id}`,
    });
  }
  const idpPaths = [
    `//scim/v2/inbound/..%2F${f.idpId}/Users`,
    `//scim/v2/inbound/${f.idpId}%2FUsers`,
    `//scim/v2/inbound/%00/Users`,
    `//scim/v2/inbound/${"i".repeat(5000)}/Users`,
    `//scim/v2/inbound/${f.idpId}..%2F..%2Fother/Users`,
    `//scim/v2/inbound//Users`,
    `//scim/v2/inbound/${encodeURIComponent("__proto__")}/Users`,
    `//scim/v2/Users`,
    `//scim/v2/inbound/${f.idpId}/Users/${f.userId}/extra/segments`,
    `//scim/v2/inbound/${f.idpId}/Bulk`,
    `//scim/v2/inbound/${f.idpId}/Me`,
  ];
  for (const path of idpPaths) {
    add("path injection", { name: `GET ${path.slice(1, 90)}`, method: "GET", path });
  }
  for (
    const host of [
      "evil.localhost",
      "acme.localhost.evil.test",
      `${"a".repeat(300)}.localhost`,
      "localhost",
      "127.0.0.1",
      "[::1]",
      "acme..localhost",
    ]
  ) {
    add("path injection", {
      name: `GET /Users with Host ${host.slice(0, 40)}`,
      method: "GET",
      path: "/Users",
      host,
    });
  }

  // -- Unicode look-alike userNames (an existing user is f.userName / f.accentedUserName) ----------
  const [local, domain] = f.userName.split("@");
  const fullwidth = [...local].map((c) =>
    /[a-z0-9]/i.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c
  ).join("");
  const cyr: Record<string, string> = {
    a: "\u0430",
    e: "\u0435",
    o: "\u043e",
    p: "\u0440",
    c: "\u0441",
    x: "\u0445",
    i: "\u0456",
  };
  const swapFirst = (s: string, table: Record<string, string>) => {
    const i = [...s].findIndex((c) => c in table);
    return i < 0 ? s : s.slice(0, i) + table[s[i]] + s.slice(i + 1);
  };
  const lookalikes: [string, string][] = [
    ["fullwidth letters (NFKC-equal)", `${fullwidth}@${domain}`],
    ["decomposed accent (NFC-equal)", f.accentedUserName.normalize("NFD")],
    ["zero-width space inside", `${local.slice(0, 2)}\u200b${local.slice(2)}@${domain}`],
    ["zero-width joiner inside", `${local.slice(0, 2)}\u200d${local.slice(2)}@${domain}`],
    ["zero-width non-joiner inside", `${local.slice(0, 2)}\u200c${local.slice(2)}@${domain}`],
    ["BOM prefix", `\ufeff${f.userName}`],
    ["soft hyphen inside", `${local.slice(0, 2)}\u00ad${local.slice(2)}@${domain}`],
    ["right-to-left override", `\u202e${f.userName}`],
    ["left-to-right isolate", `\u2066${f.userName}\u2069`],
    ["word joiner", `${f.userName}\u2060`],
    ["Cyrillic letter among Latin (mixed script)", `${swapFirst(local, cyr)}@${domain}`],
    ["Greek iota among Latin (mixed script)", `${local.replace("i", "\u03b9")}@${domain}`],
    ["Cyrillic ie among Latin (mixed script)", `${local.replace("e", "\u0435")}@${domain}`],
    [
      "mathematical bold letters (NFKC-equal)",
      `${
        [...local].map((c) =>
          /[a-z]/.test(c) ? String.fromCodePoint(0x1d41a + c.charCodeAt(0) - 97) : c
        ).join("")
      }@${domain}`,
    ],
    ["trailing space", `${f.userName} `],
    ["leading space", ` ${f.userName}`],
    ["non-breaking space inside", `${local.slice(0, 2)}\u00a0${local.slice(2)}@${domain}`],
    ["combining mark on the first letter", `${local[0]}\u0301${local.slice(1)}@${domain}`],
    ["Kelvin sign for k", `\u212a${f.otherUserName.slice(1)}`],
  ];
  for (const [what, userName] of lookalikes) {
    add("look-alikes", {
      name: `POST /Users look-alike of an existing userName: ${what}`,
      method: "POST",
      path: "/Users",
      body: json(validUser(uniq(), { userName })),
    });
  }
  add("look-alikes", {
    name: "PATCH /Users/{id} rename to a fullwidth look-alike of another user",
    method: "PATCH",
    path: U,
    body: patch([{
      op: "replace",
      path: "userName",
      value: [...f.otherUserName].map((c) =>
        /[a-z0-9]/i.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c
      ).join(""),
    }]),
  });
  add("look-alikes", {
    name: "POST /Groups displayName look-alike (fullwidth)",
    method: "POST",
    path: "/Groups",
    body: json({
      displayName: [...f.groupName].map((c) =>
        /[a-z0-9]/i.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c
      ).join(""),
    }),
  });
  add("look-alikes", {
    name: "POST /Groups displayName with zero-width space",
    method: "POST",
    path: "/Groups",
    body: json({ displayName: `${f.groupName.slice(0, 2)}\u200b${f.groupName.slice(2)}` }),
  });

  // -- Enormous and invalid query strings -------------------------------------------------------------
  const queries: [string, string, number[]?][] = [
    ["count=1e309", "count=1e309"],
    ["count=NaN", "count=NaN"],
    ["count=1.5", "count=1.5"],
    ["count=0x10", "count=0x10"],
    ["count=abc", "count=abc"],
    ["startIndex=-1e400", "startIndex=-1e400"],
    ["startIndex=1.0001", "startIndex=1.0001"],
    ["startIndex=Infinity", "startIndex=Infinity"],
    ["sortOrder=sideways", "sortOrder=sideways"],
    ["sortBy of 1,000 characters", `sortBy=${"s".repeat(1000)}`],
    ["sortBy invalid path", "sortBy=" + q("name..givenName")],
    ["cursor junk", "cursor=%%%not-base64%%%"],
    ["cursor base64 of junk", `cursor=${btoa("{not json")}`],
    ["cursor of 3,000 characters", `cursor=${"c".repeat(3000)}`],
    ["cursor base64 of a number", `cursor=${btoa("42")}`],
    ["filter of 100,000 characters", `filter=${"a".repeat(100_000)}`],
    ["filter of 1 MB", `filter=${q('userName eq "' + "b".repeat(1_000_000) + '"')}`],
    ["empty filter with garbage", "filter=%20%20)"],
    ["attributes of 100,000 characters", `attributes=${"x,".repeat(50_000)}`, [200]],
    ["excludedAttributes of 100,000 characters", `excludedAttributes=${"y,".repeat(50_000)}`, [
      200,
    ]],
    [
      "10,000 repeated parameters",
      Array.from({ length: 10_000 }, (_, i) => `p${i}=${i}`).join("&"),
      [200],
    ],
    ["count of 10,000 digits", `count=${"9".repeat(10_000)}`],
    ["startIndex of 10,000 digits", `startIndex=${"9".repeat(10_000)}`, [200]],
  ];
  for (const [what, query, allow] of queries) {
    add("query strings", {
      name: `GET /Users?${what}`,
      method: "GET",
      path: `/Users?${query}`,
      allow,
    });
    add("query strings", {
      name: `GET /Groups?${what}`,
      method: "GET",
      path: `/Groups?${query}`,
      allow,
    });
  }

  // -- Wrong content types -------------------------------------------------------------------------
  const types = [
    "text/plain",
    "application/xml",
    "text/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "text/html",
    "application/octet-stream",
    "application/javascript",
    "image/png",
    "/",
    "application/json-patch+json-but-not",
    "application",
  ];
  for (const type of types) {
    add("content types", {
      name: `POST /Users as ${type}`,
      method: "POST",
      path: "/Users",
      headers: { "content-type": type },
      body: json(validUser(uniq())),
    });
    add("content types", {
      name: `PATCH /Groups/{id} as ${type}`,
      method: "PATCH",
      path: G,
      headers: { "content-type": type },
      body: patch([{ op: "replace", path: "displayName", value: "ct" }]),
    });
  }
  add("content types", {
    name: "POST /Users form-encoded body",
    method: "POST",
    path: "/Users",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "userName=form%40x.test&active=true",
  });
  add("content types", {
    name: "PUT /Users/{id} XML body",
    method: "PUT",
    path: U,
    headers: { "content-type": "application/xml" },
    body: "<User><userName>x</userName></User>",
  });
  add("content types", {
    name: "POST /Users JSON Patch document as +json",
    method: "POST",
    path: "/Users",
    headers: { "content-type": "application/json-patch+json" },
    body: json([{ op: "add", path: "/userName", value: "x" }]),
  });

  // -- Hostile Authorization headers ---------------------------------------------------------------
  const auths: [string, string | null][] = [
    ["none", null],
    ["empty", ""],
    ["Bearer only", "Bearer"],
    ["Bearer and spaces", "Bearer    "],
    ["Basic", `Basic ${btoa("admin:admin")}`],
    ["Bearer of 100,000 characters", `Bearer weft_scim_${"A".repeat(100_000)}`],
    ["Bearer random token", `Bearer weft_scim_${"B".repeat(43)}`],
    ["Bearer Bearer", `Bearer Bearer weft_scim_${"C".repeat(43)}`],
    ["JWT-looking", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."],
    ["token with trailing junk", "Bearer weft_scim_x; admin=true"],
    ["Digest", 'Digest username="admin"'],
  ];
  for (const [what, auth] of auths) {
    add("authorization", {
      name: `GET /Users with ${what} Authorization`,
      method: "GET",
      path: "/Users",
      auth,
    });
    add("authorization", {
      name: `POST /Users with ${what} Authorization`,
      method: "POST",
      path: "/Users",
      auth,
      body: json(validUser(uniq())),
    });
    add("authorization", {
      name: `DELETE /Users/{id} with ${what} Authorization`,
      method: "DELETE",
      path: U,
      auth,
    });
  }

  // -- Refused writes: conflicts, preconditions, wrong methods ------------------------------------
  add("refused writes", {
    name: "POST /Users duplicate userName without externalId",
    method: "POST",
    path: "/Users",
    body: json({ schemas: [USER], userName: f.otherUserName }),
  });
  add("refused writes", {
    name: "POST /Users duplicate userName (upper case) with another externalId",
    method: "POST",
    path: "/Users",
    body: json(validUser(uniq(), { userName: f.otherUserName.toUpperCase() })),
  });
  add("refused writes", {
    name: "PATCH /Users/{id} userName taken by another user",
    method: "PATCH",
    path: U,
    body: patch([{ op: "replace", path: "userName", value: f.otherUserName }]),
  });
  add("refused writes", {
    name: "PUT /Users/{id} userName taken by another user",
    method: "PUT",
    path: U,
    body: json(validUser(uniq(), { userName: f.otherUserName, externalId: f.externalId })),
  });
  add("refused writes", {
    name: "POST /Groups duplicate displayName (other case)",
    method: "POST",
    path: "/Groups",
    body: json({ displayName: f.groupName.toUpperCase() }),
  });
  add("refused writes", {
    name: "PUT /Users/{id} with a stale If-Match",
    method: "PUT",
    path: U,
    headers: { "if-match": 'W/"00000000000000000000"' },
    body: json(
      validUser(uniq(), { userName: f.userName, externalId: f.externalId, displayName: "stale" }),
    ),
  });
  add("refused writes", {
    name: "PATCH /Users/{id} with a 10,000-character If-Match",
    method: "PATCH",
    path: U,
    headers: { "if-match": `"${"9".repeat(10_000)}"` },
    body: patch([{ op: "replace", path: "displayName", value: "x" }]),
  });
  add("refused writes", {
    name: "DELETE /Users/{id} with a stale If-Match",
    method: "DELETE",
    path: U,
    headers: { "if-match": '"stale"' },
  });
  add("refused writes", {
    name: "DELETE /Groups/{id} with a stale If-Match",
    method: "DELETE",
    path: G,
    headers: { "if-match": '"stale"' },
  });
  add("refused writes", {
    name: "PATCH /Groups/{id} with a stale If-Match",
    method: "PATCH",
    path: G,
    headers: { "if-match": '"stale"' },
    body: patch([{ op: "replace", path: "displayName", value: "stale" }]),
  });
  for (
    const [method, path] of [
      ["DELETE", "/Users"],
      ["PUT", "/Users"],
      ["PATCH", "/Groups"],
      ["POST", U],
      ["POST", "/ServiceProviderConfig"],
      ["DELETE", "/Schemas"],
      ["PUT", "/ResourceTypes"],
      ["PROPFIND", "/Users"],
      ["POST", "/Users/.search/extra"],
    ]
  ) {
    add("refused writes", {
      name: `${method} ${path.replace(f.userId, "{id}")}`,
      method,
      path,
      body: method === "DELETE" || method === "PROPFIND" ? undefined : json(validUser(uniq())),
    });
  }
  return out;
}
