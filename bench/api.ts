/**
 * The directory API phases (Weft only): after the replay, page through `GET /api/v1/users` with
 * `limit=200` from the first page to the last (every user once: the count is checked), then
 * through `GET /api/v1/events` with `limit=500` from the start until a page comes back empty —
 * one client, page after page, as an application syncing the directory would. Pages per second
 * are reported.
 * @module
 */
import { type Client, type PhaseStats, runPhase } from "./load.ts";
import type { Running } from "./systems.ts";
import type { WorkloadOptions } from "./workloads.ts";

/** What the API phases measured. */
export interface ApiStats {
  users: PhaseStats & { pagesPerSecond: number; usersRead: number };
  events: PhaseStats & { pagesPerSecond: number; eventsRead: number };
}

interface Page {
  data?: { id: string }[];
  next_cursor?: string | null;
}

/** Pages through a list until `done` says so; one task per page, each after the last. */
function pages(
  path: (cursor: string | null) => string,
  onPage: (c: Client, page: Page) => boolean,
): Iterable<(c: Client) => Promise<void>> {
  let cursor: string | null = null;
  let finished = false;
  return {
    *[Symbol.iterator]() {
      let n = 0;
      while (!finished) {
        const tag = n++;
        yield async (c: Client) => {
          const res = await c.send({ method: "GET", path: path(cursor) }, tag);
          if (res.error || res.status !== 200) {
            finished = true;
            return;
          }
          const page = JSON.parse(res.text) as Page;
          finished = !onPage(c, page);
          cursor = page.next_cursor ?? cursor;
        };
      }
    },
  };
}

/** Runs both phases against a running Weft; mints the API key with Weft's CLI. */
export async function apiPhase(sys: Running, o: WorkloadOptions): Promise<ApiStats> {
  if (!sys.weftCli) throw new Error("The api phases run against Weft only");
  const origin = /^(https?:\/\/[^/]+)\//.exec(sys.base)?.[1];
  if (!origin) throw new Error(`Cannot read the origin of ${sys.base}`);
  const key = /weft_api_[\w-]{43}/.exec(
    await sys.weftCli("apikey", "create", "--tenant", "bench", "--name", "bench"),
  )?.[0];
  if (!key) throw new Error("Cannot read the API key from the CLI output");
  const target = { base: `${origin}/api/v1`, token: key };
  const limits = (max: number) => ({
    concurrency: 1,
    maxRequests: max,
    timeoutMs: o.phaseTimeoutMs,
  });

  const seen = new Set<string>();
  let cpu = await sys.cpuMs();
  const users = await runPhase(
    "api-users",
    target,
    pages((cursor) => `/users?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, (
      c,
      page,
    ) => {
      for (const u of page.data ?? []) {
        if (seen.has(u.id)) c.fail({ status: 200, text: u.id, error: false, ms: 0 }, "seen twice");
        seen.add(u.id);
      }
      return page.next_cursor !== null && page.next_cursor !== undefined;
    }),
    limits(Math.ceil(o.users / 200) + 10),
  );
  users.serverCpuMsPerRequest = (await sys.cpuMs() - cpu) / Math.max(1, users.requests);
  if (seen.size !== o.users) {
    users.errors++;
    users.errorSamples.push(`read ${seen.size} users, not ${o.users}`);
  }

  let eventsRead = 0;
  cpu = await sys.cpuMs();
  const events = await runPhase(
    "api-events",
    target,
    pages((after) => `/events?limit=500${after ? `&after=${after}` : ""}`, (_c, page) => {
      eventsRead += page.data?.length ?? 0;
      return (page.data?.length ?? 0) > 0;
    }),
    limits(Math.ceil((o.users * 4) / 500) + 1000),
  );
  events.serverCpuMsPerRequest = (await sys.cpuMs() - cpu) / Math.max(1, events.requests);
  const { client: _u, ...u } = users;
  const { client: _e, ...e } = events;
  return {
    users: { ...u, pagesPerSecond: u.rps, usersRead: seen.size },
    events: { ...e, pagesPerSecond: e.rps, eventsRead },
  };
}
