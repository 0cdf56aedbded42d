/**
 * Installs the peer SCIM servers from npm into a folder outside the repository, at bench time.
 * Nothing of theirs is committed: the folder lives in the system temp directory, keyed by the
 * exact package set, and is reused while it is complete.
 *
 * Versions: `@better-auth/scim` pins `@better-auth/core`, `@better-auth/utils` and `better-call`
 * as peer dependencies, so those and `better-auth` are pinned to the matching release;
 * `better-sqlite3@12` because 13 crashes on Node 20.
 * @module
 */
import { join } from "node:path";

/** Exact packages the peers need. */
export const PEER_PACKAGES = [
  "better-auth@1.7.5",
  "@better-auth/scim@1.7.5",
  "@better-auth/core@1.7.5",
  "@better-auth/utils@0.4.2",
  "better-call@1.4.0",
  "better-sqlite3@12",
  "scimmy@1.3.5",
  "scimmy-routers@1.3.2",
  "express@4",
];

/** The peer server scripts (ours), copied next to the installed packages. */
const SCRIPTS = ["better_auth.mjs", "scimmy.mjs"];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function digest(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(d.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

function tempRoot(): string {
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

/**
 * Makes sure the peers are installed; returns their folder. `log` receives progress lines.
 * Installs with `npm install` (the npm registry), building better-sqlite3 from source.
 */
export async function installPeers(log: (line: string) => void): Promise<string> {
  const dir = join(tempRoot(), `weft-bench-peers-${await digest(PEER_PACKAGES.join(" "))}`);
  const marker = join(dir, ".complete");
  if (!(await exists(marker))) {
    log(`installing peers from npm into ${dir} (first run only; builds better-sqlite3)`);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      join(dir, "package.json"),
      JSON.stringify({ name: "weft-bench-peers", private: true, type: "module" }, null, 2),
    );
    const out = await new Deno.Command("npm", {
      args: ["install", "--no-audit", "--no-fund", "--loglevel=error", ...PEER_PACKAGES],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `Cannot install the peers with npm: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
      );
    }
    // npm may skip install scripts; better-sqlite3 needs its native module.
    const native = join(dir, "node_modules/better-sqlite3/build/Release/better_sqlite3.node");
    if (!(await exists(native))) {
      log("building better-sqlite3 with npm rebuild");
      const rebuilt = await new Deno.Command("npm", {
        args: ["rebuild", "better-sqlite3", "--foreground-scripts"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!rebuilt.success || !(await exists(native))) {
        throw new Error(
          `Cannot build better-sqlite3: ${new TextDecoder().decode(rebuilt.stderr).slice(-2000)}`,
        );
      }
    }
    await Deno.writeTextFile(marker, new Date().toISOString());
  }
  for (const script of SCRIPTS) {
    await Deno.copyFile(new URL(script, import.meta.url), join(dir, script));
  }
  return dir;
}
