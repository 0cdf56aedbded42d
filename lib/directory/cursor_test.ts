import assert from "node:assert/strict";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { InvalidCursorError } from "../store/kv.ts";

Deno.test("decodeCursor() returns the position encodeCursor() wrote", () => {
  const c = encodeCursor("users:all", ["5f0c6b1e-Zoë"]);
  assert.match(c, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeCursor(c, "users:all", 1), ["5f0c6b1e-Zoë"]);
});

Deno.test("decodeCursor() refuses garbage, other listings and other shapes", () => {
  const bad = [
    "",
    "!!!",
    "a",
    "eyJ2IjoxfQ", // {"v":1}
    encodeCursor("groups:all", ["a", "b"]),
    encodeCursor("users:all", ["a", "b"]),
    btoa(JSON.stringify({ v: 1, l: "users:all", p: [""] })),
    btoa(JSON.stringify({ v: 1, l: "users:all", p: ["a"], x: 1 })),
  ];
  for (const c of bad) {
    assert.throws(() => decodeCursor(c, "users:all", 1), InvalidCursorError, c);
  }
});
