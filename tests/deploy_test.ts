/**
 * Weft as Deno Deploy runs it: `deno serve main.ts` with `DENO_DEPLOYMENT_ID` set and no write
 * permission at all (the store is the only thing written, over the network: here a KV Connect
 * server on loopback stands in for Deploy's managed KV), the island bundle built beforehand as
 * Deploy's build step does. A smoke suite over every surface must pass, and nothing may be
 * written to the file system.
 * @module
 */
import assert from "node:assert/strict";
import { openKvConnect, startKvConnect } from "./_kv_connect.ts";
import { buildIslands } from "../scripts/build_islands.ts";
import {
  freePort,
  PATCH_OP,
  provisionKv,
  ROOT,
  ScimClient,
  sleep,
  userBody,
} from "./reliability/_server.ts";

const sanitizers = { sanitizeResources: false, sanitizeOps: false };

/** Every file under the repository (path → modification time), to see that none is written. */
async function files(dir: string, out = new Map<string, number>()): Promise<Map<string, number>> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name === ".git" || e.name === "node_modules") continue;
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) await files(path, out);
    else out.set(path, (await Deno.stat(path)).mtime?.getTime() ?? 0);
  }
  return out;
}

Deno.test({
  name: "Deploy: the app starts without write permission and passes the smoke suite",
  ...sanitizers,
  async fn() {
    await using kvc = await startKvConnect();
    const kv = await openKvConnect(kvc);
    const p = await provisionKv(kv, "deploy");
    kv.close();
    // Deploy's build step (`deno task build`), before the app runs.
    await buildIslands();
    const before = await files(ROOT.replace(/\/$/, ""));
    const port = freePort();
    const proc = new Deno.Command(Deno.execPath(), {
      // What Deploy grants: network, environment, reading the deployed files; no writes.
      args: [
        "serve",
        "--allow-net",
        "--allow-env",
        `--allow-read=${ROOT}`,
        "--unstable-kv",
        "main.ts",
      ],
      cwd: ROOT,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "/",
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
        DENO_DEPLOYMENT_ID: "smoke-test",
        DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
        WEFT_DEFAULT_TENANT: "deploy",
        WEFT_LOG: "warn",
        NO_COLOR: "1",
        ...kvc.env(),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const origin = `http://127.0.0.1:${port}`;
    const output = proc.output();
    try {
      let ready = false;
      for (let i = 0; i < 150 && !ready; i++) {
        ready = await fetch(`${origin}/readyz`).then(
          async (r) => (await r.body?.cancel(), r.ok),
          () => false,
        );
        if (!ready) await sleep(100);
      }
      assert.ok(ready, "the app answers /readyz");
      const { idp, token } = p.idps[0];
      const c = new ScimClient([origin], idp.id, token, "d");
      const created = await c.send("POST", "/Users", userBody("dep", 1));
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const id = String(created.json.id);
      assert.equal((await c.send("GET", `/Users/${id}`)).status, 200);
      const filter = encodeURIComponent(`userName eq "${userBody("dep", 1).userName}"`);
      const listed = await c.send("GET", `/Users?filter=${filter}`);
      assert.equal((listed.json.Resources as unknown[]).length, 1);
      const patched = await c.send("PATCH", `/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: "replace", path: "active", value: false }],
      });
      assert.equal(patched.status, 200);
      const g = await c.send("POST", "/Groups", {
        displayName: "Deployed",
        members: [{ value: id }],
      });
      assert.equal(g.status, 201);
      assert.equal((await c.send("GET", `/Groups/${g.json.id}`)).status, 200);
      assert.equal((await c.send("GET", "/ServiceProviderConfig")).status, 200);
      assert.equal((await c.send("DELETE", `/Users/${id}`)).status, 204);
      for (
        const [path, status] of [
          ["/healthz", 200],
          ["/admin/signin", 200],
          ["/login", 200],
          [`/saml/${idp.id}/metadata`, 200],
          ["/assets/styles.css", 200],
          ["/assets/islands.js", 200],
          ["/metrics", 404],
        ] as const
      ) {
        const res = await fetch(`${origin}${path}`);
        await res.body?.cancel();
        assert.equal(res.status, status, path);
      }
    } finally {
      proc.kill("SIGTERM");
    }
    const out = await output;
    const stderr = new TextDecoder().decode(out.stderr);
    assert.doesNotMatch(stderr, /PermissionDenied|NotCapable|Requires write access/, stderr);
    assert.equal(out.code, 0, stderr);
    const after = await files(ROOT.replace(/\/$/, ""));
    const written = [...after].filter(([path, mtime]) => before.get(path) !== mtime).map(([p]) =>
      p
    );
    assert.deepEqual(written, [], "no file written");
  },
});
