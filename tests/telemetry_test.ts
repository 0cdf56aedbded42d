/**
 * OpenTelemetry with `OTEL_DENO=true`, against a collector on loopback that receives OTLP/HTTP:
 * SCIM, SAML and console requests of a real server are spans named for their route, with the
 * tenant and IdP ids; their store operations are child spans in the same trace; and nothing the
 * server exports (spans, logs, metrics) holds a filter value, a userName or a token — except the
 * raw request target Deno records on its own request span (`url.full`, `url.path`, `url.query`),
 * which the collector must drop (README, "Telemetry"); the test drops them as that processor does.
 * @module
 */
import assert from "node:assert/strict";
import { startCollector } from "./_otlp_collector.ts";
import {
  join,
  provision,
  ScimClient,
  sleep,
  startServer,
  withTempDir,
} from "./reliability/_server.ts";

const sanitizers = { sanitizeResources: false, sanitizeOps: false };

/** An OTLP JSON body without the `url.full`, `url.path` and `url.query` attributes. */
function withoutRawUrls(body: string): string {
  return JSON.stringify(
    JSON.parse(body),
    (key, value) =>
      key === "attributes" && Array.isArray(value)
        ? value.filter((a: { key?: string }) =>
          !["url.full", "url.path", "url.query"].includes(a.key ?? "")
        )
        : value,
  );
}

Deno.test({
  name: "OTEL_DENO=true: route-named request spans with tenant and IdP ids, store operations " +
    "as child spans, no PII or secrets exported",
  ...sanitizers,
  async fn() {
    await using collector = startCollector();
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "otel.kv");
      const p = await provision(kvPath, "otel");
      const { idp, token } = p.idps[0];
      const server = await startServer({
        kvPath,
        tenant: "otel",
        logLevel: "info",
        env: {
          OTEL_DENO: "true",
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
          OTEL_SERVICE_NAME: "weft-test",
        },
      });
      try {
        const c = new ScimClient([server.origin], idp.id, token, "o");
        const created = await c.send("POST", "/Users", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
          userName: "secret.person@pii.example",
          externalId: "ext-pii-1",
          emails: [{ value: "secret.person@pii.example", type: "work" }],
        });
        assert.equal(created.status, 201);
        const filter = encodeURIComponent('userName eq "secret.person@pii.example"');
        assert.equal((await c.send("GET", `/Users?filter=${filter}`)).status, 200);
        assert.equal((await c.send("GET", `/Users/${created.json.id}`)).status, 200);
        const meta = await fetch(`${server.origin}/saml/${idp.id}/metadata`);
        await meta.body?.cancel();
        const acs = await fetch(`${server.origin}/saml/${idp.id}/acs`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "SAMLResponse=bm90IHhtbA%3D%3D",
        });
        await acs.body?.cancel();
        const signin = await fetch(
          `${server.origin}/admin/signin?next=/admin/users/secret.person@pii.example`,
        );
        await signin.body?.cancel();
      } finally {
        // A stopping process flushes its spans.
        await server.stop();
      }
      let spans = collector.spans();
      for (let i = 0; i < 20 && !spans.some((s) => s.name.startsWith("GET /saml")); i++) {
        await sleep(100);
        spans = collector.spans();
      }
      const names = spans.filter((s) => s.scope === "deno" || !s.name.startsWith("kv.")).map((s) =>
        s.name
      );
      for (
        const expected of [
          "POST /scim/v2/inbound/:idp/Users",
          "GET /scim/v2/inbound/:idp/Users",
          "GET /scim/v2/inbound/:idp/Users/:id",
          "GET /saml/:idp/metadata",
          "POST /saml/:idp/acs",
          "GET /admin/signin",
        ]
      ) assert.ok(names.includes(expected), `${expected} in ${names.join(", ")}`);
      const post = spans.find((s) => s.name === "POST /scim/v2/inbound/:idp/Users")!;
      assert.equal(post.attributes["weft.tenant.id"], p.tenant.id);
      assert.equal(post.attributes["weft.idp.id"], idp.id);
      assert.equal(post.attributes["http.route"], "/scim/v2/inbound/:idp/Users");
      assert.equal(post.attributes["http.response.status_code"], "201");
      const acs = spans.find((s) => s.name === "POST /saml/:idp/acs")!;
      assert.equal(acs.attributes["weft.idp.id"], idp.id);
      // The store operations of the POST are its children.
      const kvChildren = spans.filter((s) =>
        s.parentSpanId === post.spanId && s.name.startsWith("kv.")
      );
      assert.ok(
        kvChildren.some((s) => s.name === "kv.commit"),
        kvChildren.map((s) => s.name).join(),
      );
      assert.ok(kvChildren.every((s) => s.traceId === post.traceId && s.scope === "weft"));
      const commit = kvChildren.find((s) => s.name === "kv.commit")!;
      assert.equal(commit.attributes["db.system.name"], "deno_kv");
      assert.equal(commit.attributes["weft.tenant.id"], p.tenant.id);
      // Nothing exported names the person, the filter or the token, once the collector has
      // dropped Deno's raw URL attributes.
      const exported = collector.bodies().map(withoutRawUrls).join("\n");
      for (const secret of ["secret.person", "pii.example", "ext-pii-1", token, "bm90IHhtbA"]) {
        const at = exported.indexOf(secret);
        assert.ok(
          at < 0,
          `"${secret}" was exported: ${exported.slice(Math.max(0, at - 1500), at + 200)}`,
        );
      }
    });
  },
});
