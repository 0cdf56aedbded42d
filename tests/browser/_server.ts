/**
 * Browser test harness: a real Weft (`deno serve` on a free loopback port, a temp KV file) and
 * Debian's Chromium driven by playwright-core. Everything started here is stopped by `close()`.
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { buildIslands } from "../../scripts/build_islands.ts";
import { KV_CONNECT_MODE, sharedKvConnect, testKvEnv } from "../_kv_connect.ts";

if (KV_CONNECT_MODE) await sharedKvConnect();

/** Where Debian installs Chromium (`.ci/run` installs it when missing). */
export const CHROMIUM = "/usr/bin/chromium";

/** SCIM requests to the first run's IdP with a CLI-minted token. */
export interface ScimClient {
  idpId: string;
  /** The base URL with its trailing slash. */
  base: string;
  token: string;
  /** Sends a SCIM request to a path under the base; the status and the parsed body. */
  send(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

/** A running server and browser. */
export interface Harness {
  origin: string;
  /** The one-time setup link the first run printed. */
  setupLink: string;
  /** Everything the first run printed (the demo IdP's SCIM base URL among it, no secret). */
  firstRun: string;
  /** Runs the operator CLI on the server's store; its standard output. */
  cli(...args: string[]): Promise<string>;
  /** Creates the first super admin through the setup link, signed in on `page`. */
  createFirstAdmin(email: string, password: string): Promise<void>;
  /** The first run's IdP with a token minted by the CLI, and a SCIM client for it. */
  scimClient(tokenName: string): Promise<ScimClient>;
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

/** Options of {@linkcode startHarness}. */
export interface HarnessOptions {
  /** More environment for the server (for example `WEFT_WEBHOOK_ALLOW_PRIVATE: "true"`). */
  env?: Record<string, string>;
}

/** Starts Weft and Chromium. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
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
      ...testKvEnv(`${dir}/weft.kv`),
      WEFT_DEFAULT_TENANT: "demo",
      WEFT_LOG: "warn",
      NO_COLOR: "1",
      ...options.env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = server.stderr.pipeTo(new WritableStream());
  const chunks: string[] = [];
  const drain = server.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
  ).catch(() => {});
  const deadline = Date.now() + 30_000;
  // Ready when it answers and the first run has said what it did.
  while (!/First run/.test(chunks.join(""))) {
    if (Date.now() > deadline) {
      server.kill("SIGKILL");
      throw new Error(`Weft did not start: ${chunks.join("")}`);
    }
    const ok = await fetch(`${origin}/healthz`).then(async (res) => {
      await res.body?.cancel();
      return res.ok;
    }, () => false);
    if (!ok || !/First run/.test(chunks.join(""))) await new Promise((r) => setTimeout(r, 100));
  }
  // Its output is a pipe, not a terminal: the first run mints no secret there and says how to.
  const firstRun = chunks.join("");
  if (/weft_(scim|setup)_/.test(firstRun)) {
    server.kill("SIGKILL");
    throw new Error(`The first run printed a secret to a pipe:\n${firstRun}`);
  }
  // The operator's way: the CLI on the same store prints the one-time link.
  const cli = async (...args: string[]) => {
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["task", "weft", ...args],
      cwd: root.pathname,
      env: {
        WEFT_KV_PATH: `${dir}/weft.kv`,
        ...testKvEnv(`${dir}/weft.kv`),
        WEFT_DEFAULT_TENANT: "demo",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(res.stdout);
    if (!res.success) {
      throw new Error(`cli ${args.join(" ")}: ${said} ${new TextDecoder().decode(res.stderr)}`);
    }
    return said;
  };
  const link = /(http:\/\/\S+\/admin\/setup\/\S+)/.exec(
    await cli("admin", "setup-link", "--tenant", "demo").catch((e) => {
      server.kill("SIGKILL");
      throw e;
    }),
  );
  if (!link) {
    server.kill("SIGKILL");
    throw new Error("No setup link from the CLI");
  }
  // The CLI prints the link for the port in DENO_SERVE_ADDRESS it was not given: use ours.
  const setupLink = `${origin}${new URL(link[1]).pathname}`;

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
  const createFirstAdmin = async (email: string, password: string) => {
    await page.goto(setupLink);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByLabel("Repeat the password").fill(password);
    await page.getByRole("button", { name: "Create account and sign in" }).click();
    await page.waitForURL(`${origin}/admin`);
  };
  const scimClient = async (tokenName: string): Promise<ScimClient> => {
    const idpId = /\/scim\/v2\/inbound\/([^/\s]+)\//.exec(firstRun)?.[1];
    if (!idpId) throw new Error(`No SCIM base URL in the first run's output:\n${firstRun}`);
    const minted = await cli(
      "token",
      "create",
      "--tenant",
      "demo",
      "--idp",
      idpId,
      "--name",
      tokenName,
    );
    const token = /(weft_scim_\S+)/.exec(minted)?.[1];
    if (!token) throw new Error(`No token in:\n${minted}`);
    const base = `${origin}/scim/v2/inbound/${idpId}/`;
    return {
      idpId,
      base,
      token,
      async send(method, path, body) {
        const res = await fetch(base + path, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { "content-type": "application/scim+json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, json: text ? JSON.parse(text) : null };
      },
    };
  };
  return {
    origin,
    setupLink,
    firstRun,
    cli,
    createFirstAdmin,
    scimClient,
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
