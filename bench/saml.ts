/**
 * The `saml` phase (Weft only): SP-initiated sign-ins against the running server, each a
 * `GET /saml/<idp>/login` (the AuthnRequest redirect) and a `POST /saml/<idp>/acs` with a
 * response the bench signs as the IdP would (xml-crypto, RSA-SHA256), for users the replay
 * provisioned and left active. Beside it, the same responses verified by node-saml alone, in a
 * loop in this process: the library's limit on one core, which Weft's sign-ins are measured
 * against (target ≥ 0.7 of it).
 *
 * The two requests of a sign-in are timed in two passes, the logins first, then the ACS posts,
 * so the bench's own signing (between them) is not counted; a sign-in's latency is the sum of
 * its two requests. Every request goes to loopback, and each pass is bounded by count and time.
 * @module
 */
import { inflateRawSync } from "node:zlib";
import { join } from "node:path";
import { assertLoopback, quantile } from "./load.ts";
import type { Running } from "./systems.ts";
import { userName, type WorkloadOptions } from "./workloads.ts";
import { makeKeyPair } from "../lib/saml/x509.ts";
import { samlVerifier, spUrls } from "../lib/saml/sp.ts";
import type { SamlSettings } from "../lib/store/types.ts";
import { encodeResponse, signedResponse } from "../tests/saml/_idp.ts";

const ISSUER = "http://bench.idp.test/exk1";

/** What the `saml` phase measured. */
export interface SamlStats {
  signIns: number;
  errors: number;
  errorSamples: string[];
  incomplete: boolean;
  /** Sign-ins per second through Weft (both requests). */
  signInsPerSecond: number;
  /** p50 and p99 of a sign-in (login + ACS), ms. */
  p50: number;
  p99: number;
  loginP99: number;
  acsP99: number;
  /** node-saml alone on the same responses, in one loop. */
  libraryPerSecond: number;
  libraryP99: number;
  /** Weft ÷ library. */
  ratio: number;
  /** Server CPU per sign-in, ms (when known). */
  serverCpuMsPerSignIn?: number;
}

/** How many sign-ins the phase times for a replay of `o.users` users (users sign in again). */
export function samlSignIns(o: WorkloadOptions): number {
  return Math.min(2000, Math.max(200, Math.floor(o.users / 5)));
}

/** Sign-ins first run untimed on both sides, so neither is measured cold. */
const WARM_UP = 100;

function requestIdOf(location: string): { id: string } {
  const url = new URL(location);
  const bin = atob(url.searchParams.get("SAMLRequest") ?? "");
  const xml = new TextDecoder().decode(
    inflateRawSync(Uint8Array.from(bin, (c) => c.charCodeAt(0))),
  );
  const id = /\sID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error("The AuthnRequest carries no ID");
  return { id };
}

/** Runs `n` tasks with `concurrency` in flight before `deadline`; returns each one's latency. */
async function pass(
  n: number,
  concurrency: number,
  deadline: number,
  task: (i: number) => Promise<void>,
): Promise<
  { wallMs: number; latencies: number[]; errors: string[]; failed: number; done: number }
> {
  const latencies: number[] = new Array(n).fill(NaN);
  const errors: string[] = [];
  let next = 0;
  let done = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        await task(i);
        latencies[i] = performance.now() - t0;
        done++;
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(String(error).slice(0, 200));
      }
    }
  }));
  return { wallMs: performance.now() - started, latencies, errors, failed, done };
}

/** The `saml` phase against a running Weft whose replay provisioned `o.users` users. */
export async function samlPhase(sys: Running, o: WorkloadOptions): Promise<SamlStats> {
  if (!sys.weftCli) throw new Error("The saml phase runs against Weft only");
  const m = /^(https?:\/\/[^/]+)\/scim\/v2\/inbound\/([^/]+)$/.exec(sys.base);
  if (!m) throw new Error(`Cannot read the origin and IdP from ${sys.base}`);
  const [, origin, idpId] = m;
  assertLoopback(origin);
  const key = makeKeyPair({ commonName: "Bench IdP" });
  const dir = await Deno.makeTempDir({ prefix: "weft-bench-saml-" });
  try {
    const certFile = join(dir, "idp.pem");
    await Deno.writeTextFile(certFile, key.certificate);
    await sys.weftCli(
      "idp",
      "saml",
      "--tenant",
      "bench",
      "--idp",
      idpId,
      "--entity-id",
      ISSUER,
      "--sso-url",
      "http://127.0.0.1:9/sso",
      "--cert-file",
      certFile,
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const urls = spUrls(origin, idpId);
  // Users the replay left active (it deactivated i % 10 = 0 and i % 10 = 5).
  const active = Array.from({ length: o.users }, (_, i) => i).filter((i) => i % 5 !== 0);
  const deadline = performance.now() + o.phaseTimeoutMs;
  const round = (n: number) => runRound(n, urls, key, active, o.concurrency, deadline);
  const verifier = await samlVerifier(
    {
      tenantId: "bench",
      idpId,
      entityId: ISSUER,
      ssoUrl: "http://127.0.0.1:9/sso",
      certificates: [key.certificate],
      idpInitiated: true,
      jit: false,
      updatedAt: new Date().toISOString(),
      updatedBy: "bench",
    } satisfies SamlSettings,
    urls,
  );
  const library = async (responses: string[]) => {
    const out: number[] = [];
    const started = performance.now();
    for (const r of responses) {
      if (!r || performance.now() > deadline) continue;
      const t0 = performance.now();
      await verifier.validatePostResponseAsync({ SAMLResponse: r });
      out.push(performance.now() - t0);
    }
    return { latencies: out, wallMs: performance.now() - started };
  };
  const warm = await round(WARM_UP);
  await library(warm.responses);

  const n = samlSignIns(o);
  const cpu0 = await sys.cpuMs();
  const { logins, posts, responses } = await round(n);
  const cpu1 = await sys.cpuMs();
  const lib = await library(responses);

  const both = logins.latencies.map((l, i) => l + posts.latencies[i]).filter(Number.isFinite)
    .sort((a, b) => a - b);
  const sorted = (xs: number[]) => xs.filter(Number.isFinite).sort((a, b) => a - b);
  const signIns = posts.done;
  const signInsPerSecond = signIns / ((logins.wallMs + posts.wallMs) / 1000);
  const libraryPerSecond = lib.latencies.length / (lib.wallMs / 1000);
  const errors = warm.logins.failed + warm.posts.failed + logins.failed + posts.failed;
  return {
    signIns,
    errors,
    errorSamples: [...warm.logins.errors, ...warm.posts.errors, ...logins.errors, ...posts.errors]
      .slice(0, 5),
    incomplete: signIns < n,
    signInsPerSecond,
    p50: quantile(both, 0.5),
    p99: quantile(both, 0.99),
    loginP99: quantile(sorted(logins.latencies), 0.99),
    acsP99: quantile(sorted(posts.latencies), 0.99),
    libraryPerSecond,
    libraryP99: quantile(sorted(lib.latencies), 0.99),
    ratio: libraryPerSecond ? signInsPerSecond / libraryPerSecond : 0,
    serverCpuMsPerSignIn: signIns && cpu1 > cpu0 ? (cpu1 - cpu0) / signIns : undefined,
  };
}

/**
 * One round of `n` SP-initiated sign-ins: the logins (timed), the responses signed (untimed),
 * the ACS posts (timed).
 */
async function runRound(
  n: number,
  urls: ReturnType<typeof spUrls>,
  key: ReturnType<typeof makeKeyPair>,
  active: number[],
  concurrency: number,
  deadline: number,
) {
  const requestIds: string[] = new Array(n);
  const logins = await pass(n, concurrency, deadline, async (i) => {
    const res = await fetch(`${urls.loginUrl}?return_to=%2Fme`, { redirect: "manual" });
    await res.body?.cancel();
    if (res.status !== 303) throw new Error(`login: status ${res.status}`);
    requestIds[i] = requestIdOf(res.headers.get("location") ?? "").id;
  });
  const responses = requestIds.map((id, k) =>
    id
      ? encodeResponse(signedResponse({
        issuer: ISSUER,
        audience: urls.entityId,
        acsUrl: urls.acsUrl,
        nameId: userName(active[k % active.length]),
        inResponseTo: id,
        attributes: { firstName: "Bench" },
      }, key))
      : ""
  );
  const posts = await pass(n, concurrency, deadline, async (i) => {
    if (!responses[i]) throw new Error("no request to answer");
    const res = await fetch(urls.acsUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ SAMLResponse: responses[i] }).toString(),
      redirect: "manual",
    });
    const text = await res.text();
    if (res.status !== 303 || !res.headers.get("set-cookie")?.includes("weft_person=")) {
      throw new Error(`acs: status ${res.status} ${text.slice(0, 120)}`);
    }
  });
  return { logins, posts, responses };
}
