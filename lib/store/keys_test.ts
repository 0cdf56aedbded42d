import assert from "node:assert/strict";
import fc from "fast-check";
import { fitsKey, foldName } from "./keys.ts";

/** The full folding rule, without the ASCII shortcut. */
const ACCENTS = /(\p{Script=Latin}|\p{Script=Greek}|\p{Script=Cyrillic})\p{Mn}+/gu;
const slowFold = (name: string) =>
  name.normalize("NFKD").replace(ACCENTS, "$1").normalize("NFKC").toLowerCase().trim();

Deno.test("foldName: the ASCII shortcut folds every ASCII string as the full rule does", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary-ascii", maxLength: 80 }), (s) => {
      assert.equal(foldName(s), slowFold(s));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("foldName: non-ASCII names still fold accents, width and case", () => {
  assert.equal(foldName(" Zoë.Müller@Example.com "), "zoe.muller@example.com");
  assert.equal(foldName("ＡＤＭＩＮ"), "admin");
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => {
      assert.equal(foldName(s), slowFold(s));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("fitsKey: the short-string shortcut agrees with the byte count", () => {
  assert.equal(fitsKey("€".repeat(341)), true); // 1,023 bytes
  assert.equal(fitsKey("€".repeat(342)), false); // 1,026 bytes
  assert.equal(fitsKey("a".repeat(1024)), true);
  assert.equal(fitsKey("a".repeat(1025)), false);
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 600 }), (s) => {
      assert.equal(fitsKey(s), new TextEncoder().encode(s).length <= 1024);
    }),
    { numRuns: 500 },
  );
});
