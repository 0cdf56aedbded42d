/**
 * Counts the Deno KV work Weft does per request, by key family, to find redundant reads and
 * writes. Runs Weft's app in-process over a counting wrapper of an in-memory KV (no network):
 *
 * ```sh
 * deno run -A --unstable-kv bench/kv_profile.ts            # table on stdout
 * deno run -A --unstable-kv bench/kv_profile.ts --json     # the same as JSON
 * ```
 *
 * Each row is one request of the benchmark's workload, measured after a small directory (300
 * users, one group of 250 members) is in place.
 * @module
 */
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { createIdp, createTenant, createToken } from "../lib/store/tenants.ts";
import { createApp } from "../routes/mod.ts";
import { groupName, memberPatch, oktaUser, userName } from "./workloads.ts";

/** KV work of one request. */
export interface KvCount {
  get: number;
  getMany: number;
  getManyKeys: number;
  list: number;
  listed: number;
  commits: number;
  checks: number;
  mutations: number;
  /** Reads per key family (the part after the tenant id), e.g. `idp_users: 2`. */
  reads: Record<string, number>;
  /** Writes per key family. */
  writes: Record<string, number>;
}

function empty(): KvCount {
  return {
    get: 0,
    getMany: 0,
    getManyKeys: 0,
    list: 0,
    listed: 0,
    commits: 0,
    checks: 0,
    mutations: 0,
    reads: {},
    writes: {},
  };
}

function family(key: Deno.KvKey): string {
  return String(key[0] === "t" ? key[2] : key[0]);
}

function bump(map: Record<string, number>, key: Deno.KvKey, n = 1): void {
  const f = family(key);
  map[f] = (map[f] ?? 0) + n;
}

/** Wraps a KV store so every operation is added to `counter.current`. */
export function countingKv(kv: Deno.Kv, counter: { current: KvCount }): Deno.Kv {
  const wrapAtomic = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          const c = counter.current;
          if (prop === "check") {
            c.checks += args.length;
            for (const a of args as Deno.AtomicCheck[]) bump(c.reads, a.key, 0);
          } else if (prop === "set" || prop === "delete" || prop === "sum" || prop === "mutate") {
            c.mutations++;
            if (prop !== "mutate") bump(c.writes, args[0] as Deno.KvKey);
          } else if (prop === "commit") c.commits++;
          const result = value.apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  };
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "get") {
        return (key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
          counter.current.get++;
          bump(counter.current.reads, key);
          return target.get(key, options);
        };
      }
      if (prop === "getMany") {
        return (keys: Deno.KvKey[], options?: { consistency?: Deno.KvConsistencyLevel }) => {
          counter.current.getMany++;
          counter.current.getManyKeys += keys.length;
          for (const k of keys) bump(counter.current.reads, k);
          return target.getMany(keys, options);
        };
      }
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          counter.current.list++;
          const iter = target.list(selector, options);
          const proxy: Deno.KvListIterator<unknown> = new Proxy(iter, {
            get(it, p) {
              if (p === Symbol.asyncIterator) return () => proxy;
              if (p === "next") {
                return async () => {
                  const r = await it.next();
                  if (!r.done) {
                    counter.current.listed++;
                    bump(counter.current.reads, r.value.key);
                  }
                  return r;
                };
              }
              const v = Reflect.get(it, p, it);
              return typeof v === "function" ? v.bind(it) : v;
            },
          });
          return proxy;
        };
      }
      if (prop === "atomic") return () => wrapAtomic(target.atomic());
      if (prop === "set" || prop === "delete") {
        return (key: Deno.KvKey, ...rest: unknown[]) => {
          counter.current.commits++;
          counter.current.mutations++;
          bump(counter.current.writes, key);
          return (value as (...a: unknown[]) => unknown).call(target, key, ...rest);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Profiles one request of each kind; returns name → KV work. */
export async function profile(): Promise<[string, KvCount, number][]> {
  const kv = await Deno.openKv(":memory:");
  const tenant = await createTenant(kv, { subdomain: "bench" });
  const idp = await createIdp(kv, tenant.id, { name: "Okta", kind: "okta" });
  const { secret } = await createToken(kv, tenant.id, idp.id, { name: "p", createdBy: "bench" });
  const counter = { current: empty() };
  const config = loadConfig({ WEFT_KV_PATH: ":memory:", WEFT_LOG: "off" });
  const app = createApp({ kv: countingKv(kv, counter), config, log: createLogger("off") });
  const base = `http://bench.localhost/scim/v2/inbound/${idp.id}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.fetch(
      new Request(base + path, {
        method,
        headers: {
          authorization: `Bearer ${secret}`,
          "content-type": "application/scim+json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      { remoteAddr: { hostname: "127.0.0.1" } },
    );
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) ids.push((await call("POST", "/Users", oktaUser(i))).id);
  const group = await call("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: groupName(0),
    members: [],
  });
  for (let b = 0; b < 150; b += 100) {
    const members = ids.slice(b, b + 100).map((v, k) => ({ value: v, display: userName(b + k) }));
    await call("PATCH", `/Groups/${group.id}`, memberPatch(group.id, groupName(0), members));
  }
  const filter = (a: string, v: string) =>
    `/Users?filter=${encodeURIComponent(`${a} eq "${v}"`)}&startIndex=1&count=100`;
  const patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
  const rows: [string, () => Promise<unknown>][] = [
    ["match (miss)", () => call("GET", filter("userName", userName(1000)))],
    ["create", () => call("POST", "/Users", oktaUser(1000))],
    ["lookup userName", () => call("GET", filter("userName", userName(7)))],
    [
      "lookup externalId",
      () => call("GET", filter("externalId", oktaUser(7).externalId as string)),
    ],
    [
      "group PATCH +100",
      () =>
        call(
          "PATCH",
          `/Groups/${group.id}`,
          memberPatch(
            group.id,
            groupName(0),
            ids.slice(150, 250).map((v, k) => ({ value: v, display: userName(150 + k) })),
          ),
        ),
    ],
    [
      "deactivate",
      () =>
        call("PATCH", `/Users/${ids[10]}`, {
          schemas: [patchOp],
          Operations: [{ op: "replace", value: { active: false } }],
        }),
    ],
    ["page 2 (startIndex=101)", async () => {
      await call("GET", "/Users?startIndex=1&count=100");
      counter.current = empty();
      return call("GET", "/Users?startIndex=101&count=100");
    }],
    [
      "entra email+name",
      () =>
        call("PATCH", `/Users/${ids[15]}`, {
          schemas: [patchOp],
          Operations: [
            { op: "Replace", path: 'emails[type eq "work"].value', value: "x@example.com" },
            { op: "Replace", path: "name.familyName", value: "Renamed" },
          ],
        }),
    ],
    [
      "entra active False",
      () =>
        call("PATCH", `/Users/${ids[15]}`, {
          schemas: [patchOp],
          Operations: [{ op: "Replace", path: "active", value: "False" }],
        }),
    ],
    [
      "GET group excl. members",
      () => call("GET", `/Groups/${group.id}?excludedAttributes=members`),
    ],
    ["GET group (250 members)", () => call("GET", `/Groups/${group.id}`)],
  ];
  const out: [string, KvCount, number][] = [];
  for (const [name, run] of rows) {
    counter.current = empty();
    const started = performance.now();
    await run();
    out.push([name, counter.current, performance.now() - started]);
  }
  kv.close();
  return out;
}

function families(m: Record<string, number>): string {
  return Object.entries(m).map(([k, v]) => `${k}:${v}`).join(" ");
}

if (import.meta.main) {
  const rows = await profile();
  if (Deno.args.includes("--json")) {
    // deno-lint-ignore no-console
    console.log(JSON.stringify(rows, null, 2));
  } else {
    const lines = [
      "| request | get | getMany (keys) | list (entries) | commits | checks | mutations | reads by family | writes by family |",
      "| ------- | --: | -------------: | -------------: | ------: | -----: | --------: | --------------- | ---------------- |",
      ...rows.map(([name, c]) =>
        `| ${name} | ${c.get} | ${c.getMany} (${c.getManyKeys}) | ${c.list} (${c.listed}) | ${c.commits} | ${c.checks} | ${c.mutations} | ${
          families(c.reads)
        } | ${families(c.writes)} |`
      ),
    ];
    // deno-lint-ignore no-console
    console.log(lines.join("\n"));
  }
}
