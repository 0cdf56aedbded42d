/**
 * The replayed traffic: Okta's initial push of a directory, then an Entra-shaped pass
 * (shared/docs/idp-behaviour.md §2.1, §2.2). Every system receives exactly the same requests.
 *
 * Phases, in order:
 * 1. `create`: match-before-create `GET /Users?filter=userName eq …` then `POST /Users` (core and
 *    enterprise attributes, Okta's `externalId`, `password` and `groups: []`), per user.
 * 2. `lookup`: `GET /Users?filter=userName eq …` and `GET /Users?filter=externalId eq …` per user;
 *    each must find exactly one user.
 * 3. `groups`: `POST /Groups` G times, then every user added in PATCHes of 100 members, in Okta's
 *    shape (the pathless rename with `id` that Okta re-sends, then `add` on `members`).
 * 4. `deactivate`: Okta's pathless `{"op":"replace","value":{"active":false}}` on 10 % of users.
 * 5. `page`: `GET /Users?startIndex=…&count=100` through the whole directory, page after page as
 *    Okta's import does (one client: an import is sequential).
 * 6. `entra`: on another 10 %, Entra's capitalised `Replace` of `emails[type eq "work"].value` and
 *    `name.familyName`, then its disable `{"op":"Replace","path":"active","value":"False"}`.
 * @module
 */
import {
  type BenchResponse,
  type Client,
  type PhaseLimits,
  type PhaseStats,
  runPhase,
  type Target,
} from "./load.ts";
import { cpuTime } from "./systems.ts";

const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/** Size of the replay. */
export interface WorkloadOptions {
  users: number;
  groups: number;
  /** Members per group PATCH (Okta sends up to 100). */
  batch: number;
  concurrency: number;
  /** Deadline of each phase in milliseconds. */
  phaseTimeoutMs: number;
}

/** Workload options of the profiling tools: `users` users, a group per thousand, 8 clients. */
export function profilingOptions(users: number): WorkloadOptions {
  return {
    users,
    groups: Math.max(1, Math.round(users / 1000)),
    batch: 100,
    concurrency: 8,
    phaseTimeoutMs: 600_000,
  };
}

/** The phases in order. */
export const PHASES = ["create", "lookup", "groups", "deactivate", "page", "entra"] as const;
/** A phase name. */
export type Phase = typeof PHASES[number];

const FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"];
const LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"];
const DEPTS = ["Engineering", "Sales", "Finance", "Support", "Legal", "Marketing"];

/** The userName of user `i`. */
export function userName(i: number): string {
  return `user${String(i).padStart(6, "0")}@example.com`;
}

/** Okta's user id of user `i` (sent as `externalId`). */
export function externalId(i: number): string {
  return `00u${i.toString(36).padStart(8, "0")}h7`;
}

/** The `POST /Users` body Okta sends for user `i` (idp-behaviour §2.1 step 3). */
export function oktaUser(i: number): Record<string, unknown> {
  const given = FIRST[i % FIRST.length];
  const family = LAST[i % LAST.length];
  return {
    schemas: [CORE_USER, ENTERPRISE],
    userName: userName(i),
    name: { givenName: given, familyName: family },
    emails: [{ primary: true, value: userName(i), type: "work" }],
    displayName: `${given} ${family}`,
    locale: "en-US",
    externalId: externalId(i),
    groups: [],
    password: "1mz050nq",
    active: true,
    [ENTERPRISE]: {
      employeeNumber: String(100000 + i),
      department: DEPTS[i % DEPTS.length],
      costCenter: `CC-${i % 40}`,
      organization: "Example Corp",
      division: i % 2 ? "Product" : "Operations",
    },
  };
}

/** The SCIM path of an `eq` filter on one attribute, as Okta sends it. */
export function filterPath(attr: string, value: string): string {
  return `/Users?filter=${encodeURIComponent(`${attr} eq "${value}"`)}&startIndex=1&count=100`;
}

function idOf(text: string): string {
  const id = (JSON.parse(text) as { id?: unknown }).id;
  if (typeof id !== "string" || !id) throw new Error("The response carries no id");
  return id;
}

/** A list response holding exactly one resource. */
export const ONE_RESULT = /"totalResults"\s*:\s*1\b/;

/** What a replay learned about one system: the ids it assigned. */
export interface ReplayState {
  userIds: (string | undefined)[];
  groupIds: string[];
}

/** Results of one replay against one system. */
export interface ReplayResult {
  phases: PhaseStats[];
  /** Groups whose member count differed from what was added (lost updates), after `groups`. */
  memberMismatches: number;
  /** Per-page latency of the `page` phase, in page order. */
  pageLatencies: number[];
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

function* map<T, U>(it: Iterable<T>, f: (t: T) => U): Generator<U> {
  for (const t of it) yield f(t);
}

/** The users of the `deactivate` (i % 10 = 0) and `entra` (i % 10 = 5) phases. */
function tenth(n: number, rest: number): number[] {
  return [...range(n)].filter((i) => i % 10 === rest);
}

function limits(o: WorkloadOptions, maxRequests: number, concurrency = o.concurrency): PhaseLimits {
  return { concurrency, maxRequests: maxRequests + 10, timeoutMs: o.phaseTimeoutMs };
}

/**
 * Okta's provisioning of user `i`: a match by userName (which must find nothing), then the
 * create (which must answer 201). `target` sends both to another tenant than the phase's.
 */
export async function matchThenCreate(
  c: Client,
  i: number,
  target?: Target,
): Promise<BenchResponse> {
  const match = await c.send({ method: "GET", path: filterPath("userName", userName(i)), target });
  if (!match.error && !/"totalResults"\s*:\s*0\b/.test(match.text)) c.fail(match, "not empty");
  const res = await c.send({ method: "POST", path: "/Users", body: oktaUser(i), target });
  if (res.status !== 201 && !res.error) c.fail(res, `status ${res.status}, not 201`);
  return res;
}

/** Phase 1: match-before-create then create, per user. */
export function createPhase(
  target: Target,
  o: WorkloadOptions,
  state: ReplayState,
  from = 0,
): Promise<PhaseStats & { client: Client }> {
  const n = o.users - from;
  return runPhase(
    "create",
    target,
    map(range(n), (k) => async (c: Client) => {
      const i = from + k;
      const res = await matchThenCreate(c, i);
      if (!res.error) state.userIds[i] = idOf(res.text);
    }),
    limits(o, 2 * n),
  );
}

/** Phase 2: a lookup by userName and one by externalId, per user. */
export function lookupPhase(
  target: Target,
  o: WorkloadOptions,
  users: number[] = [...range(o.users)],
  name = "lookup",
): Promise<PhaseStats & { client: Client }> {
  return runPhase(
    name,
    target,
    map(users, (i) => async (c: Client) => {
      const a = await c.send({ method: "GET", path: filterPath("userName", userName(i)) });
      if (!a.error && !ONE_RESULT.test(a.text)) c.fail(a, "not exactly one user");
      const b = await c.send({ method: "GET", path: filterPath("externalId", externalId(i)) });
      if (!b.error && !ONE_RESULT.test(b.text)) c.fail(b, "not exactly one user");
    }),
    limits(o, 2 * users.length),
  );
}

/** The Okta group membership PATCH: rename re-sent with `id`, then `add` of `members`. */
export function memberPatch(
  groupId: string,
  displayName: string,
  members: { value: string; display: string }[],
): Record<string, unknown> {
  return {
    schemas: [PATCH_OP],
    Operations: [
      { op: "replace", value: { id: groupId, displayName } },
      { op: "add", path: "members", value: members },
    ],
  };
}

/** The display name of group `g`. */
export function groupName(g: number): string {
  return `Team ${String(g).padStart(4, "0")}`;
}

/** Phase 3: create the groups, then add every user in batches (user i → group i mod G). */
export async function groupsPhase(
  target: Target,
  o: WorkloadOptions,
  state: ReplayState,
): Promise<PhaseStats & { client: Client; expected: number[] }> {
  const byGroup: number[][] = Array.from({ length: o.groups }, () => []);
  for (let i = 0; i < o.users; i++) if (state.userIds[i]) byGroup[i % o.groups].push(i);
  // Batches interleave the groups, so concurrent PATCHes mostly touch different groups.
  const batches: [number, number[]][] = [];
  const most = Math.max(0, ...byGroup.map((m) => m.length));
  for (let at = 0; at < most; at += o.batch) {
    for (let g = 0; g < o.groups; g++) {
      const slice = byGroup[g].slice(at, at + o.batch);
      if (slice.length) batches.push([g, slice]);
    }
  }
  const creates = [...range(o.groups)].map((g) => async (c: Client) => {
    const res = await c.send({
      method: "POST",
      path: "/Groups",
      body: { schemas: [CORE_GROUP], displayName: groupName(g), members: [] },
    });
    if (res.status !== 201 && !res.error) c.fail(res, `status ${res.status}, not 201`);
    if (!res.error) state.groupIds[g] = idOf(res.text);
  });
  const patches = batches.map(([g, members]) => async (c: Client) => {
    const id = state.groupIds[g];
    if (!id) throw new Error("group was not created");
    const body = memberPatch(
      id,
      groupName(g),
      members.map((i) => ({ value: state.userIds[i]!, display: userName(i) })),
    );
    await c.send({ method: "PATCH", path: `/Groups/${id}`, body });
  });
  // Creates first (all of them), then the member batches, as one timed phase.
  let createsDone: Promise<unknown> = Promise.resolve();
  const tasks = function* () {
    const pending: Promise<void>[] = [];
    for (const t of creates) {
      yield (c: Client) => {
        const p = t(c);
        pending.push(p.catch(() => {}));
        return p;
      };
    }
    createsDone = Promise.all(pending);
    for (const t of patches) {
      yield async (c: Client) => {
        await createsDone;
        await t(c);
      };
    }
  };
  const stats = await runPhase(
    "groups",
    target,
    tasks(),
    limits(o, creates.length + patches.length),
  );
  return { ...stats, expected: byGroup.map((m) => m.length) };
}

/** Reads every group back and counts those whose member count differs from what was added. */
export async function verifyMembers(
  target: Target,
  o: WorkloadOptions,
  state: ReplayState,
  expected: number[],
): Promise<number> {
  let mismatches = 0;
  await runPhase(
    "verify",
    target,
    map(range(o.groups), (g) => async (c: Client) => {
      const id = state.groupIds[g];
      if (!id) return void mismatches++;
      const res = await c.send({ method: "GET", path: `/Groups/${id}` });
      if (res.error) return void mismatches++;
      const members = (JSON.parse(res.text) as { members?: unknown[] }).members ?? [];
      if (members.length !== expected[g]) mismatches++;
    }),
    limits(o, o.groups, 2),
  );
  return mismatches;
}

/** Phase 4: Okta's pathless deactivation of 10 % of users. */
export function deactivatePhase(
  target: Target,
  o: WorkloadOptions,
  state: ReplayState,
): Promise<PhaseStats & { client: Client }> {
  const users = tenth(o.users, 0).filter((i) => state.userIds[i]);
  return runPhase(
    "deactivate",
    target,
    map(users, (i) => async (c: Client) => {
      const res = await c.send({
        method: "PATCH",
        path: `/Users/${state.userIds[i]}`,
        body: { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] },
      });
      if (!res.error && res.status === 200 && !/"active"\s*:\s*false/.test(res.text)) {
        c.fail(res, "still active");
      }
    }),
    limits(o, users.length),
  );
}

/** Phase 5: page through every user with `count=100`, one page after another. */
export function pagePhase(
  target: Target,
  o: WorkloadOptions,
  total = o.users,
  name = "page",
): Promise<PhaseStats & { client: Client }> {
  const pages = Math.max(1, Math.ceil(total / 100));
  return runPhase(
    name,
    target,
    map(range(pages), (p) => async (c: Client) => {
      const res = await c.send(
        { method: "GET", path: `/Users?startIndex=${p * 100 + 1}&count=100` },
        p,
      );
      if (res.error) return;
      const body = JSON.parse(res.text) as { Resources?: unknown[]; totalResults?: number };
      const want = Math.min(100, total - p * 100);
      if ((body.Resources?.length ?? 0) !== want) {
        c.fail(res, `page ${p + 1} has ${body.Resources?.length ?? 0} users, not ${want}`);
      }
    }),
    limits(o, pages, 1),
  );
}

/** Phase 6: Entra's update and disable on another 10 % of users. */
export function entraPhase(
  target: Target,
  o: WorkloadOptions,
  state: ReplayState,
): Promise<PhaseStats & { client: Client }> {
  const users = tenth(o.users, 5).filter((i) => state.userIds[i]);
  return runPhase(
    "entra",
    target,
    map(users, (i) => async (c: Client) => {
      const path = `/Users/${state.userIds[i]}`;
      const update = await c.send({
        method: "PATCH",
        path,
        body: {
          schemas: [PATCH_OP],
          Operations: [
            {
              op: "Replace",
              path: 'emails[type eq "work"].value',
              value: `renamed.${userName(i)}`,
            },
            { op: "Replace", path: "name.familyName", value: "Renamed" },
          ],
        },
      });
      if (!update.error && update.status === 200 && !update.text.includes("renamed.")) {
        c.fail(update, "email not replaced");
      }
      await c.send({
        method: "PATCH",
        path,
        body: {
          schemas: [PATCH_OP],
          Operations: [{ op: "Replace", path: "active", value: "False" }],
        },
      });
    }),
    limits(o, 2 * users.length),
  );
}

function strip(stats: PhaseStats & { client?: Client }): PhaseStats {
  const { client: _client, ...rest } = stats;
  return rest;
}

/** Runs the six phases against one target; `cpuMs` reads the server's CPU time, if known. */
export async function replay(
  target: Target,
  o: WorkloadOptions,
  onPhase: (stats: PhaseStats) => void = () => {},
  cpuMs?: () => Promise<number>,
): Promise<ReplayResult> {
  const state: ReplayState = { userIds: [], groupIds: [] };
  const phases: PhaseStats[] = [];
  const measure = async <T extends PhaseStats & { client?: Client }>(
    run: () => Promise<T>,
  ): Promise<T> => {
    const before = cpuMs ? await cpuMs() : 0;
    const clientBefore = await cpuTime(Deno.pid);
    const s = await run();
    if (cpuMs && s.requests) s.serverCpuMsPerRequest = (await cpuMs() - before) / s.requests;
    if (s.requests) s.clientCpuMsPerRequest = (await cpuTime(Deno.pid) - clientBefore) / s.requests;
    const p = strip(s);
    phases.push(p);
    onPhase(p);
    return s;
  };
  await measure(() => createPhase(target, o, state));
  await measure(() => lookupPhase(target, o));
  const groups = await measure(() => groupsPhase(target, o, state));
  const memberMismatches = await verifyMembers(target, o, state, groups.expected);
  await measure(() => deactivatePhase(target, o, state));
  const page = await measure(() => pagePhase(target, o));
  await measure(() => entraPhase(target, o, state));
  const pageLatencies = [...page.client!.tagged].sort((a, b) => a[0] - b[0]).map(([, ms]) => ms);
  return { phases, memberMismatches, pageLatencies };
}
