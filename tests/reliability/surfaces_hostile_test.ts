/**
 * Every route of every surface (console, console JSON, SCIM, the directory API, health, and whatever else the app
 * registers) against a real `deno serve` process, as an attacker on the network would send them:
 * control characters and invalid UTF-8 in every path parameter and in the query, redirect
 * targets that try to leave the origin or smuggle header bytes, bad cursors, huge bodies with and
 * without a length, huge headers, bytes outside ASCII in headers, a Host that is not a host,
 * wrong methods and content types — signed out and signed in. Each must be answered with a 4xx
 * (a console page asked for without a session may instead redirect to the sign-in page), no
 * answer may carry a header the HTTP layer would refuse, and after every case the process must
 * still be up and answering `/healthz`: a runtime panic in the HTTP layer cannot be caught in
 * JavaScript, so only a real server shows it.
 *
 * The routes come from the app itself (`app.routes`), so a route added later joins the corpus
 * without anyone listing it here; a route whose parameters this file cannot fill fails the test.
 * @module
 */
import assert from "node:assert/strict";
import { createApp } from "../../routes/mod.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { createSetupLink, hashSetupSecret } from "../../lib/auth/admin.ts";
import { CONSOLE_MAX_BYTES, SIGN_IN_MAX_BYTES } from "../../lib/http/limits.ts";
import { csrfOf, httpConsole } from "./_console.ts";
import {
  join,
  provision,
  report,
  type Server,
  startServer,
  withKv,
  withTempDir,
} from "./_server.ts";
import { createAdminFromLink } from "../../lib/store/admins.ts";
import { hashPassword } from "../../lib/auth/admin.ts";
import { createApiKey } from "../../lib/store/api_keys.ts";
import { API_MAX_BYTES } from "../../lib/http/limits.ts";

const PASSWORD = "violet tractor harbour quietly";
const SCIM_MAX = 64 * 1024;

/** A route as the app registers it. */
interface Route {
  method: string;
  path: string;
}

/** What the test knows of the running server. */
interface Target {
  server: Server;
  idpId: string;
  token: string;
  userId: string;
  groupId: string;
  tokenId: string;
  adminId: string;
  cookie: string;
  csrf: string;
  /** A directory API key (every scope) and its id. */
  apiKey: string;
  apiKeyId: string;
}

/** One hostile request. */
interface Case {
  name: string;
  method: string;
  /** Path and query, already encoded as sent. */
  target: string;
  headers?: Record<string, string>;
  body?: BodyInit | (() => ReadableStream<Uint8Array>);
  signedIn: boolean;
  /** A console page without a session may answer by redirecting to the sign-in page. */
  mayRedirectToSignIn?: boolean;
}

/** The routes the app registers (middleware and catch-alls as `ALL` wildcards). */
function appRoutes(): Route[] {
  const kv = { close() {} } as unknown as Deno.Kv;
  const app = createApp({ kv, config: loadConfig({ WEFT_LOG: "off" }), log: createLogger("off") });
  const seen = new Set<string>();
  const out: Route[] = [];
  for (const r of app.routes) {
    const key = `${r.method} ${r.path}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ method: r.method, path: r.path });
    }
  }
  return out;
}

/** Real values for each named parameter, so a hostile value is the only thing wrong. */
function paramValue(t: Target, path: string, name: string): string {
  switch (name) {
    case "idp":
      return t.idpId;
    case "tokenId":
      return t.tokenId;
    case "keyId":
      return t.apiKeyId;
    case "secret":
      return "weft_setup_" + "A".repeat(43);
    case "name":
      return "styles.css";
    case "link":
      return "0123456789ab";
    case "cert":
      return "0".repeat(64);
    case "request":
      return "_" + "0".repeat(40);
    case "log":
      return "01J00000000000000000000000";
    case "id":
      if (path.includes("/Users/") || path.startsWith("/admin/users/")) return t.userId;
      if (path.includes("/Groups/") || path.startsWith("/admin/groups/")) return t.groupId;
      if (path.startsWith("/api/v1/users/")) return t.userId;
      if (path.startsWith("/api/v1/groups/")) return t.groupId;
      if (path.startsWith("/admin/idps/") || path.startsWith("/admin/api/idps/")) return t.idpId;
      if (path.startsWith("/admin/admins/")) return t.adminId;
      if (path.includes("/ResourceTypes/")) return "User";
      if (path.includes("/Schemas/")) return "urn:ietf:params:scim:schemas:core:2.0:User";
      if (path.startsWith("/admin/events/")) return "01J00000000000000000000000";
      // An endpoint no tenant has: every webhook route answers it (404) like a real one's.
      if (path.startsWith("/admin/settings/webhooks/")) return "ep_01j00000000000000000000000";
      break;
    case "event":
      return "evt_0000000000000001";
    case "slug":
      return "engineering";
  }
  throw new Error(`No value for :${name} in ${path}: teach paramValue this route`);
}

/** Hostile values for one path segment, as sent (already percent-encoded). */
const SEGMENTS = [
  ["control character", "a%01b"],
  ["DEL", "a%7Fb"],
  ["CRLF and a header", "a%0D%0ASet-Cookie:%20x=1"],
  ["NUL", "%00"],
  ["invalid UTF-8", "%FF%FE"],
  ["overlong UTF-8", "%C0%AF"],
  ["lone surrogate", "%ED%A0%80"],
  ["traversal", "..%2F..%2F..%2Fetc%2Fpasswd"],
  ["right-to-left override", "%E2%80%AEnimda"],
  ["very long", "x".repeat(4000)],
] as const;

/** Query strings no route accepts, whatever its parameters. */
const QUERIES = [
  ["encoded control character in next", "next=%2Fadmin%2F%7F"],
  ["encoded CRLF in next", "next=%2Fadmin%0D%0ALocation:%20https://evil.example"],
  ["invalid UTF-8 in a parameter", "q=%FF%FE&cursor=%C3%28"],
  ["NUL in a parameter", "filter=userName%20eq%20%22%00%22"],
  ["query beyond the URL limit", "q=" + "a".repeat(40_000)],
] as const;

/** Expanded path with each parameter filled, and the parameter names. */
function fill(t: Target, route: Route): { path: string; params: string[] } {
  const params: string[] = [];
  const path = route.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    params.push(name);
    return encodeURIComponent(paramValue(t, route.path, name));
  }).replace(/\/\*$/, "/no-such-page");
  return { path, params };
}

/** The cases of one route. */
function casesOf(t: Target, route: Route, all: Route[]): Case[] {
  const out: Case[] = [];
  const { path, params } = fill(t, route);
  const methods = route.method === "ALL" ? ["GET", "POST"] : [route.method];
  const isConsole = path.startsWith("/admin");
  const isScim = path.startsWith("/scim/");
  const isApi = path.startsWith("/api/");
  // The directory API is tried without a key and with a valid one (what "signed in" means there).
  const asSignedIn = isConsole || isApi ? [false, true] : [false];
  for (const method of methods) {
    const page = isConsole && method === "GET";
    for (const signedIn of asSignedIn) {
      const who = signedIn ? "signed in" : "signed out";
      const base = { method, signedIn, mayRedirectToSignIn: page && !signedIn };
      // Hostile path parameters, one at a time.
      for (const name of params) {
        for (const [label, value] of SEGMENTS) {
          const bad = route.path.replace(
            /:([A-Za-z]+)/g,
            (_, n: string) => n === name ? value : encodeURIComponent(paramValue(t, route.path, n)),
          );
          // A hostile value in a parameter that names no record is a 404, or a 400 before that.
          out.push({
            ...base,
            name: `${method} ${route.path} ${who}, :${name} ${label}`,
            target: bad,
          });
        }
      }
      // Hostile queries on the real path.
      for (const [label, query] of QUERIES) {
        out.push({
          ...base,
          mayRedirectToSignIn: false,
          name: `${method} ${route.path} ${who}, ${label}`,
          target: `${path}?${query}`,
        });
      }
      // Bodies on routes that take one.
      if (method === "POST" || method === "PUT" || method === "PATCH") {
        const limit = isScim
          ? SCIM_MAX
          : isApi
          ? API_MAX_BYTES
          : /signin|signout|setup/.test(path)
          ? SIGN_IN_MAX_BYTES
          : isConsole
          ? CONSOLE_MAX_BYTES
          : 16 * 1024;
        const type = isScim ? "application/scim+json" : "application/x-www-form-urlencoded";
        out.push(
          {
            ...base,
            name: `${method} ${route.path} ${who}, body over the limit with a length`,
            target: path,
            headers: { "content-type": type },
            body: "a".repeat(limit + 1),
          },
          {
            ...base,
            name: `${method} ${route.path} ${who}, 2 MiB streamed without a length`,
            target: path,
            headers: { "content-type": type },
            body: () => streamOf(2 * 1024 * 1024),
          },
          {
            ...base,
            name: `${method} ${route.path} ${who}, body that is not UTF-8`,
            target: path,
            headers: { "content-type": type },
            body: new Uint8Array([0x5f, 0x63, 0x3d, 0xff, 0xfe, 0xc3, 0x28]),
          },
          {
            ...base,
            name: `${method} ${route.path} ${who}, XML body`,
            target: path,
            headers: { "content-type": "application/xml" },
            body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
          },
          {
            ...base,
            name: `${method} ${route.path} ${who}, multipart without a boundary`,
            target: path,
            headers: { "content-type": "multipart/form-data" },
            body: "--x\r\n\r\n",
          },
        );
      }
      // A method the path does not have.
      for (const other of ["PUT", "DELETE", "PATCH"]) {
        if (route.method === "ALL") break;
        if (all.some((r) => r.path === route.path && (r.method === other || r.method === "ALL"))) {
          continue;
        }
        out.push({
          ...base,
          mayRedirectToSignIn: false,
          name: `${other} ${route.path} ${who} (not a method of it)`,
          method: other,
          target: path,
        });
      }
    }
  }
  return out;
}

/** A body stream of `size` bytes, sent without a length. */
function streamOf(size: number): ReadableStream<Uint8Array> {
  const chunk = new TextEncoder().encode("a".repeat(64 * 1024));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.length;
    },
  });
}

/** Header values the HTTP layer refuses to write (it aborts the process instead). */
// deno-lint-ignore no-control-regex -- control characters are what is looked for
const UNSENDABLE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Sends one case; returns a problem, or null when it was answered as it must be. */
async function run(t: Target, c: Case): Promise<string | null> {
  const headers = new Headers(c.headers);
  const origin = t.server.origin;
  if (c.signedIn && c.target.startsWith("/api/")) {
    headers.set("authorization", `Bearer ${t.apiKey}`);
  } else if (c.signedIn) {
    headers.set("cookie", t.cookie);
    headers.set("x-csrf-token", t.csrf);
  }
  if (c.method !== "GET") headers.set("origin", origin);
  if (c.target.startsWith("/scim/")) headers.set("authorization", `Bearer ${t.token}`);
  const body = typeof c.body === "function" ? c.body() : c.body;
  let res: Response;
  try {
    res = await fetch(origin + c.target, {
      method: c.method,
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
  } catch (error) {
    // The server may close a connection it refused while the body is still being sent.
    if (t.server.exited()) return `${c.name}: the server exited`;
    if (body instanceof ReadableStream || (typeof c.body === "string" && c.body.length > 4096)) {
      return null;
    }
    return `${c.name}: no answer (${error})`;
  }
  for (const [name, value] of res.headers) {
    if (UNSENDABLE.test(value)) return `${c.name}: header ${name} holds a control character`;
  }
  const toSignIn = res.status === 302 &&
    (res.headers.get("location") ?? "").startsWith("/admin/signin");
  if (res.status >= 400 && res.status < 500) return null;
  if (c.mayRedirectToSignIn && toSignIn) return null;
  return `${c.name}: answered ${res.status}`;
}

/** Whether the server still answers its health check. */
async function alive(server: Server): Promise<boolean> {
  if (server.exited()) return false;
  try {
    const res = await fetch(`${server.origin}/healthz`, { signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Raw bytes on a fresh connection: for what `fetch` will not send (bad Host, raw bytes). */
async function raw(server: Server, request: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(request);
    const buf = new Uint8Array(4096);
    const n = await Promise.race([
      conn.read(buf),
      new Promise<null>((r) => setTimeout(() => r(null), 5000)),
    ]);
    return n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
  } catch {
    return "";
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

function bytes(...parts: (string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "string") { for (const ch of p) out.push(ch.charCodeAt(0) & 0xff); }
    else out.push(...p);
  }
  return new Uint8Array(out);
}

Deno.test({
  name: "Hostile requests to every route of every surface: a 4xx each, never a panic",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, "hostile");
      const idp = p.idps[0];
      const adminId = await withKv(kvPath, async (kv) => {
        const { url } = await createSetupLink(kv, p.tenant.id, "http://x", {
          role: "super_admin",
          createdBy: "test",
        });
        const admin = await createAdminFromLink(
          kv,
          p.tenant.id,
          await hashSetupSecret(url.slice(url.lastIndexOf("/") + 1)),
          { email: "root@hostile.test", passwordHash: await hashPassword(PASSWORD) },
        );
        return admin.id;
      });
      const apiKey = await withKv(
        kvPath,
        (kv) => createApiKey(kv, p.tenant.id, { name: "hostile", createdBy: "test" }),
      );
      const server = await startServer({ kvPath, tenant: "hostile", logLevel: "off" });
      try {
        const scim = (method: string, path: string, body: unknown) =>
          fetch(`${server.origin}/scim/v2/inbound/${idp.idp.id}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${idp.token}`,
              "content-type": "application/scim+json",
            },
            body: JSON.stringify(body),
          }).then((r) => r.json());
        const user = await scim("POST", "/Users", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
          userName: "target@hostile.test",
          externalId: "target",
        });
        const group = await scim("POST", "/Groups", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
          displayName: "Targets",
        });
        const signIn = await httpConsole(server.origin, {
          path: "/admin/signin",
          form: { email: "root@hostile.test", password: PASSWORD },
        });
        assert.equal(signIn.status, 303, signIn.text.slice(0, 300));
        const cookie = signIn.cookie!;
        const home = await fetch(`${server.origin}/admin`, { headers: { cookie } });
        const csrf = csrfOf(await home.text());
        const t: Target = {
          server,
          idpId: idp.idp.id,
          token: idp.token,
          userId: String(user.id),
          groupId: String(group.id),
          tokenId: idp.tokenId,
          adminId,
          cookie,
          csrf,
          apiKey: apiKey.secret,
          apiKeyId: apiKey.key.id,
        };

        const routes = appRoutes();
        // Sign-out ends the session the other cases use: it goes last.
        const ordered = [
          ...routes.filter((r) => !r.path.endsWith("/signout")),
          ...routes.filter((r) => r.path.endsWith("/signout")),
        ];
        const cases = ordered.flatMap((r) => casesOf(t, r, routes));
        const problems: string[] = [];
        let sent = 0;
        for (const c of cases) {
          const problem = await run(t, c);
          sent++;
          if (problem) problems.push(problem);
          if (!(await alive(server))) {
            problems.push(`${c.name}: the server stopped answering`);
            break;
          }
        }

        // What fetch will not send, on raw connections.
        const rawCases: [string, Uint8Array][] = [
          ["Host that is not a host", bytes('GET /admin HTTP/1.1\r\nHost: a b"<>\r\n\r\n')],
          [
            "bytes outside ASCII in Cookie, Origin, User-Agent, X-Request-Id",
            bytes(
              "POST /admin/signin HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: weft_session=",
              [0xff, 0xfe],
              "\r\nOrigin: http://",
              [0xc3, 0x28],
              "\r\nUser-Agent: ",
              [0x80, 0x81],
              "\r\nX-Request-Id: ",
              [0xe2, 0x80, 0xae],
              "\r\nContent-Length: 0\r\n\r\n",
            ),
          ],
          [
            "bytes outside ASCII in Authorization",
            bytes(
              `GET /scim/v2/inbound/${t.idpId}/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer `,
              [0xff, 0xc3, 0x28],
              "\r\n\r\n",
            ),
          ],
          [
            "a control character in a header value",
            bytes("GET /admin/signin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a", [1], "b\r\n\r\n"),
          ],
          [
            "a raw control character in the request target",
            bytes("GET /admin/signin?next=/admin/", [0x7f], " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
          ],
          [
            "a 256 KiB header",
            bytes(
              `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(262_144)}\r\n\r\n`,
            ),
          ],
          [
            "a 100 KiB request line",
            bytes(`GET /admin?q=${"a".repeat(102_400)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
          ],
          [
            "a request that is not HTTP",
            bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
          ],
        ];
        for (const [name, request] of rawCases) {
          const answer = await raw(server, request);
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
          sent++;
          // The HTTP layer may close a connection it cannot parse without answering.
          if (status !== 0 && (status < 400 || status >= 500)) {
            problems.push(`raw ${name}: answered ${status}`);
          }
          if (!(await alive(server))) {
            problems.push(`raw ${name}: the server stopped answering`);
            break;
          }
        }

        report(
          `hostile surfaces: ${routes.length} routes, ${sent} requests, ${problems.length} mishandled`,
        );
        assert.deepEqual(problems, [], `\n${problems.slice(0, 40).join("\n")}`);
      } finally {
        const stderr = server.stderr();
        await server.stop();
        assert.doesNotMatch(stderr, /panicked/, stderr.slice(-2000));
      }
    });
  },
});
