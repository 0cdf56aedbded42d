/**
 * The backup file's encoding of KV keys and values: JSON that says exactly which structured-clone
 * value was stored, so a restore writes back the same value. Plain objects, arrays, strings,
 * booleans, null and finite numbers are themselves; everything else is a tagged object
 * `{"$": <tag>, "v": …}`:
 *
 * | tag     | value                                                                 |
 * | ------- | --------------------------------------------------------------------- |
 * | `u64`   | `Deno.KvU64` (decimal string)                                         |
 * | `big`   | bigint (decimal string)                                               |
 * | `num`   | `NaN`, `Infinity`, `-Infinity`, `-0`                                  |
 * | `undef` | undefined (no `v`)                                                    |
 * | `bytes` | `Uint8Array` (base64)                                                 |
 * | `date`  | `Date` (epoch milliseconds, or null for an invalid date)              |
 * | `map`   | `Map` (array of `[key, value]` pairs)                                 |
 * | `set`   | `Set` (array of values)                                               |
 * | `re`    | `RegExp` (`[source, flags]`)                                          |
 * | `obj`   | a plain object that itself has a `$` property (`v`: its properties)   |
 *
 * A value of any other kind (another typed array, an Error, a class instance) is refused with an
 * error naming the record: Weft stores none, and a backup must never change one silently.
 * @module
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";

/** JSON as it appears in a backup file. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Thrown when a value cannot be encoded, or a file's encoding cannot be decoded. */
export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CodecError";
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Encodes a structured-clone value (as Deno KV returns it) as tagged JSON. */
export function encodeValue(v: unknown): Json {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { $: "num", v: Object.is(v, -0) ? "-0" : String(v) };
    case "bigint":
      return { $: "big", v: v.toString() };
    case "undefined":
      return { $: "undef" };
    case "object":
      break;
    default:
      throw new CodecError(`Cannot back up a value of type ${typeof v}`);
  }
  if (v === null) return null;
  if (v instanceof Deno.KvU64) return { $: "u64", v: v.value.toString() };
  if (v instanceof Uint8Array && v.constructor === Uint8Array) {
    return { $: "bytes", v: encodeBase64(v) };
  }
  if (Array.isArray(v)) return Array.from(v, encodeValue);
  if (v instanceof Date) {
    const t = v.getTime();
    return { $: "date", v: Number.isNaN(t) ? null : t };
  }
  if (v instanceof Map) {
    return { $: "map", v: [...v].map(([k, x]) => [encodeValue(k), encodeValue(x)]) };
  }
  if (v instanceof Set) return { $: "set", v: [...v].map(encodeValue) };
  if (v instanceof RegExp) return { $: "re", v: [v.source, v.flags] };
  if (!isPlainObject(v)) {
    throw new CodecError(`Cannot back up a value of class ${v.constructor?.name ?? "unknown"}`);
  }
  const out: { [key: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) out[k] = encodeValue(x);
  return Object.hasOwn(v, "$") ? { $: "obj", v: out } : out;
}

function str(v: Json | undefined, tag: string): string {
  if (typeof v !== "string") throw new CodecError(`A "${tag}" value must be a string`);
  return v;
}

function bigint(v: Json | undefined, tag: string): bigint {
  const s = str(v, tag);
  if (!/^-?\d{1,40}$/.test(s)) throw new CodecError(`A "${tag}" value must be a decimal integer`);
  return BigInt(s);
}

function decodeTagged(o: { [key: string]: Json }): unknown {
  const tag = o.$;
  const v = o.v;
  switch (tag) {
    case "u64": {
      const n = bigint(v, tag);
      if (n < 0n || n >= 1n << 64n) throw new CodecError("A u64 value is out of range");
      return new Deno.KvU64(n);
    }
    case "big":
      return bigint(v, tag);
    case "num": {
      const s = str(v, tag);
      if (s === "-0") return -0;
      if (s === "NaN" || s === "Infinity" || s === "-Infinity") return Number(s);
      throw new CodecError(`Unknown number "${s}"`);
    }
    case "undef":
      return undefined;
    case "bytes":
      try {
        return decodeBase64(str(v, tag));
      } catch {
        throw new CodecError("A bytes value is not base64");
      }
    case "date":
      if (v !== null && typeof v !== "number") throw new CodecError("A date must be a number");
      return new Date(v ?? NaN);
    case "map":
      if (!Array.isArray(v)) throw new CodecError("A map must be an array of pairs");
      return new Map(v.map((pair) => {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new CodecError("A map entry must be a pair");
        }
        return [decodeValue(pair[0]), decodeValue(pair[1])];
      }));
    case "set":
      if (!Array.isArray(v)) throw new CodecError("A set must be an array");
      return new Set(v.map(decodeValue));
    case "re":
      if (!Array.isArray(v) || typeof v[0] !== "string" || typeof v[1] !== "string") {
        throw new CodecError("A regular expression must be [source, flags]");
      }
      return new RegExp(v[0], v[1]);
    case "obj":
      if (!v || typeof v !== "object" || Array.isArray(v)) {
        throw new CodecError("An obj must be an object");
      }
      return decodeObject(v);
    default:
      throw new CodecError(`Unknown value tag ${JSON.stringify(tag)}`);
  }
}

function decodeObject(o: { [key: string]: Json }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    // Defined as an own property, so a "__proto__" key stays data, as KV stored it.
    Object.defineProperty(out, k, {
      value: decodeValue(x),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Decodes what {@linkcode encodeValue} wrote; throws {@linkcode CodecError} on anything else. */
export function decodeValue(v: Json): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(decodeValue);
  if (Object.hasOwn(v, "$")) return decodeTagged(v);
  return decodeObject(v);
}

/** Encodes a KV key: strings, finite numbers and booleans as themselves, the rest tagged. */
export function encodeKey(key: Deno.KvKey): Json[] {
  return key.map((part) => {
    if (typeof part === "symbol") throw new CodecError("Cannot back up a key with a symbol part");
    return encodeValue(part);
  });
}

/** Decodes a KV key written by {@linkcode encodeKey}; only key part types are accepted. */
export function decodeKey(json: Json): Deno.KvKey {
  if (!Array.isArray(json)) throw new CodecError("A key must be an array");
  return json.map((p) => {
    const part = decodeValue(p);
    if (
      typeof part === "string" || typeof part === "number" || typeof part === "bigint" ||
      typeof part === "boolean" || part instanceof Uint8Array
    ) return part;
    throw new CodecError(`A key part cannot be ${JSON.stringify(p)}`);
  });
}
