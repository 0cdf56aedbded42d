/**
 * Browser test harness: a real Weft (`deno serve` on a free loopback port, a temp KV file) and
 * Debian's Chromium driven by playwright-core. Everything started here is stopped by `close()`.
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { buildIslands } from "../../scripts/build_islands.ts";

/** Where Debian installs Chromium (`.ci/run` installs it when missing). */
export const CHROMIUM = "/usr/bin/chromium";

/** A running server and browser. */
export interface Harness {
  origin: string;
  /** The one-time setup link the first run printed. */
  setupLink: string;
  /** Everything the first run printed (the demo IdP's SCIM base URL and token among it). */
  firstRun: string;
  context: BrowserContext;
  page: Page;
  /** Saves a screenshot under `WEFT_SCREENSHOTS` (the README's `docs/screenshots`) or a temp dir. */
  shot(name: string, options?: { fullPage?: boolean; page?: Page }): Promise<void>;
  close(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Whether the browser tests can run here. */
export function chromiumAvailable(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Starts Weft and Chromium. */
export async function startHarness(): Promise<Harness> {
  await buildIslands();
  const root = new URL("../../", import.meta.url);
  const dir = await Deno.makeTempDir({ prefix: "weft-browser-" });
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = new Deno.Command(Deno.execPath(), {
    args: ["serve", "--allow-all", "--unstable-kv", "main.ts"],
    cwd: root.pathname,
    env: {
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      WEFT_KV_PATH: `${dir}/weft.kv`,
      WEFT_DEFAULT_TENANT: "demo",
      WEFT_LOG: "warn",
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = server.stderr.pipeTo(new WritableStream());
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const deadline = Date.now() + 30_000;
  while (!/\/admin\/setup\/\S+\s/.test(out)) {
    if (Date.now() > deadline) {
      server.kill("SIGKILL");
      throw new Error(`Weft did not start: ${out}`);
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`Weft exited: ${out}`);
    out += value;
  }
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* keep the pipe flowing */ }
    } catch { /* closed */ }
  })();
  const setupLink = /(http:\/\/\S+\/admin\/setup\/\S+)/.exec(out)![1];
  for (;;) {
    try {
      const res = await fetch(`${origin}/healthz`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      if (Date.now() > deadline) throw new Error("Weft does not answer /healthz");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const profile = await Deno.makeTempDir({ prefix: "weft-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = context.pages()[0] ?? await context.newPage();
  const shotDir = Deno.env.get("WEFT_SCREENSHOTS") ??
    await Deno.makeTempDir({ prefix: "weft-shots-" });
  await Deno.mkdir(shotDir, { recursive: true });
  return {
    origin,
    setupLink,
    firstRun: out,
    context,
    page,
    async shot(name, options) {
      await (options?.page ?? page).screenshot({
        path: `${shotDir}/${name}.png`,
        fullPage: options?.fullPage ?? true,
      });
    },
    async close() {
      await context.close().catch(() => {});
      try {
        server.kill("SIGTERM");
      } catch { /* already gone */ }
      await server.status;
      await drain;
      await stderr.catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (!Deno.env.get("WEFT_SCREENSHOTS")) {
        await Deno.remove(shotDir, { recursive: true }).catch(() => {});
      }
    },
  };
}
