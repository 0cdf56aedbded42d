/**
 * CPU profile of Weft under the benchmark's traffic: starts Weft with `deno run --cpu-prof` (the
 * same app `deno serve main.ts` serves), replays some phases against it, stops it, and prints
 * where the server's CPU time went (self time by function and by file).
 *
 * ```sh
 * deno run -A --unstable-kv bench/cpu_profile.ts [--users 3000] [--phases create,lookup,entra,saml]
 * deno run -A --unstable-kv bench/cpu_profile.ts --webhook   # with an endpoint on `*`, drained
 * ```
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, provisionWeft, ROOT, type Running } from "./systems.ts";
import { samlPhase } from "./saml.ts";
import { startReceiver } from "../tests/_webhooks.ts";
import {
  createPhase,
  deactivatePhase,
  entraPhase,
  groupsPhase,
  lookupPhase,
  pagePhase,
  profilingOptions,
  type ReplayState,
} from "./workloads.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Self time by function and by file, in percent of all samples. */
export function summarize(
  profile: { nodes: ProfileNode[] },
  top = 30,
): { functions: [string, number][]; files: [string, number][] } {
  const total = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const url = n.callFrame.url.replace(`file://${ROOT}`, "").replace(
      /^.*\/node_modules\/\.deno\/([^/]+)\/.*$/,
      "npm:$1",
    ).replace(/^https?:\/\/[^/]+\//, "");
    const fn = `${n.callFrame.functionName || "(anonymous)"} ${url}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits);
    const file = url || `(${n.callFrame.functionName || "native"})`;
    byFile.set(file, (byFile.get(file) ?? 0) + hits);
  }
  const pct = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) =>
      [k, (100 * v) / total] as [string, number]
    );
  return { functions: pct(byFn), files: pct(byFile) };
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      users: { type: "string" },
      phases: { type: "string" },
      webhook: { type: "boolean" },
    },
  });
  const users = Number(values.users ?? 3000);
  const phases = (values.phases ?? "create,lookup,groups,deactivate,page,entra").split(",");
  const dir = await Deno.makeTempDir({ prefix: "weft-bench-prof-" });
  const port = freePort();
  const env = {
    WEFT_KV_PATH: join(dir, "weft.kv"),
    WEFT_DEFAULT_TENANT: "bench",
    WEFT_LOG: "warn",
    WEFT_WEBHOOK_ALLOW_PRIVATE: "true",
  };
  const deno = Deno.execPath();
  const { idp, token } = await provisionWeft(env);
  // An endpoint subscribed to every event, on a receiver in this process that verifies each.
  const receiver = values.webhook ? startReceiver() : undefined;
  if (receiver) {
    const out = await new Deno.Command(deno, {
      args: ["run", "-A", "--unstable-kv", "cli.ts", "webhook", "create", "--tenant", "bench"]
        .concat(["--url", receiver.url, "--events", "*"]),
      env,
      cwd: ROOT,
    }).output();
    const secret = /whsec_[\w+/=-]+/.exec(new TextDecoder().decode(out.stdout))?.[0];
    if (!secret) throw new Error("Cannot read the endpoint's secret from the CLI output");
    receiver.secrets = [secret];
  }
  // The served app of main.ts, under `deno run` so --cpu-prof applies; SIGINT ends it cleanly.
  const wrapper = join(dir, "serve.ts");
  await Deno.writeTextFile(
    wrapper,
    `import app from "${join(ROOT, "main.ts")}";\n` +
      `const server = Deno.serve({ hostname: "127.0.0.1", port: ${port}, onListen() {} }, app.fetch);\n` +
      `Deno.addSignalListener("SIGINT", () => { server.shutdown().then(() => Deno.exit(0)); });\n`,
  );
  const profDir = join(dir, "prof");
  const child = new Deno.Command(deno, {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      `--config=${join(ROOT, "deno.json")}`,
      "--cpu-prof",
      `--cpu-prof-dir=${profDir}`,
      wrapper,
    ],
    env,
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.text()).then(
      () => true,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const target = { base: `http://127.0.0.1:${port}/scim/v2/inbound/${idp}`, token };
  const o = profilingOptions(users);
  const state: ReplayState = { userIds: [], groupIds: [] };
  // Users must exist for the later phases; only the listed phases are reported, but all run.
  const log = (p: { phase: string; rps: number; errors: number }) =>
    // deno-lint-ignore no-console
    console.error(`${p.phase}: ${p.rps.toFixed(0)} req/s, ${p.errors} errors`);
  log(await createPhase(target, o, state));
  if (phases.includes("lookup")) log(await lookupPhase(target, o));
  if (phases.includes("groups")) log(await groupsPhase(target, o, state));
  if (phases.includes("deactivate")) log(await deactivatePhase(target, o, state));
  if (phases.includes("page")) log(await pagePhase(target, o));
  if (phases.includes("entra")) log(await entraPhase(target, o, state));
  if (phases.includes("saml")) {
    const sys = {
      ...target,
      cpuMs: () => Promise.resolve(0),
      weftCli: async (...args: string[]) => {
        const out = await new Deno.Command(deno, {
          args: ["run", "-A", "--unstable-kv", "cli.ts", ...args],
          env,
          cwd: ROOT,
        }).output();
        return new TextDecoder().decode(out.stdout);
      },
    } as unknown as Running;
    const s = await samlPhase(sys, o);
    // deno-lint-ignore no-console
    console.error(`saml: ${s.signInsPerSecond.toFixed(0)} sign-ins/s, ${s.errors} errors`);
  }
  if (receiver) {
    // Every event delivered before the profile ends (creates: one each; groups: many).
    let seen = -1;
    while (seen !== receiver.received.length) {
      seen = receiver.received.length;
      await new Promise((r) => setTimeout(r, 2000));
    }
    // deno-lint-ignore no-console
    console.error(`webhooks: ${receiver.delivered().size} events delivered`);
    await receiver.close();
  }
  child.kill("SIGINT");
  await child.status;
  const file = [...Deno.readDirSync(profDir)].find((f) => f.name.endsWith(".cpuprofile"));
  if (!file) throw new Error("No CPU profile was written");
  const profile = JSON.parse(await Deno.readTextFile(join(profDir, file.name)));
  const { functions, files } = summarize(profile);
  const lines = ["self time by file:"];
  for (const [k, v] of files) lines.push(`  ${v.toFixed(1).padStart(5)} %  ${k}`);
  lines.push("self time by function:");
  for (const [k, v] of functions) lines.push(`  ${v.toFixed(1).padStart(5)} %  ${k}`);
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
  await Deno.copyFile(join(profDir, file.name), join(dir, "..", "weft-bench.cpuprofile"));
  await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await main();
