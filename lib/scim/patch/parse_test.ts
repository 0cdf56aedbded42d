/**
 * Tests of `parsePatchRequest()`: whole PatchOp messages validated before anything is applied, as
 * Okta, Entra ID and OneLogin send them (`docs/idp-behaviour.md` E1, E6, E16, X1, P6).
 * @module
 */
import assert from "node:assert/strict";
import { MAX_PATCH_OPERATIONS, parsePatchRequest } from "./parse.ts";
import { assertScimError, body } from "./_test_utils.ts";
import { PATCH_OP } from "../urns.ts";

Deno.test("parsePatchRequest() - lowercases Entra's capitalised ops", () => {
  const ops = parsePatchRequest(body(
    { op: "Replace", path: "userName", value: "a@b.com" },
    { op: "ADD", path: "nickName", value: "Babs" },
    { op: "Remove", path: "title" },
  ));
  assert.deepEqual(ops.map(({ op, index }) => ({ op, index })), [
    { op: "replace", index: 0 },
    { op: "add", index: 1 },
    { op: "remove", index: 2 },
  ]);
});

Deno.test("parsePatchRequest() - keeps each path as sent and as parsed, once", () => {
  const ops = parsePatchRequest(body(
    { op: "Replace", path: ' emails[type eq "work"].value ', value: "a@b.com" },
    { op: "add", path: "name.givenName", value: "Babs" },
    { op: "remove", path: "title" },
    { op: "replace", path: "", value: { active: false } },
  ));
  assert.deepEqual(ops, [
    {
      op: "replace",
      path: 'emails[type eq "work"].value',
      parsedPath: {
        path: { attr: "emails" },
        filter: { kind: "compare", path: { attr: "type" }, op: "eq", value: "work" },
        subAttr: "value",
      },
      value: "a@b.com",
      index: 0,
    },
    {
      op: "add",
      path: "name.givenName",
      parsedPath: { path: { attr: "name", sub: "givenName" } },
      value: "Babs",
      index: 1,
    },
    { op: "remove", path: "title", parsedPath: { path: { attr: "title" } }, index: 2 },
    { op: "replace", value: { active: false }, index: 3 },
  ]);
});

Deno.test("parsePatchRequest() - accepts an empty Operations array as a no-op", () => {
  assert.deepEqual(parsePatchRequest(body()), []);
});

Deno.test("parsePatchRequest() - matches schemas and the Operations key case-insensitively", () => {
  const ops = parsePatchRequest({
    schemas: [PATCH_OP.toUpperCase()],
    operations: [{ op: "replace", value: { active: false } }],
  });
  assert.deepEqual(ops, [{ op: "replace", value: { active: false }, index: 0 }]);
});

Deno.test("parsePatchRequest() - keeps a null value, which means clear", () => {
  const ops = parsePatchRequest(body({ op: "replace", path: "title", value: null }));
  assert.deepEqual(ops, [
    {
      op: "replace",
      path: "title",
      parsedPath: { path: { attr: "title" } },
      value: null,
      index: 0,
    },
  ]);
});

Deno.test("parsePatchRequest() - rejects a body that is not an object", () => {
  assertScimError(() => parsePatchRequest([]), {
    status: 400,
    scimType: "invalidSyntax",
    detail: "Request body must be a JSON object",
  });
});

Deno.test("parsePatchRequest() - rejects a message without the PatchOp URN", () => {
  assertScimError(
    () =>
      parsePatchRequest({
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        Operations: [],
      }),
    { status: 400, scimType: "invalidSyntax", detail: `"schemas" must contain "${PATCH_OP}"` },
  );
  assertScimError(() => parsePatchRequest({ Operations: [] }), {
    status: 400,
    scimType: "invalidSyntax",
    detail: /^"schemas" must be an array/,
  });
});

Deno.test("parsePatchRequest() - rejects Operations that is not an array", () => {
  assertScimError(() => parsePatchRequest({ schemas: [PATCH_OP], Operations: {} }), {
    status: 400,
    scimType: "invalidSyntax",
    detail: '"Operations" must be an array',
  });
});

Deno.test("parsePatchRequest() - names the operation with an unknown op", () => {
  assertScimError(
    () =>
      parsePatchRequest(body(
        { op: "replace", path: "title", value: "x" },
        { op: "move", path: "title", value: "y" },
      )),
    {
      status: 400,
      scimType: "invalidSyntax",
      detail: 'Operation 2: "op" must be "add", "remove" or "replace"',
    },
  );
  assertScimError(() => parsePatchRequest(body("replace")), {
    status: 400,
    scimType: "invalidSyntax",
    detail: "Operation 1: Operation must be a JSON object",
  });
});

Deno.test("parsePatchRequest() - requires a path for remove (noTarget, RFC 7644 §3.5.2.2)", () => {
  assertScimError(() => parsePatchRequest(body({ op: "remove" })), {
    status: 400,
    scimType: "noTarget",
    detail: 'Operation 1: "path" is required for "remove"',
  });
});

Deno.test("parsePatchRequest() - requires a value for add and replace", () => {
  assertScimError(() => parsePatchRequest(body({ op: "add", path: "title" })), {
    status: 400,
    scimType: "invalidValue",
    detail: 'Operation 1: "value" is required for "add"',
  });
  assertScimError(
    () =>
      parsePatchRequest(body(
        { op: "remove", path: "title" },
        { op: "Replace", value: undefined },
      )),
    {
      status: 400,
      scimType: "invalidValue",
      detail: 'Operation 2: "value" is required for "replace"',
    },
  );
});

Deno.test("parsePatchRequest() - parses every path before anything is applied", () => {
  assertScimError(
    () => parsePatchRequest(body({ op: "replace", path: 'emails[type eq "work"', value: "x" })),
    { status: 400, scimType: "invalidPath", detail: /^Operation 1: Cannot parse path: / },
  );
  assertScimError(() => parsePatchRequest(body({ op: "replace", path: 42, value: "x" })), {
    status: 400,
    scimType: "invalidPath",
    detail: 'Operation 1: "path" must be a string',
  });
});

Deno.test("parsePatchRequest() - rejects more than 1000 operations", () => {
  const operations = Array.from(
    { length: MAX_PATCH_OPERATIONS + 1 },
    () => ({ op: "add", path: "members", value: [{ value: "u1" }] }),
  );
  assertScimError(() => parsePatchRequest(body(...operations)), {
    status: 400,
    scimType: "tooMany",
    detail: "Too many operations: 1001 exceeds the limit of 1000",
  });
  assert.equal(parsePatchRequest(body(...operations.slice(1))).length, MAX_PATCH_OPERATIONS);
});

Deno.test("parsePatchRequest() - accepts Entra's member removal by value array", () => {
  const ops = parsePatchRequest(body(
    { op: "Remove", path: "members", value: [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }] },
    { op: "remove", value: { members: [{ value: "u2" }] } },
  ));
  assert.equal(ops.length, 2);
  assert.deepEqual(ops[0].value, [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }]);
});

Deno.test("parsePatchRequest() - rejects reserved keys and paths", () => {
  assertScimError(
    () =>
      parsePatchRequest(
        JSON.parse(`{"schemas":["${PATCH_OP}"],"Operations":[
          {"op":"add","path":"title","value":"x"},
          {"op":"replace","value":{"__proto__":{"polluted":true}}}]}`),
      ),
    { status: 400, scimType: "invalidValue", detail: /^Operation 2: .*"__proto__"/ },
  );
  assertScimError(
    () => parsePatchRequest(body({ op: "add", path: "constructor.prototype", value: "x" })),
    { status: 400, scimType: "invalidPath", detail: /^Operation 1: .*reserved name/ },
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
