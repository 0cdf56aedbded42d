/**
 * `GET /api/v1/openapi.json`: an OpenAPI 3.1 document generated from the routes' zod schemas,
 * served without a key, naming every GET route the app registers under `/api/v1`, each with its
 * parameters, its success schema and its errors; every `$ref` resolves; and what the API answers
 * matches the documented schemas.
 * @module
 */
import assert from "node:assert/strict";
import { createGroup, createTestApp, createUsers, patchGroup } from "../_helpers.ts";
import { apiGet, apiKeyOf, expectJson } from "./_api.ts";
import { GroupListSchema, UserListSchema, UserSchema } from "../../lib/directory/schemas.ts";

type Json = Record<string, unknown>;

/** Every `$ref` in a document. */
function refsOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsOf(v, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refsOf(v, out);
    }
  }
  return out;
}

function resolve(doc: Json, ref: string): unknown {
  assert.ok(ref.startsWith("#/"), ref);
  return ref.slice(2).split("/").reduce<unknown>(
    (node, part) => (node as Json | undefined)?.[part.replaceAll("~1", "/").replaceAll("~0", "~")],
    doc,
  );
}

Deno.test("GET /api/v1/openapi.json - every route, its parameters and errors; $refs resolve", async () => {
  await using t = await createTestApp();
  const doc = await expectJson<Json>(await apiGet(t, "/openapi.json", null), 200);
  assert.equal(doc.openapi, "3.1.0");
  assert.deepEqual(doc.servers, [{ url: "http://acme.localhost/api/v1" }]);
  const schemes = (doc.components as Json).securitySchemes as Json;
  assert.deepEqual(schemes.bearer, {
    type: "http",
    scheme: "bearer",
    description: (schemes.bearer as Json).description,
  });

  // Every GET route of the app under /api/v1 is a documented path.
  const registered = new Set(
    t.app.routes
      .filter((r) => r.method === "GET" && r.path.startsWith("/api/v1/"))
      .map((r) => r.path.slice("/api/v1".length).replace(/:(\w+)/g, "{$1}")),
  );
  const paths = doc.paths as Record<string, Record<string, Json>>;
  assert.deepEqual(Object.keys(paths).sort(), [...registered].sort());
  for (
    const expected of [
      "/users",
      "/users/{id}",
      "/users/{id}/groups",
      "/groups",
      "/groups/{id}",
      "/groups/{id}/members",
      "/roles",
      "/events",
      "/openapi.json",
    ]
  ) {
    assert.ok(paths[expected]?.get, `${expected} documented`);
  }

  for (const [path, ops] of Object.entries(paths)) {
    const op = ops.get;
    assert.deepEqual(Object.keys(ops), ["get"], path);
    assert.ok(op.summary, `${path} has a summary`);
    const responses = op.responses as Json;
    assert.ok(responses["200"], `${path} documents 200`);
    assert.ok(responses["400"], `${path} documents 400`);
    if (path !== "/openapi.json") {
      assert.deepEqual(op.security, [{ bearer: [] }], path);
      for (const status of ["401", "403", "405", "429", "503"]) {
        assert.ok(responses[status], `${path} documents ${status}`);
      }
    }
    const params = (op.parameters ?? []) as { name: string; in: string }[];
    for (const name of path.match(/\{(\w+)\}/g) ?? []) {
      assert.ok(
        params.some((p) => p.in === "path" && `{${p.name}}` === name),
        `${path} documents ${name}`,
      );
    }
  }
  const userParams = (paths["/users"].get.parameters as { name: string }[]).map((p) => p.name);
  assert.deepEqual(userParams.sort(), [
    "cursor",
    "email",
    "group",
    "idp",
    "limit",
    "state",
    "userName",
  ]);
  const eventParams = (paths["/events"].get.parameters as { name: string }[]).map((p) => p.name);
  assert.deepEqual(eventParams.sort(), ["after", "idp", "limit", "types"]);

  const refs = refsOf(doc);
  assert.ok(refs.length > 10);
  for (const ref of new Set(refs)) assert.ok(resolve(doc, ref), `${ref} resolves`);
  for (const name of ["User", "Group", "Event", "Error", "UserList", "EventList"]) {
    assert.ok(((doc.components as Json).schemas as Json)[name], `${name} is a component`);
  }
  await expectJson(await apiGet(t, "/openapi.json?x=1", null), 400);
});

Deno.test("/api/v1 - answers match the documented schemas, field for field", async () => {
  await using t = await createTestApp();
  const ids = await createUsers(t, 3);
  const group = await createGroup(t, "Docs");
  await patchGroup(t, group, [{ op: "add", path: "members", value: [{ value: ids[0] }] }]);
  const key = await apiKeyOf(t);
  const strict = <T>(s: { parse(v: unknown): T }, v: unknown) => s.parse(v);
  strict(UserListSchema.strict(), await expectJson(await apiGet(t, "/users", key), 200));
  strict(UserSchema.strict(), await expectJson(await apiGet(t, `/users/${ids[0]}`, key), 200));
  strict(GroupListSchema.strict(), await expectJson(await apiGet(t, "/groups", key), 200));
  strict(
    GroupListSchema.strict(),
    await expectJson(await apiGet(t, `/users/${ids[0]}/groups`, key), 200),
  );
  strict(
    UserListSchema.strict(),
    await expectJson(await apiGet(t, `/groups/${group}/members`, key), 200),
  );
  // Strict objects refuse a field the contract does not have.
  const user = await expectJson<Json>(await apiGet(t, `/users/${ids[0]}`, key), 200);
  assert.throws(() => UserSchema.strict().parse({ ...user, extra: 1 }));
});
