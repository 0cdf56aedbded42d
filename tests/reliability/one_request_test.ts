/**
 * No single request may take Weft down, against real `deno serve` processes (an in-process
 * `app.request()` cannot show a panic of the HTTP layer or the process's memory): a sign-in
 * whose `next` carries a control character, bodies of hundreds of megabytes at the console, one
 * by one and four at once, and first-run secrets that reach a terminal but never a pipe.
 * @module
 */
import assert from "node:assert/strict";
import {
  join,
  provision,
  report,
  ROOT,
  type Server,
  sleep,
  withKv,
  withServers,
  withTempDir,
} from "./_server.ts";
import { createConsoleAdmin, httpConsole } from "./_console.ts";

const PASSWORD = "violet tractor harbour quietly";

/** Resident memory of a process, in MiB (Linux). */
async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function alive(server: Server): Promise<boolean> {
  try {
    const res = await fetch(`${server.origin}/healthz`, { signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    return res.ok && !server.exited();
  } catch {
    return false;
  }
}

/** A body of `mib` MiB streamed without a length, or with one when `length` is set. */
function bigBody(mib: number): ReadableStream<Uint8Array> {
  const chunk = new TextEncoder().encode("email=".padEnd(1024 * 1024, "a"));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ >= mib) return controller.close();
      controller.enqueue(chunk);
    },
  });
}

/** Posts a huge form to the sign-in page; the status, or "closed" when the server hung up. */
async function postHuge(
  server: Server,
  mib: number,
  withLength: boolean,
): Promise<number | string> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    origin: server.origin,
  };
  if (withLength) headers["content-length"] = String(mib * 1024 * 1024);
  try {
    const res = await fetch(`${server.origin}/admin/signin`, {
      method: "POST",
      headers,
      body: bigBody(mib),
      signal: AbortSignal.timeout(30_000),
    });
    await res.body?.cancel();
    return res.status;
  } catch {
    return "closed";
  }
}

Deno.test({
  name:
    "One request: a control character in a sign-in's next, and 200–600 MB bodies, leave the server up",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (dir) => {
      const kvPath = join(dir, "weft.kv");
      const p = await provision(kvPath, "one");
      await withKv(
        kvPath,
        (kv) => createConsoleAdmin(kv, p.tenant.id, "root@one.test", "super_admin", PASSWORD),
      );
      await withServers([{ kvPath, tenant: "one", logLevel: "off" }], async ([server]) => {
        // The form keeps `next`; a victim who signs in from a crafted link posts it back.
        for (const next of ["/admin/\u0001x", "/admin/\u007f", "/admin/\r\nx", "/admin/\tusers"]) {
          const res = await httpConsole(server.origin, {
            path: "/admin/signin",
            form: { email: "root@one.test", password: PASSWORD, next },
          });
          assert.equal(res.status, 303, JSON.stringify(next));
          assert.equal(res.h.get("location"), "/admin");
          assert.ok(await alive(server), `alive after next=${JSON.stringify(next)}`);
        }
        // A signed-in admin who follows such a link is refused before any redirect is built.
        const session = await httpConsole(server.origin, {
          path: "/admin/signin",
          form: { email: "root@one.test", password: PASSWORD },
        });
        for (const next of ["%2Fadmin%2F%7F", "%2Fadmin%2F%01x", "/admin/%0d%0aSet-Cookie:x=1"]) {
          const res = await fetch(`${server.origin}/admin/signin?next=${next}`, {
            headers: { cookie: session.cookie! },
            redirect: "manual",
          });
          await res.body?.cancel();
          assert.equal(res.status, 400, next);
          assert.ok(await alive(server), `alive after ?next=${next}`);
        }
        // An encoded path that stays on the console is followed, encoded.
        const kept = await fetch(
          `${server.origin}/admin/signin?next=%2Fadmin%2Fusers%3Fq%3D%C3%A9`,
          {
            headers: { cookie: session.cookie! },
            redirect: "manual",
          },
        );
        await kept.body?.cancel();
        assert.equal(kept.headers.get("location"), "/admin/users?q=%C3%A9");

        // Huge bodies, signed out: refused with 413 while still on the wire.
        const before = await rssMiB(server.proc.pid);
        const one = await postHuge(server, 200, false);
        const declared = await postHuge(server, 600, true);
        const four = await Promise.all([1, 2, 3, 4].map(() => postHuge(server, 200, false)));
        await sleep(200);
        const after = await rssMiB(server.proc.pid);
        report(
          `huge bodies: 200 MB → ${one}, 600 MB declared → ${declared}, 4 × 200 MB → ${four}; RSS ${
            before.toFixed(0)
          } → ${after.toFixed(0)} MiB`,
        );
        for (const status of [one, declared, ...four]) {
          assert.ok(status === 413 || status === "closed", `answered ${status}`);
        }
        assert.ok(after - before < 64, `RSS grew by ${(after - before).toFixed(0)} MiB`);
        assert.ok(await alive(server));
        assert.doesNotMatch(server.stderr(), /panicked/);
      });
    });
  },
});

/**
 * Starts Weft on a store of the directory (the first start on a fresh one), sends it a few
 * requests, and returns what it printed, as a terminal or a pipe shows it. The log level is the
 * default one.
 */
async function firstRun(dir: string, terminal: boolean): Promise<string> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const env = {
    DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
    WEFT_KV_PATH: join(dir, terminal ? "tty.kv" : "pipe.kv"),
    NO_COLOR: "1",
  };
  const serve = [Deno.execPath(), "serve", "-A", "--unstable-kv", "main.ts"];
  // `script` gives the server a pseudo-terminal, as an operator's shell does.
  const cmd = terminal
    ? new Deno.Command("script", {
      args: ["-qfec", serve.join(" "), "/dev/null"],
      cwd: ROOT,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    })
    : new Deno.Command(serve[0], {
      args: serve.slice(1),
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    });
  const proc = cmd.spawn();
  const chunks: string[] = [];
  const drain = proc.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void chunks.push(c) }),
  ).catch(() => {});
  const deadline = Date.now() + 30_000;
  const answers = async (path: string) =>
    await fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => {
      await r.body?.cancel();
      return true;
    }, () => false);
  while (Date.now() < deadline) {
    if (/Tenant demo/.test(chunks.join("")) && await answers("/healthz")) break;
    await sleep(100);
  }
  // Requests after the report: at the default level they add nothing below it.
  for (const path of ["/healthz", "/admin", "/scim/v2/inbound/none/Users"]) await answers(path);
  await sleep(300);
  try {
    proc.kill("SIGTERM");
  } catch { /* gone */ }
  if (terminal) {
    // `script` forwards the signal; make sure the server under it is gone too.
    await new Deno.Command("pkill", { args: ["-f", `127.0.0.1:${port}`] }).output().catch(() => {});
  }
  await proc.status;
  await drain;
  return chunks.join("");
}

/** The README's sample of the first start, and an output, with ids, secrets and ports neutral. */
function neutral(text: string): string {
  return text.replaceAll("\r", "")
    .replace(/weft_scim_[\w-]{43}/g, "<token>")
    .replace(/weft_setup_[\w-]{43}/g, "<link>")
    .replace(/inbound\/[A-Za-z0-9]{12}\//g, "inbound/<idp>/")
    .replace(/--idp [A-Za-z0-9]{12}/g, "--idp <idp>")
    .replace(/localhost:\d+/g, "localhost:<port>");
}

Deno.test({
  name: "First run: the SCIM token and setup link are printed to a terminal, never to a pipe",
  ignore: !(() => {
    try {
      return Deno.statSync("/usr/bin/script").isFile;
    } catch {
      return false;
    }
  })(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (dir) => {
      const piped = await firstRun(dir, false);
      assert.match(piped, /First run: created tenant "demo"/);
      assert.doesNotMatch(piped, /weft_scim_|weft_setup_/);
      assert.match(piped, /deno task weft token create --tenant demo --idp \S+ --name <name>/);
      assert.match(piped, /deno task weft admin setup-link --tenant demo/);
      const tty = await firstRun(dir, true);
      assert.match(tty, /weft_scim_[\w-]{43}/);
      assert.match(tty, /\/admin\/setup\/weft_setup_[\w-]{43}/);
      assert.match(tty, /printed here, to this terminal, and nowhere else/);
      // The README shows exactly what the first start prints.
      const readme = await Deno.readTextFile(join(ROOT, "README.md"));
      const sample = /```\n(First run: created tenant[\s\S]*?)```/.exec(readme)?.[1];
      assert.ok(sample, "the README has a sample of the first start");
      assert.ok(
        neutral(tty).includes(neutral(sample)),
        `README sample:\n${sample}\nprinted:\n${tty}`,
      );
      // At the default log level the requests that follow do not bury the report.
      assert.doesNotMatch(tty, /"msg":"request"/);
      // A later start reminds that the first-run token is still active.
      const again = await firstRun(dir, true);
      assert.doesNotMatch(again, /weft_scim_|weft_setup_/);
      assert.match(again, /first-run token is still active/);
    });
  },
});
