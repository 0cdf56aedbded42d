/**
 * The tenants stage of the scaling run: does serving many tenants cost anything per request?
 *
 * On a running Weft (its store a SQLite file), this process creates `count` tenants, each with an
 * Okta IdP connection and a token, straight on the store (the server, another process on the
 * same file, serves each one as soon as it exists). Then, through the server on loopback, every
 * tenant gets `perTenant` users (match, then create, as Okta provisions), the tenants in
 * round-robin so every request names another tenant than the one before. Last, with one client
 * (pure latency), lookups alternate between the bench tenant and a tenant drawn from all of
 * them, so both kinds meet the same machine: the ratio of their medians is the cost of tenant
 * resolution and isolation at `count` tenants.
 *
 * Requests name their tenant by host (`t0001.localhost`), sent through the server as an HTTP
 * proxy (`Target.proxy`), so they still go to 127.0.0.1.
 * @module
 */
import { createIdp, createTenant, createToken } from "../lib/store/tenants.ts";
import { type Client, runPhase, type Target } from "./load.ts";
import type { Running } from "./systems.ts";
import { externalId, filterPath, matchThenCreate, ONE_RESULT, userName } from "./workloads.ts";

/** What the tenants stage measured. */
export interface TenantsResult {
  tenants: number;
  usersPerTenant: number;
  /** Creating the tenants, IdPs and tokens on the store (ms). */
  provisionMs: number;
  /** Match + create for every tenant's users, round-robin over the tenants. */
  load: { requests: number; rps: number; p50: number; p99: number; errors: number };
  /** Lookups in the bench tenant, interleaved with `spread` (ms). */
  single: number[];
  /** Lookups each in a tenant drawn from all of them (ms). */
  spread: number[];
  /** Errors of the lookups (a lookup must find exactly its user). */
  lookupErrors: number;
}

/** Tenant `t`'s subdomain. */
function subdomain(t: number): string {
  return `t${String(t).padStart(4, "0")}`;
}

/** Runs the stage; `bench` is the server's own tenant, already holding users `0..benchUsers`. */
export async function tenantsStage(
  sys: Running,
  options: {
    count: number;
    perTenant: number;
    benchUsers: number;
    probes: number;
    concurrency: number;
    timeoutMs: number;
    log: (line: string) => void;
  },
): Promise<TenantsResult> {
  const { count, perTenant, log } = options;
  if (!sys.kvPath || !sys.origin) throw new Error("The tenants stage needs Weft on a SQLite file");
  const started = performance.now();
  const kv = await Deno.openKv(sys.kvPath);
  const targets: Target[] = [];
  try {
    for (let t = 0; t < count; t++) {
      const tenant = await createTenant(kv, { subdomain: subdomain(t), actor: "bench" });
      const idp = await createIdp(kv, tenant.id, { name: "Okta", kind: "okta", actor: "bench" });
      const { secret } = await createToken(kv, tenant.id, idp.id, {
        name: "bench",
        createdBy: "bench",
      });
      targets.push({
        base: `http://${subdomain(t)}.localhost/scim/v2/inbound/${idp.id}`,
        token: secret,
      });
    }
  } finally {
    kv.close();
  }
  const provisionMs = performance.now() - started;
  log(`  ${count} tenants provisioned in ${(provisionMs / 1000).toFixed(1)} s`);
  const via: Target = { base: sys.base, token: sys.token, proxy: sys.origin };
  const bench: Target = {
    base: sys.base.replace(/^http:\/\/[^/]+/, "http://bench.localhost"),
    token: sys.token,
  };

  const total = count * perTenant;
  function* creates() {
    for (let k = 0; k < total; k++) {
      // Round-robin: user k goes to tenant k % count, as user k / count of that tenant.
      const target = targets[k % count];
      const i = Math.floor(k / count);
      yield async (c: Client) => {
        await matchThenCreate(c, i, target);
      };
    }
  }
  const load = await runPhase("tenants", via, creates(), {
    concurrency: options.concurrency,
    maxRequests: 2 * total + 10,
    timeoutMs: options.timeoutMs,
  });
  log(
    `  ${load.requests} requests over ${count} tenants, ${
      load.rps.toFixed(0)
    } req/s, ${load.errors} errors${load.errors ? ` (${load.errorSamples[0]})` : ""}`,
  );

  const single: number[] = [];
  const spread: number[] = [];
  let lookupErrors = 0;
  // A fixed pseudo-random walk, so reruns probe the same users and tenants.
  let seed = 7;
  const next = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
  const lookup = async (c: Client, target: Target, i: number, into: number[]) => {
    const byName = into.length % 2 === 0;
    const res = await c.send({
      method: "GET",
      path: byName ? filterPath("userName", userName(i)) : filterPath("externalId", externalId(i)),
      target,
    });
    if (res.error || !ONE_RESULT.test(res.text)) lookupErrors++;
    into.push(res.ms);
  };
  await runPhase(
    "tenant-lookups",
    via,
    Array.from({ length: options.probes }, () => async (c: Client) => {
      await lookup(c, bench, next(options.benchUsers), single);
      await lookup(c, targets[next(count)], next(perTenant), spread);
    }),
    { concurrency: 1, maxRequests: 2 * options.probes + 10, timeoutMs: options.timeoutMs },
  );
  return {
    tenants: count,
    usersPerTenant: perTenant,
    provisionMs,
    load: {
      requests: load.requests,
      rps: load.rps,
      p50: load.p50,
      p99: load.p99,
      errors: load.errors,
    },
    single,
    spread,
    lookupErrors,
  };
}
