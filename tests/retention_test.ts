/**
 * Every kind of record Weft writes with an expiry is one `lib/store/retention.ts` declares, and a
 * backup keeps what it declares: a real server on a KV file is driven through the flows that write
 * expiring records (console sign-in and its failures, setup links, SCIM authentication failures,
 * index paging), then the file's own expiry column (SQLite, `expiration_ms`) is read: each
 * expiring record's kind must be declared, sessions must come back from a restore with the expiry
 * they had, and the kinds a backup leaves out must not come back at all.
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  join,
  provision,
  runCli,
  ScimClient,
  startServer,
  userBody,
  withKv,
  withTempDir,
} from "./reliability/_server.ts";
import { createConsoleAdmin, httpConsole } from "./reliability/_console.ts";
import { retentionOf } from "../lib/store/retention.ts";
import { KV_CONNECT_MODE } from "./_kv_connect.ts";

const sanitizers = { sanitizeResources: false, sanitizeOps: false };
const PASSWORD = "violet tractor harbour quietly";

/** The string parts at the start of an encoded KV key (type 0x02, bytes, 0x00; 0x00 0xFF escapes). */
function leadingStrings(key: Uint8Array, n: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (out.length < n && i < key.length && key[i] === 0x02) {
    const bytes: number[] = [];
    for (i++; i < key.length; i++) {
      if (key[i] === 0x00) {
        if (key[i + 1] === 0xff) {
          bytes.push(0);
          i++;
          continue;
        }
        i++;
        break;
      }
      bytes.push(key[i]);
    }
    out.push(new TextDecoder().decode(new Uint8Array(bytes)));
  }
  return out;
}

/** Expiring records of a KV file by kind: how many, and their expiry times. */
function expiringKinds(path: string): Map<string, number[]> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out = new Map<string, number[]>();
    const rows = db.prepare("SELECT k, expiration_ms FROM kv WHERE expiration_ms >= 0").all();
    for (const row of rows) {
      const parts = leadingStrings(row.k as Uint8Array, 3);
      const kind = parts[0] === "t" ? parts[2] : parts.slice(0, 2).join("/");
      out.set(kind, [...(out.get(kind) ?? []), Number(row.expiration_ms)]);
    }
    return out;
  } finally {
    db.close();
  }
}

Deno.test({
  name: "retention - every expiring kind is declared, and a restore keeps what it declares",
  ignore: KV_CONNECT_MODE,
  ...sanitizers,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.kv");
      const b = join(dir, "b.kv");
      const file = join(dir, "r.weftbak");
      const p = await provision(a, "ret");
      await withKv(
        a,
        (kv) => createConsoleAdmin(kv, p.tenant.id, "root@ret.test", "super_admin", PASSWORD),
      );
      const server = await startServer({ kvPath: a, tenant: "ret" });
      try {
        const { idp, token } = p.idps[0];
        const c = new ScimClient([server.origin], idp.id, token, "r");
        for (let i = 0; i < 3; i++) {
          assert.equal((await c.send("POST", "/Users", userBody("ret", i))).status, 201);
        }
        assert.equal((await c.send("GET", "/Users?startIndex=1&count=1")).status, 200);
        assert.equal(
          (await new ScimClient([server.origin], idp.id, "weft_scim_wrong", "x").send(
            "GET",
            "/Users",
          )).status,
          401,
        );
        const wrong = await httpConsole(server.origin, {
          path: "/admin/signin",
          form: { email: "root@ret.test", password: "not the password at all" },
        });
        assert.notEqual(wrong.status, 303);
        const ok = await httpConsole(server.origin, {
          path: "/admin/signin",
          form: { email: "root@ret.test", password: PASSWORD },
        });
        assert.equal(ok.status, 303, ok.text.slice(0, 300));
      } finally {
        await server.stop();
      }
      assert.equal((await runCli(a, ["admin", "setup-link", "--tenant", "ret"])).code, 0);

      const before = expiringKinds(a);
      for (
        const kind of [
          "rate_limits",
          "auth_failure_event_marks",
          "page_anchors",
          "admin_sessions",
          "admin_sessions_by_admin",
          "admin_setup_links",
          "admin_known_addresses",
          "admin_signin_delays",
        ]
      ) {
        assert.ok(
          before.has(kind),
          `the flows wrote ${kind} (found ${[...before.keys()].join(", ")})`,
        );
      }
      for (const kind of before.keys()) {
        const key = kind.includes("/") ? kind.split("/") : ["t", p.tenant.id, kind];
        assert.notEqual(
          retentionOf(key).keep,
          "always",
          `${kind} expires: declare it in lib/store/retention.ts`,
        );
      }

      assert.equal((await runCli(a, ["backup", "--out", file])).code, 0);
      const restored = await runCli(b, ["restore", "--from", file]);
      assert.equal(restored.code, 0, restored.stderr + restored.stdout);
      const after = expiringKinds(b);
      for (const [kind, times] of before) {
        const key = kind.includes("/") ? kind.split("/") : ["t", p.tenant.id, kind];
        const r = retentionOf(key);
        if (r.keep === "never") assert.ok(!after.has(kind), `${kind} is left out of a backup`);
        if (r.keep === "until") {
          // Restored with the time it had left (to the second the write took).
          const back = after.get(kind) ?? [];
          assert.equal(back.length, times.length, kind);
          for (const [i, t] of [...times].sort().entries()) {
            assert.ok(Math.abs([...back].sort()[i] - t) < 5_000, `${kind}: ${back[i]} ≈ ${t}`);
          }
        }
        if (r.keep === "bound") {
          assert.ok((after.get(kind) ?? []).every((t) => t <= Date.now() + r.ms), kind);
        }
      }
    });
  },
});
