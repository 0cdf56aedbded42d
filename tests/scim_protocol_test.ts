/**
 * SCIM protocol behaviour over HTTP, as an IdP sees it: discovery (RFC 7644 §4, RFC 9865 §3),
 * routing (idp-behaviour P1, P5), request bodies, list paging (RFC 7644 §3.4.2.4, P2, O11),
 * filters and projection (§3.4.2, P3, P4), ETags (§3.14), and error shape and isolation (§3.12,
 * idp-behaviour part 3).
 * @module
 */
import assert from "node:assert/strict";
import {
  createTestApp,
  expectScim,
  expectScimError,
  randomUser,
  type TestApp,
} from "./_helpers.ts";
import { createIdp, createTenant, createToken } from "../lib/store/tenants.ts";

const ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

type Json = Record<string, unknown>;

/** Creates a user through POST /Users and returns the response body. */
async function createUser(t: TestApp, overrides: Json = {}): Promise<Json> {
  return await expectScim(await t.scim("POST", "/Users", randomUser(overrides)), 201);
}

/** Creates `n` users; returns their bodies in creation order. */
async function createUsers(t: TestApp, n: number): Promise<Json[]> {
  const out: Json[] = [];
  for (let i = 0; i < n; i++) out.push(await createUser(t));
  return out;
}

/** GET a list path and check the ListResponse envelope (integers, Resources always present). */
async function list(t: TestApp, path: string): Promise<Json> {
  const body = await expectScim(await t.scim("GET", path), 200);
  assertListEnvelope(body);
  return body;
}

function assertListEnvelope(body: Json): void {
  assert.deepEqual(body.schemas, [LIST_URN]);
  assert.ok(
    Number.isInteger(body.totalResults),
    `totalResults not an integer: ${body.totalResults}`,
  );
  assert.ok(
    Number.isInteger(body.itemsPerPage),
    `itemsPerPage not an integer: ${body.itemsPerPage}`,
  );
  assert.ok(Array.isArray(body.Resources), "Resources must always be present as an array");
  assert.equal(body.itemsPerPage, (body.Resources as unknown[]).length);
}

function ids(body: Json): string[] {
  return (body.Resources as Json[]).map((r) => String(r.id));
}

/** Paths (like `$.Resources[0].attributes`) of every null in a JSON value. */
function nullPaths(value: unknown, path = "$"): string[] {
  if (value === null) return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => nullPaths(v, `${path}[${i}]`));
  if (typeof value === "object") {
    return Object.entries(value as Json).flatMap(([k, v]) => nullPaths(v, `${path}.${k}`));
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

Deno.test("GET /ServiceProviderConfig - advertises exactly what is supported", async () => {
  await using t = await createTestApp();
  const body = await expectScim(await t.scim("GET", "/ServiceProviderConfig"), 200);
  assert.deepEqual(body.schemas, [SPC_URN]);
  assert.equal((body.patch as Json).supported, true);
  assert.equal((body.filter as Json).supported, true);
  assert.equal((body.filter as Json).maxResults, 200);
  assert.equal((body.sort as Json).supported, true);
  assert.equal((body.etag as Json).supported, true);
  assert.equal((body.changePassword as Json).supported, false);
  const bulk = body.bulk as Json;
  assert.equal(bulk.supported, false);
  // RFC 7643 §5: maxOperations and maxPayloadSize are REQUIRED sub-attributes of bulk.
  assert.ok(Number.isInteger(bulk.maxOperations));
  assert.ok(Number.isInteger(bulk.maxPayloadSize));
  const schemes = body.authenticationSchemes as Json[];
  assert.ok(Array.isArray(schemes) && schemes.length >= 1);
  assert.equal(schemes[0].type, "oauthbearertoken");
  // RFC 9865 §3: pagination.cursor and pagination.index are REQUIRED booleans.
  const pagination = body.pagination as Json;
  assert.equal(pagination.cursor, true);
  assert.equal(pagination.index, true);
  assert.equal(pagination.defaultPageSize, 100);
  assert.equal(pagination.maxPageSize, 200);
  assert.equal((body.meta as Json).resourceType, "ServiceProviderConfig");
  assert.equal((body.meta as Json).location, `${t.base}/ServiceProviderConfig`);
  assert.deepEqual(nullPaths(body), []);
});

Deno.test("GET /ServiceProviderConfig - maxResults follows WEFT_MAX_RESULTS", async () => {
  await using t = await createTestApp({ WEFT_MAX_RESULTS: "3" });
  const body = await expectScim(await t.scim("GET", "/ServiceProviderConfig"), 200);
  assert.equal((body.filter as Json).maxResults, 3);
  assert.equal((body.pagination as Json).maxPageSize, 3);
});

Deno.test("GET /ResourceTypes - ListResponse of User (Enterprise extension) and Group", async () => {
  await using t = await createTestApp();
  const body = await list(t, "/ResourceTypes");
  assert.equal(body.totalResults, 2);
  const byId = new Map((body.Resources as Json[]).map((r) => [r.id, r]));
  const user = byId.get("User")!;
  const group = byId.get("Group")!;
  assert.ok(user && group, `ids: ${[...byId.keys()]}`);
  assert.equal(user.endpoint, "/Users");
  assert.equal(user.schema, USER_URN);
  assert.deepEqual(user.schemaExtensions, [{ schema: ENTERPRISE_URN, required: false }]);
  assert.equal(group.endpoint, "/Groups");
  assert.equal(group.schema, GROUP_URN);
  assert.equal((user.meta as Json).location, `${t.base}/ResourceTypes/User`);
  assert.deepEqual(nullPaths(body), []);
});

Deno.test("GET /ResourceTypes/User - one resource type", async () => {
  await using t = await createTestApp();
  const body = await expectScim(await t.scim("GET", "/ResourceTypes/User"), 200);
  assert.equal(body.id, "User");
  assert.equal(body.endpoint, "/Users");
  assert.equal((body.meta as Json).resourceType, "ResourceType");
  assert.equal((body.meta as Json).location, `${t.base}/ResourceTypes/User`);
});

Deno.test("GET /ResourceTypes/Nope - 404 SCIM error", async () => {
  await using t = await createTestApp();
  await expectScimError(await t.scim("GET", "/ResourceTypes/Nope"), 404);
});

Deno.test("GET /Schemas - ListResponse of 3 schemas with no nulls anywhere", async () => {
  await using t = await createTestApp();
  const body = await list(t, "/Schemas");
  assert.equal(body.totalResults, 3);
  assert.equal(body.itemsPerPage, 3);
  assert.equal(body.startIndex, 1);
  assert.deepEqual(ids(body).sort(), [ENTERPRISE_URN, GROUP_URN, USER_URN].sort());
  for (const s of body.Resources as Json[]) {
    assert.ok(Array.isArray(s.attributes) && s.attributes.length > 0, `${s.id} has attributes`);
    assert.equal((s.meta as Json).location, `${t.base}/Schemas/${s.id}`);
  }
  // Entra reads /Schemas when a connection is saved and rejects nulls (idp-behaviour §2.2 12).
  assert.deepEqual(nullPaths(body), []);
});

Deno.test("GET /Schemas/<urn> - one schema by URN", async () => {
  await using t = await createTestApp();
  const body = await expectScim(await t.scim("GET", `/Schemas/${USER_URN}`), 200);
  assert.equal(body.id, USER_URN);
  const names = (body.attributes as Json[]).map((a) => a.name);
  assert.ok(names.includes("userName"), `attributes: ${names}`);
  assert.equal((body.meta as Json).resourceType, "Schema");
  assert.deepEqual(nullPaths(body), []);
  const ent = await expectScim(await t.scim("GET", `/Schemas/${ENTERPRISE_URN}`), 200);
  assert.equal(ent.id, ENTERPRISE_URN);
});

Deno.test("GET /Schemas/<unknown urn> - 404 SCIM error", async () => {
  await using t = await createTestApp();
  await expectScimError(
    await t.scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope"),
    404,
  );
});

Deno.test("GET / - the SCIM root answers harmlessly", async () => {
  await using t = await createTestApp();
  for (const path of ["", "/"]) {
    const res = await t.scim("GET", path);
    const body = await expectScim(res, 200);
    assert.equal(typeof body, "object", `GET ${t.base}${path}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Routing (idp-behaviour P1, O13, §2.3)
// ---------------------------------------------------------------------------------------------

Deno.test("GET /users - resource names are matched case-insensitively", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  for (const path of ["/users", "/USERS", "/uSeRs"]) {
    const body = await list(t, path);
    assert.deepEqual(ids(body), [user.id], path);
  }
  const one = await expectScim(await t.scim("GET", `/users/${user.id}`), 200);
  assert.equal(one.id, user.id);
});

Deno.test("GET /Users/ - a trailing slash is accepted", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  assert.deepEqual(ids(await list(t, "/Users/")), [user.id]);
  const one = await expectScim(await t.scim("GET", `/Users/${user.id}/`), 200);
  assert.equal(one.id, user.id);
});

Deno.test("GET //Users - doubled slashes are collapsed", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  assert.deepEqual(ids(await list(t, "//Users")), [user.id]);
  const one = await expectScim(await t.scim("GET", `//Users//${user.id}`), 200);
  assert.equal(one.id, user.id);
  // meta.location is built without "//" (P1).
  assert.equal((one.meta as Json).location, `${t.base}/Users/${user.id}`);
});

Deno.test("POST /users/ - writes route case-insensitively with a trailing slash", async () => {
  await using t = await createTestApp();
  const body = await expectScim(await t.scim("POST", "/users/", randomUser()), 201);
  assert.equal(typeof body.id, "string");
});

Deno.test("GET /Nope - unknown path under the IdP is a 404 SCIM error", async () => {
  await using t = await createTestApp();
  await expectScimError(await t.scim("GET", "/Nope"), 404);
  await expectScimError(await t.scim("GET", "/Users/x/y"), 404);
  await expectScimError(await t.scim("POST", "/Nope", randomUser()), 404);
});

Deno.test("GET /Nope - the 404 detail names the unknown endpoint, not the base URL", async () => {
  await using t = await createTestApp();
  const body = await expectScimError(await t.scim("GET", "/Nope"), 404);
  // The IdP path is right, so the detail should name the unknown endpoint rather than send the
  // admin to look for the base URL (routes/scim/mod.ts notFound: `No SCIM endpoint at "…"`).
  assert.match(String(body.detail), /\/Nope/);
});

Deno.test("GET /scim/v2/Users - no IdP in the path is a 404 SCIM error with guidance", async () => {
  await using t = await createTestApp();
  const res = await t.scim("GET", "http://acme.localhost/scim/v2/Users");
  const body = await expectScimError(res, 404);
  assert.match(String(body.detail), /\/scim\/v2\/inbound\//);
});

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

Deno.test("POST /Users - application/json is accepted", async () => {
  await using t = await createTestApp();
  const res = await t.scim("POST", "/Users", randomUser(), {
    "content-type": "application/json",
  });
  await expectScim(res, 201);
});

Deno.test("POST /Users - application/scim+json; charset=utf-8 is accepted", async () => {
  await using t = await createTestApp();
  const res = await t.scim("POST", "/Users", randomUser(), {
    "content-type": "application/scim+json; charset=utf-8",
  });
  await expectScim(res, 201);
});

Deno.test("POST /Users - text/plain is a 415 SCIM error", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  const res = await t.scim("POST", "/Users", user, { "content-type": "text/plain" });
  await expectScimError(res, 415);
  const found = await list(t, `/Users?filter=userName eq "${user.userName}"`);
  assert.equal(found.totalResults, 0);
});

Deno.test("POST /Users - malformed JSON is 400 invalidSyntax", async () => {
  await using t = await createTestApp();
  await expectScimError(
    await t.scim("POST", "/Users", '{"userName": "a@b.com",'),
    400,
    "invalidSyntax",
  );
});

Deno.test("POST /Users - empty body is 400", async () => {
  await using t = await createTestApp();
  await expectScimError(await t.scim("POST", "/Users", ""), 400);
});

Deno.test("POST /Users - invalid UTF-8 bytes are 400", async () => {
  await using t = await createTestApp();
  const head = new TextEncoder().encode('{"userName":"a');
  const tail = new TextEncoder().encode('b@x.com"}');
  const bytes = new Uint8Array([...head, 0xff, 0xfe, ...tail]);
  const res = await t.app.request(`${t.base}/Users`, {
    method: "POST",
    headers: { authorization: `Bearer ${t.token}`, "content-type": "application/scim+json" },
    body: bytes,
  });
  await expectScimError(res, 400);
});

Deno.test("POST /Users - a JSON array body is 400", async () => {
  await using t = await createTestApp();
  await expectScimError(await t.scim("POST", "/Users", [randomUser()]), 400);
});

Deno.test("POST /Users - body over WEFT_MAX_BODY_BYTES (streamed) is a 413 SCIM error", async () => {
  await using t = await createTestApp({ WEFT_MAX_BODY_BYTES: "2048" });
  const user = randomUser({ displayName: "x".repeat(3000) });
  // app.request() sends no Content-Length: the limit must hold on a streamed body too.
  const res = await t.scim("POST", "/Users", user);
  await expectScimError(res, 413);
  const found = await list(t, `/Users?filter=userName eq "${user.userName}"`);
  assert.equal(found.totalResults, 0);
});

Deno.test("POST /Users - body over WEFT_MAX_BODY_BYTES (Content-Length) is a 413 SCIM error", async () => {
  await using t = await createTestApp({ WEFT_MAX_BODY_BYTES: "2048" });
  const text = JSON.stringify(randomUser({ displayName: "x".repeat(3000) }));
  const res = await t.scim("POST", "/Users", text, {
    "content-length": String(new TextEncoder().encode(text).length),
  });
  await expectScimError(res, 413);
});

Deno.test("POST /Users - body under WEFT_MAX_BODY_BYTES is accepted", async () => {
  await using t = await createTestApp({ WEFT_MAX_BODY_BYTES: "2048" });
  await expectScim(await t.scim("POST", "/Users", randomUser()), 201);
});

Deno.test("POST /Users - a __proto__ key is 400 and pollutes nothing", async () => {
  await using t = await createTestApp();
  const user = randomUser();
  const text = JSON.stringify(user).replace(/}$/, ',"__proto__":{"polluted":"yes"}}');
  await expectScimError(await t.scim("POST", "/Users", text), 400);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const found = await list(t, `/Users?filter=userName eq "${user.userName}"`);
  assert.equal(found.totalResults, 0);
});

Deno.test("POST /Users - a nested __proto__ key is 400 and pollutes nothing", async () => {
  await using t = await createTestApp();
  const text = JSON.stringify(randomUser()).replace(
    '"name":{',
    '"name":{"__proto__":{"polluted":"yes"},',
  );
  assert.match(text, /__proto__/);
  await expectScimError(await t.scim("POST", "/Users", text), 400);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("PATCH /Users - a __proto__ key in a pathless value is 400 and pollutes nothing", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const text = JSON.stringify({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { displayName: "Changed" } }],
  }).replace('"value":{', '"value":{"__proto__":{"polluted":"yes"},');
  await expectScimError(await t.scim("PATCH", `/Users/${user.id}`, text), 400);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const after = await expectScim(await t.scim("GET", `/Users/${user.id}`), 200);
  assert.equal(after.displayName, user.displayName);
});

// ---------------------------------------------------------------------------------------------
// List paging (RFC 7644 §3.4.2.4, idp-behaviour P2, O2, O11)
// ---------------------------------------------------------------------------------------------

Deno.test("GET /Users - no parameters: startIndex 1, every user, integers", async () => {
  await using t = await createTestApp();
  const users = await createUsers(t, 5);
  const body = await list(t, "/Users");
  assert.equal(body.startIndex, 1);
  assert.equal(body.totalResults, 5);
  assert.equal(body.itemsPerPage, 5);
  assert.deepEqual(ids(body).sort(), users.map((u) => String(u.id)).sort());
});

Deno.test("GET /Users - empty store answers a full ListResponse (Okta Test Connection)", async () => {
  await using t = await createTestApp();
  const body = await list(t, "/Users?startIndex=1&count=2");
  assert.equal(body.totalResults, 0);
  assert.equal(body.startIndex, 1);
  assert.equal(body.itemsPerPage, 0);
  assert.deepEqual(body.Resources, []);
});

Deno.test("GET /Users - without count returns at most 100 (the default page size)", async () => {
  await using t = await createTestApp();
  await createUsers(t, 101);
  const body = await list(t, "/Users");
  assert.equal(body.totalResults, 101);
  assert.equal(body.itemsPerPage, 100);
  const rest = await list(t, "/Users?startIndex=101");
  assert.equal(rest.itemsPerPage, 1);
  assert.equal(rest.startIndex, 101);
  assert.equal(new Set([...ids(body), ...ids(rest)]).size, 101);
});

Deno.test("GET /Users - count above maxResults is capped", async () => {
  await using t = await createTestApp({ WEFT_MAX_RESULTS: "3" });
  await createUsers(t, 5);
  const body = await list(t, "/Users?count=10");
  assert.equal(body.totalResults, 5);
  assert.equal(body.itemsPerPage, 3);
});

Deno.test("GET /Users - count=2 pages are stable across startIndex=1,3,5", async () => {
  await using t = await createTestApp();
  const users = await createUsers(t, 5);
  const pages: string[][] = [];
  for (const start of [1, 3, 5]) {
    const body = await list(t, `/Users?startIndex=${start}&count=2`);
    assert.equal(body.startIndex, start);
    assert.equal(body.totalResults, 5);
    assert.equal(body.itemsPerPage, start === 5 ? 1 : 2);
    pages.push(ids(body));
  }
  const seen = pages.flat();
  assert.equal(seen.length, 5);
  assert.deepEqual([...seen].sort(), users.map((u) => String(u.id)).sort());
  // The same request again gives the same page (Okta re-reads pages on retry).
  for (const [i, start] of [1, 3, 5].entries()) {
    assert.deepEqual(ids(await list(t, `/Users?startIndex=${start}&count=2`)), pages[i]);
  }
});

Deno.test("GET /Users - count=0 returns only totalResults", async () => {
  await using t = await createTestApp();
  await createUsers(t, 5);
  const body = await list(t, "/Users?count=0");
  assert.equal(body.totalResults, 5);
  assert.equal(body.itemsPerPage, 0);
  assert.deepEqual(body.Resources, []);
});

Deno.test("GET /Users - count=-1 is treated as 0", async () => {
  await using t = await createTestApp();
  await createUsers(t, 5);
  const body = await list(t, "/Users?count=-1");
  assert.equal(body.totalResults, 5);
  assert.equal(body.itemsPerPage, 0);
  assert.deepEqual(body.Resources, []);
});

Deno.test("GET /Users - startIndex=0 is treated as 1", async () => {
  await using t = await createTestApp();
  await createUsers(t, 5);
  const first = await list(t, "/Users?startIndex=1&count=2");
  const body = await list(t, "/Users?startIndex=0&count=2");
  assert.equal(body.startIndex, 1);
  assert.deepEqual(ids(body), ids(first));
  const negative = await list(t, "/Users?startIndex=-4&count=2");
  assert.equal(negative.startIndex, 1);
  assert.deepEqual(ids(negative), ids(first));
});

Deno.test("GET /Users - startIndex past the end gives empty Resources and the true total", async () => {
  await using t = await createTestApp();
  await createUsers(t, 5);
  const body = await list(t, "/Users?startIndex=10&count=2");
  assert.equal(body.totalResults, 5);
  assert.equal(body.startIndex, 10);
  assert.equal(body.itemsPerPage, 0);
  assert.deepEqual(body.Resources, []);
});

Deno.test("GET /Users - count=abc is 400 invalidValue", async () => {
  await using t = await createTestApp();
  await expectScimError(await t.scim("GET", "/Users?count=abc"), 400, "invalidValue");
  await expectScimError(await t.scim("GET", "/Users?startIndex=abc"), 400, "invalidValue");
});

Deno.test("GET /Users - cursor paging visits every user exactly once", async () => {
  await using t = await createTestApp();
  const users = await createUsers(t, 5);
  const seen: string[] = [];
  let cursor = "";
  let pages = 0;
  for (;;) {
    const body = await list(t, `/Users?count=2&cursor=${encodeURIComponent(cursor)}`);
    assert.equal(body.totalResults, 5);
    assert.ok(body.itemsPerPage as number <= 2);
    seen.push(...ids(body));
    pages++;
    assert.ok(pages <= 5, "cursor paging does not terminate");
    if (body.nextCursor === undefined) break;
    assert.equal(typeof body.nextCursor, "string");
    assert.notEqual(body.nextCursor, "");
    cursor = String(body.nextCursor);
  }
  assert.equal(pages, 3);
  assert.equal(seen.length, 5, `visited ${seen}`);
  assert.deepEqual([...seen].sort(), users.map((u) => String(u.id)).sort());
});

Deno.test("GET /Users - cursor paging over a sorted list visits every user once", async () => {
  await using t = await createTestApp();
  const users = await createUsers(t, 5);
  const seen: string[] = [];
  let cursor = "";
  for (let i = 0; i < 5; i++) {
    const body = await list(
      t,
      `/Users?sortBy=userName&count=2&cursor=${encodeURIComponent(cursor)}`,
    );
    seen.push(...ids(body));
    if (body.nextCursor === undefined) break;
    cursor = String(body.nextCursor);
  }
  const expected = [...users]
    .sort((a, b) => String(a.userName).localeCompare(String(b.userName)))
    .map((u) => String(u.id));
  assert.deepEqual(seen, expected);
});

Deno.test("GET /Users - a bad cursor is 400 invalidCursor (RFC 9865)", async () => {
  await using t = await createTestApp();
  await createUsers(t, 2);
  await expectScimError(
    await t.scim("GET", "/Users?count=2&cursor=notacursor"),
    400,
    "invalidCursor",
  );
});

// ---------------------------------------------------------------------------------------------
// Filters, sorting, projection, .search
// ---------------------------------------------------------------------------------------------

Deno.test("GET /Users - a filter with no match is 200 with an empty ListResponse", async () => {
  await using t = await createTestApp();
  await createUsers(t, 2);
  const body = await list(t, `/Users?filter=userName eq "${crypto.randomUUID()}"`);
  assert.equal(body.totalResults, 0);
  assert.equal(body.startIndex, 1);
  assert.equal(body.itemsPerPage, 0);
  assert.deepEqual(body.Resources, []);
  // Okta's exact form (O1).
  const okta = await list(
    t,
    "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
  );
  assert.equal(okta.totalResults, 0);
});

Deno.test("GET /Users - an unparseable filter is 400 invalidFilter", async () => {
  await using t = await createTestApp();
  for (const f of ["userName eq", 'userName zz "x"', '(userName eq "x"', 'userName eq "x" and']) {
    await expectScimError(
      await t.scim("GET", `/Users?filter=${encodeURIComponent(f)}`),
      400,
      "invalidFilter",
    );
  }
});

Deno.test("GET /Users - a value filter on a simple attribute is 400 invalidFilter, as PATCH says", async () => {
  const t = await createTestApp();
  try {
    const filters = [
      'userName[type eq "x"].value eq "a"',
      'displayName[value eq "a"]',
      'userName eq "nobody@example.com" and active[value eq true]',
    ];
    // Refused whatever the data: on an empty directory as on one with users.
    for (const users of [0, 2]) {
      await createUsers(t, users);
      for (const f of filters) {
        const body = await expectScimError(
          await t.scim("GET", `/Users?filter=${encodeURIComponent(f)}`),
          400,
          "invalidFilter",
        );
        assert.match(String(body.detail), /is not multi-valued/, f);
      }
    }
    await expectScimError(
      await t.scim("POST", "/Users/.search", {
        schemas: [SEARCH_URN],
        filter: 'userName[type eq "x"].value eq "a"',
      }),
      400,
      "invalidFilter",
    );
    await expectScimError(
      await t.scim("GET", `/Groups?filter=${encodeURIComponent('displayName[value eq "a"]')}`),
      400,
      "invalidFilter",
    );
    // PATCH refuses the same path.
    const user = await createUser(t);
    await expectScimError(
      await t.scim("PATCH", `/Users/${user.id}`, {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "replace", path: 'userName[type eq "x"].value', value: "a" }],
      }),
      400,
      "invalidPath",
    );
    // Multi-valued attributes keep their value filters.
    const work = await list(
      t,
      `/Users?filter=${encodeURIComponent(`emails[type eq "work"].value eq "${user.userName}"`)}`,
    );
    assert.deepEqual(ids(work), [user.id]);
  } finally {
    t.close();
  }
});

Deno.test("GET /Users - userName eq with a raw + finds a+b@x.com case-insensitively (P4)", async () => {
  await using t = await createTestApp();
  const user = await createUser(t, { userName: "a+b@x.com" });
  // The + is sent unencoded, exactly as some IdPs do.
  const body = await list(t, "/Users?filter=userName%20eq%20%22A+B@x.com%22");
  assert.deepEqual(ids(body), [user.id]);
  assert.equal((body.Resources as Json[])[0].userName, "a+b@x.com");
  // Percent-encoded + (%2B) finds it too.
  const encoded = await list(t, `/Users?filter=${encodeURIComponent('userName eq "a+b@x.com"')}`);
  assert.deepEqual(ids(encoded), [user.id]);
});

Deno.test("GET /Users - form-encoded spaces (userName+eq+%22x%22) work", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const name = encodeURIComponent(String(user.userName));
  const body = await list(t, `/Users?filter=userName+eq+%22${name}%22`);
  assert.deepEqual(ids(body), [user.id]);
  // Entra's 2018 form on externalId.
  const ext = encodeURIComponent(String(user.externalId));
  assert.deepEqual(ids(await list(t, `/Users?filter=externalId+eq+%22${ext}%22`)), [user.id]);
});

Deno.test("GET /Users - sortBy=userName&sortOrder=descending", async () => {
  await using t = await createTestApp();
  const names = ["carol@x.com", "Alice@x.com", "bob@x.com", "Dave@x.com", "eve@x.com"];
  for (const userName of names) await createUser(t, { userName });
  const body = await list(t, "/Users?sortBy=userName&sortOrder=descending");
  const got = (body.Resources as Json[]).map((r) => r.userName);
  assert.deepEqual(got, ["eve@x.com", "Dave@x.com", "carol@x.com", "bob@x.com", "Alice@x.com"]);
  const asc = await list(t, "/Users?sortBy=userName&sortOrder=ascending&count=2&startIndex=2");
  assert.deepEqual((asc.Resources as Json[]).map((r) => r.userName), [
    "bob@x.com",
    "carol@x.com",
  ]);
});

Deno.test("GET /Users - attributes=userName keeps id and schemas", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const body = await list(t, "/Users?attributes=userName");
  const [r] = body.Resources as Json[];
  assert.equal(r.id, user.id);
  assert.deepEqual(r.schemas, [USER_URN]);
  assert.equal(r.userName, user.userName);
  for (const k of ["name", "emails", "displayName", "externalId", "active"]) {
    assert.equal(k in r, false, `"${k}" should not be returned: ${JSON.stringify(r)}`);
  }
  const one = await expectScim(await t.scim("GET", `/Users/${user.id}?attributes=userName`), 200);
  assert.equal(one.id, user.id);
  assert.equal("emails" in one, false);
});

Deno.test("GET /Users - excludedAttributes=emails drops emails only", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const body = await list(t, "/Users?excludedAttributes=emails");
  const [r] = body.Resources as Json[];
  assert.equal(r.id, user.id);
  assert.equal("emails" in r, false);
  assert.equal(r.userName, user.userName);
  assert.deepEqual(r.name, user.name);
  assert.deepEqual(r.schemas, [USER_URN]);
});

Deno.test("POST /Users/.search - a SearchRequest body filters and pages", async () => {
  await using t = await createTestApp();
  const users = await createUsers(t, 3);
  const res = await t.scim("POST", "/Users/.search", {
    schemas: [SEARCH_URN],
    filter: `userName eq "${users[1].userName}"`,
    attributes: ["userName"],
    startIndex: 1,
    count: 10,
  });
  const body = await expectScim(res, 200);
  assertListEnvelope(body);
  assert.equal(body.totalResults, 1);
  const [r] = body.Resources as Json[];
  assert.equal(r.id, users[1].id);
  assert.equal(r.userName, users[1].userName);
  assert.equal("emails" in r, false);
  const page = await expectScim(
    await t.scim("POST", "/Users/.search", { schemas: [SEARCH_URN], startIndex: 2, count: 1 }),
    200,
  );
  assertListEnvelope(page);
  assert.equal(page.totalResults, 3);
  assert.equal(page.startIndex, 2);
  assert.equal(page.itemsPerPage, 1);
});

Deno.test("POST /.search - a SearchRequest at the root searches Users and Groups", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const group = await expectScim(
    await t.scim("POST", "/Groups", {
      schemas: [GROUP_URN],
      displayName: "Root Search",
      members: [],
    }),
    201,
  );
  const byUser = await expectScim(
    await t.scim("POST", "/.search", {
      schemas: [SEARCH_URN],
      filter: `userName eq "${user.userName}"`,
    }),
    200,
  );
  assertListEnvelope(byUser);
  assert.deepEqual(ids(byUser), [user.id]);
  const all = await expectScim(await t.scim("POST", "/.search", { schemas: [SEARCH_URN] }), 200);
  assertListEnvelope(all);
  assert.equal(all.totalResults, 2);
  assert.deepEqual(ids(all).sort(), [String(user.id), String(group.id)].sort());
});

// ---------------------------------------------------------------------------------------------
// ETags (RFC 7644 §3.14)
// ---------------------------------------------------------------------------------------------

Deno.test("GET /Users/:id - ETag equals meta.version", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const res = await t.scim("GET", `/Users/${user.id}`);
  const etag = res.headers.get("etag");
  const body = await expectScim(res, 200);
  assert.ok(etag, "ETag header is present");
  assert.equal(etag, (body.meta as Json).version);
});

Deno.test("PUT /Users/:id - a stale If-Match is 412 and changes nothing", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const stale = (user.meta as Json).version as string;
  const patched = await t.scim("PATCH", `/Users/${user.id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", path: "displayName", value: "After Patch" }],
  });
  assert.ok(patched.status === 200 || patched.status === 204, `PATCH ${patched.status}`);
  await patched.body?.cancel();
  const current = await t.scim("GET", `/Users/${user.id}`);
  const currentEtag = current.headers.get("etag");
  const before = await expectScim(current, 200);
  assert.notEqual(currentEtag, stale);

  const put = { ...before, displayName: "From Stale PUT" };
  await expectScimError(
    await t.scim("PUT", `/Users/${user.id}`, put, { "if-match": stale }),
    412,
  );
  const after = await t.scim("GET", `/Users/${user.id}`);
  assert.equal(after.headers.get("etag"), currentEtag);
  const afterBody = await expectScim(after, 200);
  assert.equal(afterBody.displayName, "After Patch");
});

Deno.test("PUT /Users/:id - the current If-Match is 200 with a new ETag", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const get = await t.scim("GET", `/Users/${user.id}`);
  const etag = get.headers.get("etag")!;
  const body = await expectScim(get, 200);
  const res = await t.scim("PUT", `/Users/${user.id}`, { ...body, displayName: "Renamed" }, {
    "if-match": etag,
  });
  const newEtag = res.headers.get("etag");
  const updated = await expectScim(res, 200);
  assert.equal(updated.displayName, "Renamed");
  assert.ok(newEtag);
  assert.notEqual(newEtag, etag);
  assert.equal(newEtag, (updated.meta as Json).version);
});

Deno.test("PATCH and DELETE /Users/:id - a stale If-Match is 412 and changes nothing", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const stale = 'W/"00000000000000000000"';
  await expectScimError(
    await t.scim("PATCH", `/Users/${user.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: false } }],
    }, { "if-match": stale }),
    412,
  );
  await expectScimError(
    await t.scim("DELETE", `/Users/${user.id}`, undefined, { "if-match": stale }),
    412,
  );
  const after = await expectScim(await t.scim("GET", `/Users/${user.id}`), 200);
  assert.equal(after.active, true);
  assert.equal((after.meta as Json).version, (user.meta as Json).version);
  // "*" matches any version.
  const del = await t.scim("DELETE", `/Users/${user.id}`, undefined, { "if-match": "*" });
  await expectScim(del, 204);
});

Deno.test("GET /Users/:id - If-None-Match with the current ETag is 304", async () => {
  await using t = await createTestApp();
  const user = await createUser(t);
  const get = await t.scim("GET", `/Users/${user.id}`);
  const etag = get.headers.get("etag")!;
  await get.body?.cancel();
  const res = await t.scim("GET", `/Users/${user.id}`, undefined, { "if-none-match": etag });
  assert.equal(res.status, 304);
  assert.equal(await res.text(), "");
  const stale = await t.scim("GET", `/Users/${user.id}`, undefined, {
    "if-none-match": 'W/"0000000000000000000"',
  });
  await expectScim(stale, 200);
});

// ---------------------------------------------------------------------------------------------
// Errors and isolation (RFC 7644 §3.12, idp-behaviour part 3)
// ---------------------------------------------------------------------------------------------

Deno.test("GET /Users/:id - unknown id is a 404 SCIM error", async () => {
  await using t = await createTestApp();
  const body = await expectScimError(await t.scim("GET", `/Users/${crypto.randomUUID()}`), 404);
  assert.deepEqual(body.schemas, [ERROR_URN]);
  assert.equal(body.status, "404");
  const patch = {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active: false } }],
  };
  await expectScimError(await t.scim("PATCH", `/Users/${crypto.randomUUID()}`, patch), 404);
  await expectScimError(
    await t.scim("PUT", `/Users/${crypto.randomUUID()}`, randomUser()),
    404,
  );
  await expectScimError(await t.scim("DELETE", `/Users/${crypto.randomUUID()}`), 404);
  await expectScimError(await t.scim("GET", `/Groups/${crypto.randomUUID()}`), 404);
});

Deno.test("GET /Users/:id - a user of another IdP in the same tenant is 404", async () => {
  await using t = await createTestApp();
  const other = await t.addIdp();
  const theirs = await expectScim(
    await t.app.request(`${other.base}/Users`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${other.token}`,
        "content-type": "application/scim+json",
      },
      body: JSON.stringify(randomUser()),
    }),
    201,
  );
  const body = await expectScimError(await t.scim("GET", `/Users/${theirs.id}`), 404);
  assert.equal(JSON.stringify(body).includes(String(theirs.userName)), false);
  await expectScimError(
    await t.scim("PATCH", `/Users/${theirs.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: false } }],
    }),
    404,
  );
  await expectScimError(await t.scim("DELETE", `/Users/${theirs.id}`), 404);
  const listed = await list(t, `/Users?filter=userName eq "${theirs.userName}"`);
  assert.equal(listed.totalResults, 0);
  assert.equal((await list(t, "/Users")).totalResults, 0);
  // Still intact for its own IdP.
  const own = await expectScim(
    await t.app.request(`${other.base}/Users/${theirs.id}`, {
      headers: { authorization: `Bearer ${other.token}` },
    }),
    200,
  );
  assert.equal(own.active, true);
});

Deno.test("GET /Users/:id - another tenant's host leaks nothing", async () => {
  await using t = await createTestApp();
  const mine = await createUser(t);
  const other = await createTenant(t.kv, { subdomain: "other" });
  const otherIdp = await createIdp(t.kv, other.id, { name: "Okta", kind: "okta" });
  const { secret: otherToken } = await createToken(t.kv, other.id, otherIdp.id, {
    name: "test",
    createdBy: "test",
  });
  const otherBase = `http://other.localhost/scim/v2/inbound/${otherIdp.id}`;
  const leaks = (text: string) =>
    text.includes(String(mine.userName)) || text.includes(String(mine.externalId));

  // Their token, their IdP, our user id: not found.
  const byId = await t.app.request(`${otherBase}/Users/${mine.id}`, {
    headers: { authorization: `Bearer ${otherToken}` },
  });
  const byIdBody = await expectScimError(byId, 404);
  assert.equal(leaks(JSON.stringify(byIdBody)), false);
  const listed = await expectScim(
    await t.app.request(`${otherBase}/Users?filter=userName eq "${mine.userName}"`, {
      headers: { authorization: `Bearer ${otherToken}` },
    }),
    200,
  );
  assert.equal(listed.totalResults, 0);

  // Our token and our IdP path on their host: refused.
  const ours = await t.app.request(`http://other.localhost/scim/v2/inbound/${t.idp.id}/Users`, {
    headers: { authorization: `Bearer ${t.token}` },
  });
  assert.ok([401, 404].includes(ours.status), `got ${ours.status}`);
  const oursBody = await expectScimError(ours, ours.status);
  assert.equal(leaks(JSON.stringify(oursBody)), false);

  // Their token on our host and our IdP path: refused.
  const theirs = await t.app.request(`${t.base}/Users/${mine.id}`, {
    headers: { authorization: `Bearer ${otherToken}` },
  });
  assert.ok([401, 404].includes(theirs.status), `got ${theirs.status}`);
  const theirsBody = await expectScimError(theirs, theirs.status);
  assert.equal(leaks(JSON.stringify(theirsBody)), false);

  // A host that names no tenant.
  const nobody = await t.app.request(
    `http://nobody.localhost/scim/v2/inbound/${t.idp.id}/Users`,
    { headers: { authorization: `Bearer ${t.token}` } },
  );
  assert.ok([401, 404].includes(nobody.status), `got ${nobody.status}`);
  await expectScimError(nobody, nobody.status);
});

Deno.test("Errors - every error carries the Error URN, a string status and a detail", async () => {
  await using t = await createTestApp();
  const cases: [Response, number][] = [
    [await t.scim("GET", "/Users?filter=bad"), 400],
    [await t.scim("GET", "/Users/nope"), 404],
    [await t.scim("POST", "/Users", { schemas: [USER_URN] }), 400],
    [await t.scim("POST", "/Users", "{"), 400],
    [await t.scim("POST", "/Users", randomUser(), { "content-type": "text/plain" }), 415],
    [await t.scim("GET", "/Users", undefined, { authorization: "Bearer nope" }), 401],
  ];
  for (const [res, status] of cases) {
    const body = await expectScimError(res, status);
    assert.equal(typeof body.detail, "string");
    assert.ok(String(body.detail).length > 0);
  }
});
