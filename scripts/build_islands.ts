/**
 * Bundles the islands for the browser: `islands/_client.ts` and everything it imports (Preact
 * included) into `static/islands/islands.js`. Run by `deno task build`, which `deno task start`
 * and `.ci/run` run first; the bundle is not committed.
 * @module
 */

const root = new URL("../", import.meta.url);
const outDir = new URL("static/islands/", root);

/** Builds the bundle; resolves with its path. */
export async function buildIslands(): Promise<string> {
  await Deno.mkdir(outDir, { recursive: true });
  // Parallel builders (test workers) each write a temp file and rename it into place.
  const tmp = new URL(`islands.${crypto.randomUUID()}.tmp.js`, outDir);
  const out = new URL("islands.js", outDir);
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--output",
      tmp.pathname,
      new URL("islands/_client.ts", root).pathname,
    ],
    cwd: root.pathname,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Cannot bundle islands: ${new TextDecoder().decode(stderr)}`);
  }
  await Deno.rename(tmp, out);
  return out.pathname;
}

if (import.meta.main) {
  const path = await buildIslands();
  // deno-lint-ignore no-console
  console.log(`Bundled islands to ${path}`);
}
