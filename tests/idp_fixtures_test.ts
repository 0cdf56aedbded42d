/**
 * Replays recorded IdP traffic (Okta, Entra ID, other clients) from `tests/fixtures/<idp>/*.json`
 * against the app on an in-memory KV: one test per fixture file, one step per request.
 *
 * Fixture format (elimity-com/scim style, extended to sequences):
 *
 * ```json
 * { "description": "what the IdP does, the quirk row (O5, E3, X1, P2…) and its source",
 *   "headers": { "user-agent": "Okta SCIM Client 1.0.0" },
 *   "contentType": "application/scim+json; charset=utf-8",
 *   "env": { "WEFT_MAX_RESULTS": "200" },
 *   "steps": [
 *     { "name": "create", "method": "POST", "path": "/Users", "request": { "userName": "…" },
 *       "status": 201, "response": { "id": "$string" }, "save": { "userId": "id" } },
 *     { "method": "PATCH", "path": "/Users/{{userId}}", "request": { "Operations": [] },
 *       "status": [200, 204] }
 *   ] }
 * ```
 *
 * Steps:
 * - `path` is appended to the IdP base URL exactly as written (raw query strings, `//Users`,
 *   `/users/`); a path starting with `http` is used as is.
 * - `request` is the body: JSON for objects/arrays, sent verbatim when a string (bad-JSON cases).
 * - `headers` add to (or, with `null`, remove) the defaults: `authorization: Bearer <token>` and,
 *   when there is a body, `content-type` (the fixture's `contentType`, else
 *   `application/scim+json`). Fixture-level `headers` apply to every step.
 * - `status` is a number or a list of acceptable numbers.
 * - `response` is matched as a deep subset of the JSON body (see {@linkcode match}); it is skipped
 *   when the answer is a permitted 204. `responseByStatus` (`{"200": …, "400": …}`) picks the
 *   expectation by the actual status. `responseHeaders` matches headers (lower-case names).
 * - `save` maps a variable to a path in the body (`"Resources.0.id"`; keys containing dots such
 *   as URNs are matched whole; `""` is the whole body; `"header:etag"` a header). Saving happens
 *   before matching, so a step may refer to its own saved values.
 * - `noNulls: true` asserts the body contains no JSON `null` anywhere.
 * - `parallel: [step, …]` sends its steps concurrently, then checks each.
 *
 * `{{name}}` placeholders are replaced in `path`, `request`, `headers` and the expectations by
 * saved values and the built-ins `base` (IdP base URL, no trailing slash), `origin`, `idpId` and
 * `token`. A string that is exactly `"{{name}}"` takes the saved value with its JSON type. An
 * object `{"$merge": [a, b, …]}` is the deep merge of its (substituted) parts (arrays replace).
 *
 * Every response with a body must be `application/scim+json`; every 4xx/5xx must be an RFC 7644
 * §3.12 error (`schemas` = [Error URN], `status` the status as a string, a `detail` string); a 204
 * must have an empty body.
 * @module
 */
import { createTestApp, type TestApp } from "./_helpers.ts";
import { isPlainObject } from "../lib/json.ts";

const ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error";
const FIXTURES = new URL("./fixtures/", import.meta.url);
const FOLDERS = ["okta", "entra", "other"];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Step {
  name?: string;
  method?: string;
  path?: string;
  request?: Json;
  headers?: Record<string, string | null>;
  status?: number | number[];
  response?: Json;
  responseByStatus?: Record<string, Json>;
  responseHeaders?: Record<string, Json>;
  save?: Record<string, string>;
  noNulls?: boolean;
  parallel?: Step[];
}

interface Fixture {
  description: string;
  headers?: Record<string, string | null>;
  contentType?: string;
  env?: Record<string, string>;
  steps: Step[];
}

const STEP_KEYS = new Set([
  "name",
  "method",
  "path",
  "request",
  "headers",
  "status",
  "response",
  "responseByStatus",
  "responseHeaders",
  "save",
  "noNulls",
  "parallel",
]);
const FIXTURE_KEYS = new Set(["description", "headers", "contentType", "env", "steps"]);

/** Rejects typos in fixture files (`"respone"` would otherwise silently check nothing). */
function validateFixture(file: string, f: Fixture): void {
  const bad = (msg: string) => {
    throw new Error(`${file}: ${msg}`);
  };
  if (typeof f.description !== "string" || f.description.length < 10) {
    bad("needs a description naming the quirk row and its source");
  }
  for (const k of Object.keys(f)) if (!FIXTURE_KEYS.has(k)) bad(`unknown fixture key "${k}"`);
  if (!Array.isArray(f.steps) || f.steps.length === 0) bad("needs steps");
  const check = (s: Step, where: string, inParallel: boolean) => {
    for (const k of Object.keys(s)) if (!STEP_KEYS.has(k)) bad(`${where}: unknown key "${k}"`);
    if (s.parallel) {
      if (inParallel) bad(`${where}: nested parallel`);
      s.parallel.forEach((p, i) => check(p, `${where}.parallel[${i}]`, true));
      return;
    }
    if (typeof s.method !== "string" || typeof s.path !== "string") {
      bad(`${where}: needs method and path`);
    }
    if (s.status === undefined) bad(`${where}: needs status`);
  };
  f.steps.forEach((s, i) => check(s, `step ${i + 1}`, false));
}

// ---------------------------------------------------------------------------------------------
// Placeholders

type Vars = Map<string, unknown>;

function substitute(value: unknown, vars: Vars): unknown {
  if (typeof value === "string") {
    const whole = /^\{\{([\w.-]+)\}\}$/.exec(value);
    if (whole) return lookupVar(whole[1], vars);
    return value.replace(/\{\{([\w.-]+)\}\}/g, (_, name: string) => {
      const v = lookupVar(name, vars);
      return typeof v === "string" ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === "$merge") {
      const parts = substitute(obj.$merge, vars);
      if (!Array.isArray(parts)) throw new Error(`"$merge" takes a list of objects`);
      return parts.reduce((acc, p) => deepMerge(acc, p), {});
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      out[substitute(k, vars) as string] = substitute(v, vars);
    }
    return out;
  }
  return value;
}

function lookupVar(name: string, vars: Vars): unknown {
  if (!vars.has(name)) {
    throw new Error(`fixture uses {{${name}}}, which no earlier step saved`);
  }
  return structuredClone(vars.get(name));
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(a) || !isPlainObject(b)) return structuredClone(b);
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in a ? deepMerge(a[k], v) : v;
  return out;
}

/**
 * Reads `Resources.0.id` or `urn:…:enterprise:2.0:User.manager.value` from a body: at each level
 * the longest key that prefixes the rest of the path wins, so keys with dots work.
 */
export function getPath(body: unknown, path: string): unknown {
  if (path === "" || path === "$") return body;
  let cur: unknown = body;
  let rest = path;
  while (rest !== "") {
    if (Array.isArray(cur)) {
      const m = /^(\d+)(?:\.|$)/.exec(rest);
      if (!m) return undefined;
      cur = cur[Number(m[1])];
      rest = rest.slice(m[0].length);
    } else if (isPlainObject(cur)) {
      const obj = cur;
      const key = Object.keys(obj)
        .filter((k) => rest === k || rest.startsWith(k + "."))
        .sort((x, y) => y.length - x.length)[0];
      if (key === undefined) return undefined;
      cur = obj[key];
      rest = rest.slice(key.length + 1);
    } else {
      return undefined;
    }
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// Matching

/**
 * Deep-subset match; returns the first mismatch as a message, or null.
 *
 * - objects: every listed key must match (`"$absent"`: key not present; `"$empty"`: absent, null,
 *   `""` or `[]`); extra keys in the actual object are allowed.
 * - arrays: same length, element-wise subset match.
 * - `{"$contains": [e…]}`: actual array has, for each e, a distinct element matching it.
 * - `{"$unordered": [e…]}`: same length and a distinct matching element for each e.
 * - `{"$not": e}`: does not match e. `{"$anyOf": [e…]}`: matches one of them.
 * - `{"$length": n}`: an array (or string) of that length.
 * - `{"$regex": "^\\d+$"}`: a string matching the regular expression.
 * - `"$any"` (present, any value), `"$string"` (non-empty string), `"$integer"`, `"$boolean"`.
 * - anything else: strict JSON equality (so `1` ≠ `"1"`, `false` ≠ `"False"`).
 */
export function match(expected: unknown, actual: unknown, at = "$"): string | null {
  const show = (v: unknown) => v === undefined ? "(absent)" : JSON.stringify(v);
  if (typeof expected === "string" && expected.startsWith("$")) {
    switch (expected) {
      case "$any":
        return actual === undefined ? `${at}: expected a value, got (absent)` : null;
      case "$string":
        return typeof actual === "string" && actual !== ""
          ? null
          : `${at}: expected a non-empty string, got ${show(actual)}`;
      case "$integer":
        return Number.isInteger(actual) ? null : `${at}: expected an integer, got ${show(actual)}`;
      case "$boolean":
        return typeof actual === "boolean"
          ? null
          : `${at}: expected a boolean, got ${show(actual)}`;
      case "$absent":
        return actual === undefined ? null : `${at}: expected no such key, got ${show(actual)}`;
      case "$empty":
        return actual === undefined || actual === null || actual === "" ||
            (Array.isArray(actual) && actual.length === 0)
          ? null
          : `${at}: expected absent/null/""/[], got ${show(actual)}`;
    }
  }
  if (isPlainObject(expected)) {
    const keys = Object.keys(expected);
    if (keys.length === 1 && keys[0].startsWith("$")) {
      const arg = expected[keys[0]];
      switch (keys[0]) {
        case "$contains":
        case "$unordered": {
          if (!Array.isArray(actual)) return `${at}: expected an array, got ${show(actual)}`;
          const wanted = arg as unknown[];
          if (keys[0] === "$unordered" && wanted.length !== actual.length) {
            return `${at}: expected ${wanted.length} elements (any order), got ${actual.length}: ${
              show(actual)
            }`;
          }
          const used = new Set<number>();
          for (const [i, w] of wanted.entries()) {
            const hit = actual.findIndex((a, j) => !used.has(j) && match(w, a) === null);
            if (hit < 0) {
              return `${at}: no element matches expected[${i}] ${show(w)}; actual ${show(actual)}`;
            }
            used.add(hit);
          }
          return null;
        }
        case "$not":
          return match(arg, actual, at) === null
            ? `${at}: expected not ${show(arg)}, got ${show(actual)}`
            : null;
        case "$anyOf":
          return (arg as unknown[]).some((e) => match(e, actual, at) === null)
            ? null
            : `${at}: expected one of ${show(arg)}, got ${show(actual)}`;
        case "$regex":
          return typeof actual === "string" && new RegExp(String(arg)).test(actual)
            ? null
            : `${at}: expected a string matching /${arg}/, got ${show(actual)}`;
        case "$length": {
          const len = Array.isArray(actual) || typeof actual === "string"
            ? actual.length
            : undefined;
          return len === arg ? null : `${at}: expected length ${arg}, got ${show(actual)}`;
        }
      }
    }
    if (!isPlainObject(actual)) return `${at}: expected an object, got ${show(actual)}`;
    for (const k of keys) {
      const err = match(expected[k], actual[k], `${at}.${k}`);
      if (err) return err;
    }
    return null;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at}: expected an array, got ${show(actual)}`;
    if (expected.length !== actual.length) {
      return `${at}: expected ${expected.length} elements, got ${actual.length}: ${show(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const err = match(expected[i], actual[i], `${at}[${i}]`);
      if (err) return err;
    }
    return null;
  }
  return expected === actual ? null : `${at}: expected ${show(expected)}, got ${show(actual)}`;
}

function findNull(v: unknown, at = "$"): string | null {
  if (v === null) return at;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = findNull(v[i], `${at}[${i}]`);
      if (r) return r;
    }
  } else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const r = findNull(x, `${at}.${k}`);
      if (r) return r;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Running

interface Sent {
  step: Step;
  label: string;
  res: Response;
  text: string;
}

function label(step: Step): string {
  return `${step.method} ${step.path}`;
}

async function send(app: TestApp, fixture: Fixture, step: Step, vars: Vars): Promise<Sent> {
  const path = substitute(step.path, vars) as string;
  const url = path.startsWith("http") ? path : app.base + path;
  const body = step.request === undefined ? undefined : substitute(step.request, vars);
  const headers: Record<string, string> = { authorization: `Bearer ${app.token}` };
  if (body !== undefined) headers["content-type"] = fixture.contentType ?? "application/scim+json";
  for (const extra of [fixture.headers, step.headers]) {
    for (const [k, v] of Object.entries(extra ?? {})) {
      if (v === null) delete headers[k.toLowerCase()];
      else headers[k.toLowerCase()] = substitute(v, vars) as string;
    }
  }
  const init: RequestInit = { method: step.method, headers };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const res = await app.app.request(url, init);
  const text = await res.text();
  return { step, label: `${step.method} ${path}`, res, text };
}

function fail(sent: Sent, msg: string): never {
  const ct = sent.res.headers.get("content-type") ?? "(none)";
  const body = sent.text.length > 2000 ? sent.text.slice(0, 2000) + "…" : sent.text;
  throw new Error(
    `${sent.label}\n  ${msg}\n  actual: HTTP ${sent.res.status} content-type: ${ct}\n  body: ${
      body || "(empty)"
    }`,
  );
}

function check(sent: Sent, vars: Vars): void {
  const { step, res, text } = sent;
  const allowed = Array.isArray(step.status) ? step.status : [step.status];
  if (!allowed.includes(res.status)) {
    fail(sent, `expected status ${allowed.join(" or ")}, got ${res.status}`);
  }
  let body: unknown = undefined;
  if (res.status === 204 || res.status === 304) {
    if (text !== "") fail(sent, `a ${res.status} must have an empty body`);
  } else if (text !== "") {
    const ct = res.headers.get("content-type") ?? "";
    if (!/^application\/scim\+json\s*(;|$)/i.test(ct)) {
      fail(sent, `expected content-type application/scim+json, got "${ct}"`);
    }
    try {
      body = JSON.parse(text);
    } catch {
      fail(sent, "the body is not JSON");
    }
  } else if (res.status !== 204) {
    fail(sent, `a ${res.status} answer has an empty body`);
  }
  if (res.status >= 400) {
    const err = match(
      { schemas: [ERROR_URN], status: String(res.status), detail: "$string" },
      body,
    );
    if (err) fail(sent, `not an RFC 7644 §3.12 error body: ${err}`);
  }
  if (step.noNulls && body !== undefined) {
    const where = findNull(body);
    if (where) fail(sent, `expected no nulls, found null at ${where}`);
  }
  for (const [name, where] of Object.entries(step.save ?? {})) {
    const value = where.startsWith("header:")
      ? res.headers.get(where.slice("header:".length)) ?? undefined
      : getPath(body, where);
    if (value === undefined) fail(sent, `cannot save {{${name}}}: nothing at "${where}"`);
    vars.set(name, value);
  }
  const expected = step.responseByStatus?.[String(res.status)] ?? step.response;
  if (expected !== undefined && res.status !== 204) {
    const err = match(substitute(expected, vars), body);
    if (err) fail(sent, `body mismatch at ${err}`);
  }
  for (const [name, exp] of Object.entries(step.responseHeaders ?? {})) {
    const actual = res.headers.get(name) ?? undefined;
    const err = match(substitute(exp, vars), actual, `header ${name}`);
    if (err) fail(sent, `header mismatch: ${err}`);
  }
}

async function runStep(app: TestApp, fixture: Fixture, step: Step, vars: Vars): Promise<void> {
  if (step.parallel) {
    const all = await Promise.all(step.parallel.map((s) => send(app, fixture, s, vars)));
    for (const sent of all) check(sent, vars);
    return;
  }
  check(await send(app, fixture, step, vars), vars);
}

function stepName(i: number, step: Step): string {
  const what = step.parallel ? `parallel: ${step.parallel.map(label).join(" | ")}` : label(step);
  return `${String(i + 1).padStart(2, "0")} ${step.name ? `${step.name}: ` : ""}${what}`;
}

function fixtureFiles(): { name: string; url: URL }[] {
  const out: { name: string; url: URL }[] = [];
  for (const folder of FOLDERS) {
    const dir = new URL(`${folder}/`, FIXTURES);
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const e of entries.filter((e) => e.isFile && e.name.endsWith(".json"))) {
      out.push({ name: `${folder}/${e.name}`, url: new URL(e.name, dir) });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

for (const file of fixtureFiles()) {
  Deno.test(file.name, async (t) => {
    const fixture = JSON.parse(await Deno.readTextFile(file.url)) as Fixture;
    validateFixture(file.name, fixture);
    await using app = await createTestApp(fixture.env ?? {});
    const vars: Vars = new Map<string, unknown>([
      ["base", app.base],
      ["origin", new URL(app.base).origin],
      ["idpId", app.idp.id],
      ["token", app.token],
    ]);
    let failed = false;
    for (const [i, step] of fixture.steps.entries()) {
      const name = stepName(i, step);
      if (failed) {
        await t.step({ name, ignore: true, fn: () => {} });
        continue;
      }
      failed = !(await t.step(name, () => runStep(app, fixture, step, vars)));
    }
  });
}
