/**
 * Log scan (issue 5, "A log scan … finds no token plaintext, no password, no full request body"):
 * a real server with `WEFT_LOG=debug` goes through a whole Okta and Entra provisioning sequence,
 * including Okta's password field, emails, filters with values, failed authentications with real
 * and near-miss tokens, refused bodies and a 500; then everything it wrote to stderr (and stdout)
 * is searched for token plaintext, passwords, email addresses, attribute values, filter values and
 * request body fragments.
 * @module
 */
import assert from "node:assert/strict";
import {
  join,
  PATCH_OP,
  provision,
  report,
  ScimClient,
  startServer,
  withTempDir,
} from "./_server.ts";

const M = `m${crypto.randomUUID().slice(0, 8)}`; // marker that makes every sent value findable
const EMAIL = `jane.${M}@corp-example.test`;
const PASSWORD = `Pw-${M}-1mz050nq`;
const NEW_PASSWORD = `Pw2-${M}-9xk`;

Deno.test({
  name:
    "Log scan: a debug-level server logs no token, password, email, attribute or filter value, or body",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, "logscan", [
        { name: "Okta", kind: "okta" },
        { name: "Entra", kind: "entra" },
      ]);
      const [okta, entra] = p.idps;
      const sentTokens: string[] = [okta.token, entra.token];
      const server = await startServer({ kvPath, tenant: "logscan", logLevel: "debug" });
      let requests = 0;
      try {
        const o = new ScimClient([server.origin], okta.idp.id, okta.token, "okta");
        const e = new ScimClient([server.origin], entra.idp.id, entra.token, "entra");
        const q = encodeURIComponent;
        // Okta: test connection, match before create, create with password, read, PUT, password
        // sync, deactivate and reactivate, group push, membership, lookups.
        await o.send("GET", "/Users?startIndex=1&count=2");
        await o.send("GET", `/Users?filter=${q(`userName eq "${EMAIL}"`)}&startIndex=1&count=100`);
        const user = {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
          userName: EMAIL,
          name: { givenName: `Given${M}`, familyName: `Family${M}` },
          emails: [{ primary: true, value: EMAIL, type: "work" }],
          phoneNumbers: [{ value: `+1555${M.length}0199`, type: "mobile" }],
          displayName: `Display ${M}`,
          locale: "en-US",
          externalId: `00u${M}`,
          groups: [],
          password: PASSWORD,
          active: true,
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            department: `Dept${M}`,
            employeeNumber: `Emp${M}`,
          },
        };
        const created = await o.send("POST", "/Users", user);
        assert.equal(created.status, 201, JSON.stringify(created.json));
        const id = String(created.json.id);
        await o.send("GET", `/Users/${id}`);
        await o.send("PUT", `/Users/${id}`, {
          ...created.json,
          title: `Title${M}`,
          password: PASSWORD,
        });
        await o.send("PATCH", `/Users/${id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: "replace", value: { password: NEW_PASSWORD } }],
        });
        for (const active of [false, true]) {
          await o.send("PATCH", `/Users/${id}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: "replace", value: { active } }],
          });
        }
        const group = await o.send("POST", "/Groups", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
          displayName: `Group ${M}`,
          members: [],
        });
        const gid = String(group.json.id);
        await o.send(
          "GET",
          `/Groups?filter=${q(`displayName eq "Group ${M}"`)}&startIndex=1&count=100`,
        );
        await o.send("PATCH", `/Groups/${gid}`, {
          schemas: [PATCH_OP],
          Operations: [
            { op: "replace", value: { id: gid, displayName: `Group ${M}` } },
            { op: "add", path: "members", value: [{ value: id, display: EMAIL }] },
          ],
        });
        await o.send("PATCH", `/Groups/${gid}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: "remove", path: `members[value eq "${id}"]` }],
        });
        await o.send("POST", "/.search", {
          schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
          filter: `emails.value eq "${EMAIL}" or name.givenName sw "Given${M}"`,
        });
        // Entra: its own user, filters on work email, capitalised ops, manager string.
        const eUser = await e.send("POST", "/Users", {
          ...user,
          userName: `entra.${EMAIL}`,
          emails: [{ value: `entra.${EMAIL}`, type: "work", primary: true }],
          externalId: `nick${M}`,
          password: undefined,
        });
        await e.send(
          "GET",
          `/Users?filter=${q(`emails[type eq "work"].value eq "entra.${EMAIL}"`)}`,
        );
        await e.send("PATCH", `/Users/${eUser.json.id}`, {
          schemas: [PATCH_OP],
          Operations: [
            { op: "Replace", path: "title", value: `EntraTitle${M}` },
            {
              op: "Add",
              path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
              value: `mgr${M}`,
            },
          ],
        });
        // Refusals: duplicate, bad bodies and filters carrying values, unknown ids, bad tokens.
        await o.send("POST", "/Users", { ...user, externalId: `other${M}` });
        await o.send("POST", "/Users", { userName: 5, nickName: `Nick${M}`, password: PASSWORD });
        await o.send("POST", "/Users", `{"userName":"${EMAIL}","password":"${PASSWORD}",`);
        await o.send("GET", `/Users?filter=${q(`userName eq "${EMAIL}" and (`)}`);
        await o.send("GET", `/Users/${q(EMAIL)}`);
        await o.send("PATCH", `/Users/${id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: "explode", path: `emails[value eq "${EMAIL}"]`, value: PASSWORD }],
        });
        const wrong = `weft_scim_${M}${"W".repeat(30)}`;
        sentTokens.push(wrong);
        for (
          const header of [
            `Bearer ${wrong}`,
            `Bearer Bearer ${okta.token}`,
            `Bearer  ${okta.token}`,
            `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}`,
            `Bearer ${okta.token.slice(0, -2)}`,
            `Bearer ${entra.token}`,
          ]
        ) {
          await o.send("GET", "/Users", undefined, { authorization: header });
        }
        // A server error path (a value over KV's key limit), to see what error logs carry.
        await o.send("POST", "/Users", {
          userName: `${"x".repeat(2100)}${EMAIL}`,
          password: PASSWORD,
        });
        await o.send("DELETE", `/Users/${id}`);
        requests = o.log.length + e.log.length;
        assert.ok(requests >= 25);
      } finally {
        await server.stop();
      }
      const raw = server.stderr() + server.stdout();
      // Scan the text as written and percent-decoded (a path may carry "%40").
      let decoded = raw;
      try {
        decoded = decodeURIComponent(raw.replace(/%(?![0-9a-fA-F]{2})/g, "%25"));
      } catch {
        // keep the raw text
      }
      const output = raw + "\n" + decoded;
      const lines = raw.split("\n").filter(Boolean);
      report(`log scan: ${requests} requests, ${lines.length} log lines, ${raw.length} bytes`);
      assert.ok(lines.length >= requests, "debug logging wrote a line per request");
      const found: string[] = [];
      const forbid = (what: string, needle: string) => {
        if (output.includes(needle)) found.push(`${what}: "${needle.slice(0, 60)}"`);
      };
      for (const token of sentTokens) {
        forbid("token", token);
        forbid("token (random part)", token.slice("weft_scim_".length, "weft_scim_".length + 16));
      }
      forbid("password", PASSWORD);
      forbid("password", NEW_PASSWORD);
      forbid("password (base64 in a Basic header)", btoa(`${EMAIL}:${PASSWORD}`));
      // Every value sent carried the marker: no attribute or filter value reaches the log.
      forbid("a value sent by the IdP (marker)", M);
      const emails = output.match(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g) ?? [];
      for (const email of new Set(emails)) found.push(`email address: "${email}"`);
      for (const fragment of ['"schemas"', "Operations", "urn:ietf:params:scim", '"userName"']) {
        forbid("request body fragment", fragment);
      }
      assert.deepEqual(
        found,
        [],
        `the log holds:\n  ${found.join("\n  ")}\n--- log ---\n${
          lines.filter((l) => found.some((f) => l.includes(f.split('"')[1]))).slice(0, 10).join(
            "\n",
          )
        }`,
      );
    });
  },
});
