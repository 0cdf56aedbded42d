/**
 * The operator CLI's API key words, run as an operator would (`deno run cli.ts …` on a store
 * file): `apikey create` prints the key once, `apikey list` shows it without the secret,
 * `apikey revoke` ends it; bad scopes and expiries are refused with the reason.
 * @module
 */
import assert from "node:assert/strict";
import { authenticateApiKey } from "../../lib/auth/api_key_auth.ts";
import { getTenantBySubdomain } from "../../lib/store/tenants.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function weft(dir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", "cli.ts", ...args],
    cwd: ROOT,
    env: { WEFT_KV_PATH: `${dir}/weft.kv`, WEFT_LOG: "off", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: res.code, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
}

Deno.test({
  name: "CLI - apikey create prints the key once, list shows it, revoke ends it",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weft-cli-apikey-" });
    try {
      assert.equal((await weft(dir, "tenant", "create", "acme")).code, 0);
      const made = await weft(dir, "apikey", "create", "--tenant", "acme", "--name", "app");
      assert.equal(made.code, 0, made.out);
      assert.match(made.out, /Created API key key_\S+ "app" \(directory:read, events:read\)/);
      const secret = /^(weft_api_[A-Za-z0-9_-]{43})$/m.exec(made.out)![1];
      const keyId = /Created API key (\S+)/.exec(made.out)![1];

      const narrow = await weft(
        dir,
        "apikey",
        "create",
        "--tenant",
        "acme",
        "--name",
        "feed reader",
        "--scopes",
        "events:read",
        "--expires-days",
        "30",
      );
      assert.equal(narrow.code, 0, narrow.out);
      assert.match(narrow.out, /"feed reader" \(events:read\)/);

      const listed = await weft(dir, "apikey", "list", "--tenant", "acme");
      assert.equal(listed.code, 0, listed.out);
      const lines = listed.out.trim().split("\n");
      assert.equal(lines.length, 2);
      const line = lines.find((l) => l.startsWith(keyId))!;
      assert.match(line, /\tapp\tweft_api_\S{4}…\tdirectory:read,events:read\tactive\t/);
      assert.match(line, /expires never\tlast used never$/);
      assert.match(lines.find((l) => !l.startsWith(keyId))!, /\tevents:read\tactive\t.*expires 2/);
      assert.ok(!listed.out.includes(secret), "the list never shows the secret");

      // The store holds the hash only, and the key authenticates until it is revoked.
      const kv = await Deno.openKv(`${dir}/weft.kv`);
      try {
        for await (const e of kv.list({ prefix: [] })) {
          assert.ok(!JSON.stringify(e.value ?? null).includes(secret), "secret stored");
        }
        const tenant = (await getTenantBySubdomain(kv, "acme"))!;
        const ok = await authenticateApiKey(kv, tenant.id, `Bearer ${secret}`, "cli-test", 10);
        assert.equal(ok.ok, true);
      } finally {
        kv.close();
      }

      const revoked = await weft(dir, "apikey", "revoke", "--tenant", "acme", "--key", keyId);
      assert.equal(revoked.code, 0, revoked.out);
      assert.match(revoked.out, /Revoked/);
      const again = await weft(dir, "apikey", "revoke", "--tenant", "acme", "--key", keyId);
      assert.equal(again.code, 1);
      assert.match(again.out, /No such active API key/);
      assert.match(
        (await weft(dir, "apikey", "list", "--tenant", "acme")).out,
        new RegExp(`${keyId}\\t.*\\trevoked 2`),
      );
      const kv2 = await Deno.openKv(`${dir}/weft.kv`);
      try {
        const tenant = (await getTenantBySubdomain(kv2, "acme"))!;
        const res = await authenticateApiKey(kv2, tenant.id, `Bearer ${secret}`, "cli-test", 10);
        assert.deepEqual(res.ok ? "ok" : res.reason, "revoked_key");
      } finally {
        kv2.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "CLI - apikey create refuses unknown scopes, bad expiries and a missing name",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weft-cli-apikey-" });
    try {
      assert.equal((await weft(dir, "tenant", "create", "acme")).code, 0);
      const base = ["apikey", "create", "--tenant", "acme"];
      const scope = await weft(dir, ...base, "--name", "x", "--scopes", "directory:write");
      assert.equal(scope.code, 2);
      assert.match(scope.out, /--scopes must list scopes among .*unknown: "directory:write"/);
      const days = await weft(dir, ...base, "--name", "x", "--expires-days", "0");
      assert.equal(days.code, 2);
      assert.match(days.out, /--expires-days must be a positive whole number/);
      const name = await weft(dir, ...base);
      assert.equal(name.code, 2);
      assert.match(name.out, /Missing --name/);
      const tenant = await weft(dir, "apikey", "list", "--tenant", "nope");
      assert.equal(tenant.code, 2);
      assert.match(tenant.out, /No tenant "nope"/);
      assert.equal((await weft(dir, "apikey", "list", "--tenant", "acme")).out.trim(), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
