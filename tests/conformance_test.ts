/**
 * Microsoft's SCIM conformance collection (shared/conformance), run with newman against a real
 * Weft server on loopback, on a fresh store (a KV file, or KV Connect with `WEFT_TEST_KV=connect`)
 * with an Entra-kind IdP. Every assertion must pass except the reviewed entries of
 * `conformance_allowlist.json`.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KV_CONNECT_MODE, sharedKvConnect, testKvEnv } from "./_kv_connect.ts";

if (KV_CONNECT_MODE) await sharedKvConnect();

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const COLLECTION = join(ROOT, "..", "shared", "conformance", "microsoft-scim-tests.postman.json");

interface AllowEntry {
  folder: string;
  request: string;
  assertion: string;
  reason: string;
}

interface NewmanFailure {
  error: { test?: string; message: string };
  source: { name: string };
  parent?: { name?: string };
}

async function run(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function newmanCommand(): Promise<[string, string[]]> {
  try {
    await new Deno.Command("newman", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return ["newman", []];
  } catch {
    return ["npx", ["-y", "newman@6"]];
  }
}

Deno.test({
  name: "Microsoft SCIM conformance collection passes (but for the reviewed allow-list)",
  async fn() {
    await Deno.stat(COLLECTION).catch(() => {
      throw new Error(`The conformance collection is missing: expected ${COLLECTION}`);
    });
    const dir = await Deno.makeTempDir();
    const port = freePort();
    const env = {
      WEFT_KV_PATH: join(dir, "weft.kv"),
      ...testKvEnv(join(dir, "weft.kv")),
      WEFT_DEFAULT_TENANT: "conformance",
      WEFT_LOG: "warn",
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
    };
    const cli = (...args: string[]) =>
      run(Deno.execPath(), ["run", "-A", "--unstable-kv", "cli.ts", ...args], env);
    await cli("tenant", "create", "conformance");
    const idp = /inbound\/([\w-]+)/.exec(
      await cli("idp", "create", "--tenant", "conformance", "--name", "Entra", "--kind", "entra"),
    )![1];
    const token = /weft_scim_[\w-]+/.exec(
      await cli("token", "create", "--tenant", "conformance", "--idp", idp, "--name", "newman"),
    )![0];
    const server = new Deno.Command(Deno.execPath(), {
      args: ["serve", "-A", "--unstable-kv", "main.ts"],
      env,
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      for (let i = 0; i < 100; i++) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.body?.cancel().then(() => r.ok),
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const report = join(dir, "newman.json");
      const [cmd, pre] = await newmanCommand();
      // newman exits non-zero when any assertion fails; the report is what we judge.
      await new Deno.Command(cmd, {
        args: [
          ...pre,
          "run",
          COLLECTION,
          "--env-var",
          "Protocol=http",
          "--env-var",
          "Server=127.0.0.1",
          "--env-var",
          `Port=:${port}`,
          "--env-var",
          `Api=scim/v2/inbound/${idp}`,
          "--env-var",
          `token=${token}`,
          "--reporters",
          "json",
          "--reporter-json-export",
          report,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      const result = JSON.parse(await Deno.readTextFile(report));
      const stats = result.run.stats;
      const allow: AllowEntry[] =
        JSON.parse(await Deno.readTextFile(join(ROOT, "tests", "conformance_allowlist.json")))
          .entries;
      const failures: NewmanFailure[] = result.run.failures;
      const unexpected = failures.filter((f) =>
        !allow.some((a) =>
          a.request === f.source.name && a.assertion === f.error.test && a.folder === f.parent?.name
        )
      ).map((f) =>
        `${f.parent?.name} / ${f.source.name}: ${f.error.test ?? ""} — ${f.error.message}`
      );
      assert.deepEqual(unexpected, [], "assertions failing outside the allow-list");
      assert.equal(stats.requests.total, 78);
      assert.equal(stats.assertions.total, 107);
      // An allow-list entry that no longer fails must be removed, so the list stays honest.
      const stale = allow.filter((a) =>
        !failures.some((f) => a.request === f.source.name && a.assertion === f.error.test)
      ).map((a) => `${a.folder} / ${a.request}: ${a.assertion}`);
      assert.deepEqual(stale, [], "allow-list entries that now pass");
      // deno-lint-ignore no-console
      console.log(
        `newman: ${stats.requests.total} requests, ${stats.assertions.total} assertions, ${stats.assertions.failed} failed (${allow.length} allow-listed)`,
      );
    } finally {
      server.kill();
      await server.stderr.cancel();
      await server.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
