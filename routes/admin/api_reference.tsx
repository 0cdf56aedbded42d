/**
 * The API reference page (`/admin/api-reference`, every admin): the directory API as its
 * OpenAPI document describes it — authentication, then each endpoint with its scope, parameters,
 * response fields and errors, and an example `curl` against this tenant's real base URL. Rendered
 * from the same document `/api/v1/openapi.json` serves, so it cannot drift from the API.
 * @module
 */
import { Hono } from "hono";
import { type AdminEnv, page } from "./_shared.tsx";
import { API_BASE, apiDocument } from "../api/mod.ts";

/** `/admin/api-reference`. */
export const apiReference = new Hono<AdminEnv>();

type Json = Record<string, unknown>;

interface Param {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Json;
}

function resolve(doc: Json, node: unknown): Json {
  let n = (node ?? {}) as Json;
  for (let i = 0; i < 8 && typeof n.$ref === "string"; i++) {
    n = (n.$ref as string).slice(2).split("/").reduce<unknown>(
      (at, part) => (at as Json | undefined)?.[part],
      doc,
    ) as Json ?? {};
  }
  return n;
}

/** A schema's type in a few words: `string`, `string | null`, `array of User`. */
function typeOf(doc: Json, schema: unknown): string {
  const s = (schema ?? {}) as Json;
  if (typeof s.$ref === "string") return (s.$ref as string).split("/").at(-1)!;
  if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf)) {
    return ((s.anyOf ?? s.oneOf) as unknown[]).map((x) => typeOf(doc, x)).join(" | ");
  }
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  const types = Array.isArray(s.type) ? (s.type as string[]) : s.type ? [String(s.type)] : [];
  if (types.includes("array")) return `array of ${typeOf(doc, s.items)}`;
  if (types.includes("object") && !s.properties) return "object";
  return types.join(" | ") || "any";
}

function constraints(schema: Json): string {
  const parts: string[] = [];
  if (schema.minimum !== undefined) parts.push(`min ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`max ${schema.maximum}`);
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`);
  return parts.join(", ");
}

/** Renders `code spans` of a description. */
function Text({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <>
      {text.split("`").map((part, i) => i % 2 ? <code key={i}>{part}</code> : part)}
    </>
  );
}

function Fields({ doc, schema }: { doc: Json; schema: unknown }) {
  const s = resolve(doc, schema);
  const props = (s.properties ?? {}) as Record<string, Json>;
  const required = new Set((s.required ?? []) as string[]);
  return (
    <div class="table-scroll">
      <table class="table">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Type</th>
            <th scope="col">About</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(props).map(([name, p]) => (
            <tr key={name}>
              <td>
                <code>{name}</code>
                {!required.has(name) && <span class="muted">&nbsp;(optional)</span>}
              </td>
              <td>
                <code>{typeOf(doc, p)}</code>
              </td>
              <td>
                <Text text={(p.description ?? resolve(doc, p).description) as string | undefined} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Endpoint(
  { doc, path, op, base }: { doc: Json; path: string; op: Json; base: string },
) {
  const params = (op.parameters ?? []) as Param[];
  const responses = (op.responses ?? {}) as Record<string, Json>;
  const ok = responses["200"]?.content as Json | undefined;
  const okSchema = (ok?.["application/json"] as Json | undefined)?.schema;
  const anchor = `op-${path.replace(/[^A-Za-z0-9]+/g, "-")}`;
  const secured = Array.isArray(op.security) && op.security.length > 0;
  const example = path.replace(/\{(\w+)\}/g, (_, n: string) => `<${n}>`);
  const curl = secured
    ? `curl -H "Authorization: Bearer $WEFT_API_KEY" '${base}${example}'`
    : `curl '${base}${example}'`;
  return (
    <section class="card stack" id={anchor} aria-labelledby={`${anchor}-title`}>
      <h2 id={`${anchor}-title`}>
        <code>GET {API_BASE}{path}</code> — {String(op.summary ?? "")}
      </h2>
      <p>
        <Text text={op.description as string | undefined} />
      </p>
      {params.length > 0 && (
        <>
          <h3>Parameters</h3>
          <div class="table-scroll">
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">In</th>
                  <th scope="col">Type</th>
                  <th scope="col">About</th>
                </tr>
              </thead>
              <tbody>
                {params.map((p) => (
                  <tr key={`${p.in}-${p.name}`}>
                    <td>
                      <code>{p.name}</code>
                      {p.required && <span class="muted">&nbsp;(required)</span>}
                    </td>
                    <td>{p.in}</td>
                    <td>
                      <code>{typeOf(doc, p.schema)}</code>{" "}
                      <span class="muted">{constraints(p.schema ?? {})}</span>
                    </td>
                    <td>
                      <Text text={p.description ?? (p.schema?.description as string | undefined)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {okSchema !== undefined && (
        <>
          <h3>
            Response <code>200</code>: <code>{typeOf(doc, okSchema)}</code>
          </h3>
          <Fields doc={doc} schema={okSchema} />
        </>
      )}
      <h3>Errors</h3>
      <ul>
        {Object.entries(responses).filter(([status]) => status !== "200").map(([status, r]) => (
          <li key={status}>
            <code>{status}</code> <Text text={r.description as string | undefined} />
          </li>
        ))}
      </ul>
      <h3>Example</h3>
      <pre><code>{curl}</code></pre>
    </section>
  );
}

apiReference.get("/", (c) => {
  const doc = apiDocument();
  const base = `${c.get("origin")}${API_BASE}`;
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const schemas = ((doc.components as Json).schemas ?? {}) as Record<string, Json>;
  const shapes = ["User", "Group", "Role", "Event", "Error"].filter((n) => schemas[n]);
  return page(
    c,
    { title: "API reference", section: "apiref" },
    (
      <>
        <section class="card stack" aria-labelledby="api-auth">
          <h2 id="api-auth">Authentication and conventions</h2>
          <p>
            Base URL: <code>{base}</code>. Send a tenant API key (Settings → API keys) as{" "}
            <code>Authorization: Bearer weft_api_…</code>. Keys carry scopes:{" "}
            <code>directory:read</code> for users, groups and roles, <code>events:read</code>{" "}
            for the events feed.
          </p>
          <p>
            Lists answer <code>{'{"object": "list", "data": […], "next_cursor": …}'}</code>: pass
            {" "}
            <code>next_cursor</code> back as <code>cursor</code> (for events, as{" "}
            <code>after</code>) until it is null. Errors answer{" "}
            <code>{'{"error": {"code": …, "message": …}}'}</code> with the HTTP status.
          </p>
          <p>
            The machine-readable document: <a href={`${API_BASE}/openapi.json`}>openapi.json</a>
            {" "}
            (OpenAPI {String(doc.openapi)}).
          </p>
          <nav aria-label="Endpoints">
            <ul>
              {Object.entries(paths).map(([path, ops]) => (
                <li key={path}>
                  <a href={`#op-${path.replace(/[^A-Za-z0-9]+/g, "-")}`}>
                    <code>GET {API_BASE}{path}</code>
                  </a>{" "}
                  {String(ops.get?.summary ?? "")}
                </li>
              ))}
            </ul>
          </nav>
        </section>
        {Object.entries(paths).map(([path, ops]) =>
          ops.get ? <Endpoint key={path} doc={doc} path={path} op={ops.get} base={base} /> : null
        )}
        {shapes.map((name) => (
          <section class="card stack" key={name} id={`schema-${name}`}>
            <h2>
              <code>{name}</code>
            </h2>
            <Fields doc={doc} schema={schemas[name]} />
          </section>
        ))}
      </>
    ),
  );
});
