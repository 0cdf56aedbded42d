/**
 * The webhooks benchmark (`deno run -A --unstable-kv bench/webhooks.ts [--users <n>]`): a create
 * phase (POST /Users over HTTP to a `deno serve` server on a file store, 16 in flight) and a
 * member-batch phase (PATCH add of 50 members per request), with no endpoint, with one endpoint
 * subscribed to `*` on a loopback receiver, and with a dead endpoint (it never answers: every
 * attempt times out). Prints throughput side by side and, for the live endpoint, the delivery lag
 * (commit answered → receiver) p50/p99 during the phase and after it.
 * @module
 */
import { parseArgs } from "node:util";
import { createEndpoint } from "../lib/store/webhooks.ts";
import {
  pool,
  provision,
  ScimClient,
  startServer,
  userBody,
  withTempDir,
} from "../tests/reliability/_server.ts";
import { openTestKv } from "../tests/_kv_connect.ts";
import { startReceiver } from "../tests/_webhooks.ts";

const { values } = parseArgs({ options: { users: { type: "string" } } });
const USERS = Number(values.users ?? 1500);
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

type Mode = "none" | "live" | "dead";

interface Result {
  mode: Mode;
  createPerSec: number;
  membersPerSec: number;
  lagDuring?: [number, number];
  lagAfter?: [number, number];
  delivered?: number;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
}

async function run(mode: Mode): Promise<Result> {
  return await withTempDir(async (dir) => {
    const kvPath = `${dir}/weft.kv`;
    const { tenant, idps } = await provision(kvPath, "acme");
    const receiver = startReceiver(() =>
      mode === "dead" ? { status: 200, delayMs: 60_000 } : { status: 204 }
    );
    const kv = await openTestKv(kvPath);
    if (mode !== "none") {
      const { secret } = await createEndpoint(kv, tenant.id, {
        url: receiver.url,
        events: ["*"],
        description: mode,
      }, { actor: "bench" });
      receiver.secrets = [secret];
    }
    kv.close();
    const server = await startServer({
      kvPath,
      tenant: "acme",
      env: {
        WEFT_WEBHOOK_ALLOW_PRIVATE: "true",
        WEFT_REQUEST_LOG_DAYS: "0",
        WEFT_WEBHOOK_TIMEOUT_MS: "10000",
      },
    });
    try {
      const client = new ScimClient([server.origin], idps[0].idp.id, idps[0].token, mode);
      const answeredAt = new Map<string, number>();
      const samples: string[] = [];
      const probe = await openTestKv(kvPath);
      const sampler = setInterval(async () => {
        const head = (await probe.get<{ seq: number }>(["t", tenant.id, "feed_head"])).value?.seq;
        samples.push(`${answeredAt.size}/${head ?? "?"}/${receiver.received.length}`);
      }, 250);
      let t0 = performance.now();
      await pool(USERS, 16, async (i) => {
        const r = await client.send("POST", "/Users", userBody(mode, i));
        if (r.status === 201) answeredAt.set(String(r.json.id), Date.now());
      });
      const createPerSec = USERS / ((performance.now() - t0) / 1000);
      clearInterval(sampler);
      probe.close();
      if (Deno.env.get("BENCH_TRACE")) {
        // deno-lint-ignore no-console
        console.log(`${mode}: answered/feed head/received every 250 ms: ${samples.join(" ")}`);
      }
      const phaseEnd = Date.now();
      const g = await client.send("POST", "/Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: "All",
      });
      const ids = [...answeredAt.keys()];
      t0 = performance.now();
      const batches = Math.floor(ids.length / 50);
      await pool(batches, 4, async (b) => {
        await client.send("PATCH", `/Groups/${g.json.id}`, {
          schemas: [PATCH_OP],
          Operations: [{
            op: "add",
            path: "members",
            value: ids.slice(b * 50, b * 50 + 50).map((value) => ({ value })),
          }],
        });
      });
      const membersPerSec = (batches * 50) / ((performance.now() - t0) / 1000);
      const result: Result = { mode, createPerSec, membersPerSec };
      if (mode === "live") {
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline) {
          const created = receiver.received.filter((r) => r.body.includes('"type":"user.created"'));
          if (created.length >= answeredAt.size) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const lags = (during: boolean) =>
          receiver.received.filter((r) => r.body.includes('"type":"user.created"')).flatMap((r) => {
            const id = (JSON.parse(r.body).data as { id: string }).id;
            const at = answeredAt.get(id);
            if (at === undefined || (at <= phaseEnd - 0) !== during) return [];
            return [r.at - at];
          }).sort((a, b) => a - b);
        const d = lags(true);
        result.lagDuring = [pct(d, 0.5), pct(d, 0.99)];
        const late = receiver.received.filter((r) => r.at > phaseEnd).map((r) => r.at - phaseEnd)
          .sort((a, b) => a - b);
        result.lagAfter = [pct(late, 0.5), pct(late, 0.99)];
        result.delivered = receiver.delivered().size;
        if (Deno.env.get("BENCH_TRACE")) {
          const store = await openTestKv(kvPath);
          const { listEndpoints } = await import("../lib/store/webhooks.ts");
          const { listDeliveries } = await import("../lib/store/webhook_deliveries.ts");
          const [ep] = await listEndpoints(store, tenant.id);
          const { deliveries } = await listDeliveries(store, tenant.id, ep.id, { limit: 200 });
          store.close();
          const lat = deliveries.map((d) => d.attempts[0]?.latencyMs ?? -1).sort((a, b) => a - b);
          const wait = deliveries.map((d) =>
            Date.parse(d.attempts[0]?.at ?? "") - Date.parse(d.createdAt)
          )
            .sort((a, b) => a - b);
          // deno-lint-ignore no-console
          console.log(
            `live: attempt latency p50 ${pct(lat, 0.5)} ms p99 ${
              pct(lat, 0.99)
            }; due → attempt p50 ${pct(wait, 0.5)} ms p99 ${pct(wait, 0.99)}`,
          );
        }
      }
      return result;
    } finally {
      await server.stop();
      await receiver.close();
    }
  });
}

const results: Result[] = [];
for (const mode of ["none", "live", "dead"] as const) results.push(await run(mode));
const base = results[0];
// deno-lint-ignore no-console
console.log(
  `webhooks bench: ${USERS} users, 16 creates in flight, member batches of 50 (4 in flight)\n`,
);
// deno-lint-ignore no-console
console.log(
  "| endpoint | creates/s | × none | members/s | × none | lag during p50/p99 ms | after the phase p50/p99 ms |",
);
// deno-lint-ignore no-console
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of results) {
  // deno-lint-ignore no-console
  console.log(
    `| ${r.mode} | ${r.createPerSec.toFixed(0)} | ${
      (r.createPerSec / base.createPerSec).toFixed(2)
    } | ${r.membersPerSec.toFixed(0)} | ${(r.membersPerSec / base.membersPerSec).toFixed(2)} | ${
      r.lagDuring ? r.lagDuring.join(" / ") : "—"
    } | ${r.lagAfter ? r.lagAfter.join(" / ") : "—"} |`,
  );
}
