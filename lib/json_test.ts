import assert from "node:assert/strict";
import {
  canonicalJson,
  cloneJson,
  deepEqual,
  deepFreeze,
  isPlainObject,
  ownValue,
} from "./json.ts";

Deno.test("isPlainObject() accepts only JSON objects", () => {
  assert.equal(isPlainObject({}), true);
  assert.equal(isPlainObject(JSON.parse('{"a":1}')), true);
  assert.equal(isPlainObject(Object.create(null)), true);
  assert.equal(isPlainObject([]), false);
  assert.equal(isPlainObject(null), false);
  assert.equal(isPlainObject(new Date()), false);
  assert.equal(isPlainObject("x"), false);
});

Deno.test("ownValue() never reads an inherited value", () => {
  const object: Record<string, unknown> = { a: 1 };
  assert.equal(ownValue(object, "a"), 1);
  assert.equal(ownValue(object, "constructor"), undefined);
  assert.equal(ownValue(object, "toString"), undefined);
});

Deno.test("cloneJson() copies deeply and keeps __proto__ an own key", () => {
  const value = JSON.parse('{"a":[{"b":1}],"__proto__":{"polluted":true}}');
  const copy = cloneJson(value);
  assert.deepEqual(copy, value);
  assert.notEqual(copy.a, value.a);
  assert.notEqual(copy.a[0], value.a[0]);
  assert.equal(Object.hasOwn(copy, "__proto__"), true);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(cloneJson("x"), "x");
  assert.equal(cloneJson(null), null);
});

Deno.test("canonicalJson() ignores key order, not array order", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: 2, c: 3 } }),
    canonicalJson({ a: { c: 3, d: 2 }, b: 1 }),
  );
  assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
});

Deno.test("deepEqual() compares JSON values structurally", () => {
  assert.equal(deepEqual({ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] }), true);
  assert.equal(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), true);
  assert.equal(deepEqual({ a: 1 }, { a: 1, b: undefined }), false);
  assert.equal(deepEqual([1, 2], [2, 1]), false);
  assert.equal(deepEqual("1", 1), false);
  assert.equal(deepEqual(null, {}), false);
});

Deno.test("deepFreeze() freezes everything reachable", () => {
  const value = deepFreeze({ a: [{ b: 1 }], c: "x" });
  assert.equal(Object.isFrozen(value), true);
  assert.equal(Object.isFrozen(value.a), true);
  assert.equal(Object.isFrozen(value.a[0]), true);
});
