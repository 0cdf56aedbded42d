import assert from "node:assert/strict";
import { CodecError, decodeKey, decodeValue, encodeKey, encodeValue, type Json } from "./codec.ts";

/** Through the store and back, as a backup and a restore do it. */
async function throughKv(value: unknown): Promise<unknown> {
  await using a = await Deno.openKv(":memory:");
  await using b = await Deno.openKv(":memory:");
  await a.set(["x"], value);
  const text = JSON.stringify(encodeValue((await a.get(["x"])).value));
  await b.set(["x"], decodeValue(JSON.parse(text) as Json));
  return (await b.get(["x"])).value;
}

Deno.test("encodeValue() / decodeValue() - every value Weft stores comes back exactly", async () => {
  const values: unknown[] = [
    null,
    true,
    "text ⟨U+200B⟩ \u200b",
    42,
    1.5,
    -0,
    NaN,
    Infinity,
    12345678901234567890n,
    new Deno.KvU64(18446744073709551615n),
    new Uint8Array([0, 1, 254, 255]),
    new Uint8Array(),
    { a: [1, { b: null }, [new Uint8Array([7])]], c: undefined },
    { $: "u64", v: "1" },
    { $ref: "not a tag" },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    new Date(0),
    new Map([["k", new Set([1, 2])]]),
    /a+b/gi,
    [[["deep"]]],
  ];
  for (const v of values) {
    const back = await throughKv(v);
    assert.deepStrictEqual(back, v, `round trip of ${Deno.inspect(v)}`);
  }
  // A counter is a KvU64 only at the top of a value (KV's own encoding); it stays one.
  assert.ok((await throughKv(new Deno.KvU64(3n))) instanceof Deno.KvU64);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("encodeValue() - refuses a value it would change", () => {
  assert.throws(() => encodeValue(new Int32Array(2)), CodecError);
  assert.throws(() => encodeValue(new Error("x")), CodecError);
  assert.throws(() => encodeValue({ f: new (class Foo {})() }), CodecError);
});

Deno.test("decodeValue() - refuses unknown tags and malformed tagged values", () => {
  for (
    const bad of [{ $: "nope" }, { $: "u64", v: "-1" }, { $: "u64", v: 3 }, { $: "bytes", v: "@@" }]
  ) {
    assert.throws(() => decodeValue(bad as Json), CodecError, JSON.stringify(bad));
  }
});

Deno.test("encodeKey() / decodeKey() - key parts of every type", () => {
  const key: Deno.KvKey = ["t", "abc", 3, 2n ** 70n, true, new Uint8Array([1, 2])];
  assert.deepStrictEqual(decodeKey(JSON.parse(JSON.stringify(encodeKey(key)))), key);
  assert.throws(() => decodeKey([{ a: 1 }]), CodecError);
  assert.throws(() => decodeKey("t" as Json), CodecError);
});
