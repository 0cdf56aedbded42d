/**
 * The SCIM request log of each IdP connection: every request (time, method, path, status,
 * scimType, duration, token, client address and user agent, and the request and response bodies
 * with secrets redacted, each capped at 64 KiB) kept for `WEFT_REQUEST_LOG_DAYS` with `expireIn`.
 * Entries are indexed by error, by the user a request was about, and (for writes, which make
 * events) by request id, so the Event Log can link an event to the request that caused it.
 *
 * Entries are written by a group commit: a request hands its entry over and returns; a commit in
 * flight takes whatever entries arrived meanwhile, so under load many requests share one atomic
 * operation. The log is a diagnostic: entries of requests that were being answered when a process
 * stopped can be missing, never a change or its event.
 * @module
 */
import { monotonicFactory } from "ulid";
import { fitsKey, keys } from "./keys.ts";
import { fromCursor, getManyBatched, withLockRetry } from "./kv.ts";

/** One logged SCIM request. */
export interface RequestLogEntry {
  id: string;
  at: string;
  /** When the entry expires (`at` plus the log's days): what a backup restores it until. */
  expiresAt: string;
  idpId: string;
  /** The connection whose URL was called, when the request belongs to another one (wrong_idp). */
  calledIdpId?: string;
  requestId: string;
  method: string;
  /** Path and query as called. */
  path: string;
  status: number;
  scimType?: string;
  /** Why authentication failed, for a refused one. */
  authFailure?: string;
  durationMs: number;
  tokenId?: string;
  tokenName?: string;
  clientIp: string;
  userAgent: string;
  /** The user the request was about, when there was one. */
  userId?: string;
  /** Bodies (redacted, capped), stored beside the entry when they do not fit in it. */
  requestBody?: string;
  responseBody?: string;
  requestBytes: number;
  responseBytes: number;
  /** Parts of the bodies kept in their own records. */
  bodyParts?: { request: number; response: number };
}

/** A new entry, before it is given an id. */
export type NewRequestLogEntry = Omit<RequestLogEntry, "id" | "bodyParts" | "expiresAt">;

/** Most bytes of each body kept. */
export const MAX_LOGGED_BODY = 64 * 1024;
/** Bytes of a body part record (a KV value holds 64 KiB with its encoding). */
const PART_BYTES = 60_000;
/** Bodies this small stay inside the entry. */
const INLINE_BYTES = 16 * 1024;
/** What one group commit may hold (KV: 1000 mutations, 800 KB per atomic operation). */
const OP_MUTATIONS = 900;
const OP_BYTES = 700_000;

/**
 * How long an entry waits for others before the writer commits (unless this many are waiting):
 * at most this much of the log is lost when the process dies, never a change.
 */
const COALESCE_MS = 50;
const COALESCE_ENTRIES = 200;

const utf8 = new TextEncoder();
const nextId = monotonicFactory();

/** A body cut to {@linkcode MAX_LOGGED_BODY} bytes at a character boundary. */
export function capBody(text: string): string {
  if (text.length <= MAX_LOGGED_BODY / 3) return text;
  // Encodes at most the cap (whole characters only) without copying the rest.
  const { read } = utf8.encodeInto(text, capBuffer);
  return read === text.length ? text : text.slice(0, read);
}

const capBuffer = new Uint8Array(MAX_LOGGED_BODY);

interface Pending {
  ttlMs: number;
  entry: RequestLogEntry;
  parts: { which: "request" | "response"; index: number; bytes: Uint8Array }[];
}

function prepare(input: NewRequestLogEntry, ttlMs: number): Pending {
  const at = Date.parse(input.at);
  const entry: RequestLogEntry = {
    ...input,
    id: nextId(at),
    expiresAt: new Date(at + ttlMs).toISOString(),
  };
  const parts: Pending["parts"] = [];
  const requestText = input.requestBody ?? "";
  const responseText = input.responseBody ?? "";
  // Small bodies stay inline without being encoded (3 bytes a UTF-16 unit at most).
  if ((requestText.length + responseText.length) * 3 <= INLINE_BYTES) {
    return { ttlMs, entry, parts };
  }
  const request = utf8.encode(requestText);
  const response = utf8.encode(responseText);
  if (request.length + response.length > INLINE_BYTES) {
    delete entry.requestBody;
    delete entry.responseBody;
    const split = (which: "request" | "response", bytes: Uint8Array) => {
      let n = 0;
      for (let i = 0; i < bytes.length; i += PART_BYTES) {
        parts.push({ which, index: n++, bytes: bytes.subarray(i, i + PART_BYTES) });
      }
      return n;
    };
    entry.bodyParts = { request: split("request", request), response: split("response", response) };
  }
  return { ttlMs, entry, parts };
}

/** The writer of one store: entries waiting, and the commit in flight. */
class Writer {
  #queue: { tenantId: string; p: Pending }[] = [];
  #flight: Promise<void> | null = null;
  #waking: (() => void) | null = null;
  /** Flushes waiting: the writer commits without waiting for more entries. */
  #flushing = 0;

  constructor(readonly kv: Deno.Kv) {}

  add(tenantId: string, p: Pending): void {
    this.#queue.push({ tenantId, p });
    if (!this.#flight) this.#flight = this.#drain();
  }

  /** Resolves when every entry handed over so far is written (or given up on), at once. */
  async flush(): Promise<void> {
    this.#flushing++;
    try {
      this.#wake();
      while (this.#flight) await this.#flight;
    } finally {
      this.#flushing--;
    }
  }

  /** Ends the wait for more entries, if the writer is waiting. */
  #wake(): void {
    const wake = this.#waking;
    this.#waking = null;
    wake?.();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length) {
        // Entries arriving together share one commit: a store commit per request would cost
        // more than the request itself on reads, which otherwise commit nothing.
        if (!this.#flushing && this.#queue.length < COALESCE_ENTRIES) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => this.#wake(), COALESCE_MS);
            this.#waking = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        const batch = this.#take();
        await this.#commit(batch).catch(() => {
          // A store that cannot be written now loses these diagnostics, never a change.
        });
      }
    } finally {
      this.#flight = null;
    }
  }

  #take(): { tenantId: string; p: Pending }[] {
    const out: { tenantId: string; p: Pending }[] = [];
    let mutations = 0;
    let bytes = 0;
    while (this.#queue.length) {
      const next = this.#queue[0];
      const m = 4 + next.p.parts.length;
      const b = 2048 + (next.p.entry.requestBody?.length ?? 0) * 3 +
        (next.p.entry.responseBody?.length ?? 0) * 3 +
        next.p.parts.reduce((n, part) => n + part.bytes.length, 0);
      if (out.length && (mutations + m > OP_MUTATIONS || bytes + b > OP_BYTES)) break;
      out.push(this.#queue.shift()!);
      mutations += m;
      bytes += b;
    }
    return out;
  }

  async #commit(batch: { tenantId: string; p: Pending }[]): Promise<void> {
    const op = this.kv.atomic();
    for (const { tenantId, p } of batch) {
      const e = p.entry;
      const expireIn = p.ttlMs;
      op.set(keys.requestLog(tenantId, e.idpId, e.id), e, { expireIn });
      for (const part of p.parts) {
        op.set(keys.requestLogBody(tenantId, e.idpId, e.id, part.which, part.index), part.bytes, {
          expireIn,
        });
      }
      if (e.status >= 400) {
        op.set(keys.requestLogError(tenantId, e.idpId, e.id), null, { expireIn });
      }
      if (e.userId && fitsKey(e.userId)) {
        op.set(keys.requestLogByUser(tenantId, e.idpId, e.userId, e.id), null, { expireIn });
      }
      // The requests that write events: changes, and refused authentications.
      if ((e.method !== "GET" || e.authFailure) && fitsKey(e.requestId)) {
        op.set(keys.requestLogByRequestId(tenantId, e.requestId, e.idpId, e.id), null, {
          expireIn,
        });
      }
    }
    await withLockRetry(() => op.commit());
  }
}

const writers = new WeakMap<Deno.Kv, Writer>();

function writerOf(kv: Deno.Kv): Writer {
  let w = writers.get(kv);
  if (!w) writers.set(kv, w = new Writer(kv));
  return w;
}

/** Hands an entry to the store's writer; it is committed with whatever else is waiting. */
export function logScimRequest(
  kv: Deno.Kv,
  tenantId: string,
  entry: NewRequestLogEntry,
  keepDays: number,
): void {
  if (keepDays <= 0) return;
  writerOf(kv).add(tenantId, prepare(entry, keepDays * 86_400_000));
}

/** Waits until every entry handed over is written (at shutdown, and in tests). */
export async function flushRequestLog(kv: Deno.Kv): Promise<void> {
  await writers.get(kv)?.flush();
}

/** Filters of {@linkcode listRequestLog}. */
export interface RequestLogQuery {
  errorsOnly?: boolean;
  method?: string;
  userId?: string;
  cursor?: string;
  limit?: number;
}

/** Most entries one page examines when filtering by method. */
const SCAN = 1000;

/** A connection's logged requests, newest first, filtered; entries without their long bodies. */
export async function listRequestLog(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  query: RequestLogQuery = {},
): Promise<{ entries: RequestLogEntry[]; cursor?: string }> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  if (!fitsKey(idpId) || (query.userId !== undefined && !fitsKey(query.userId))) {
    return { entries: [] };
  }
  // What this instance has logged but not yet committed is written first, so a page shows the
  // request that was just answered here.
  await flushRequestLog(kv);
  const indexed = query.userId !== undefined || query.errorsOnly;
  const prefix = query.userId !== undefined
    ? keys.requestLogsByUser(tenantId, idpId, query.userId)
    : query.errorsOnly
    ? keys.requestLogErrors(tenantId, idpId)
    : keys.requestLogs(tenantId, idpId);
  const iter = kv.list<RequestLogEntry>({ prefix }, {
    reverse: true,
    cursor: query.cursor || undefined,
    batchSize: limit + 1,
  });
  const out: RequestLogEntry[] = [];
  let examined = 0;
  let more = false;
  await fromCursor(async () => {
    const ids: string[] = [];
    for await (const e of iter) {
      if (indexed) ids.push(String(e.key.at(-1)));
      else if (!query.method || e.value.method === query.method) out.push(e.value);
      if (++examined >= SCAN || out.length + ids.length >= limit) {
        more = true;
        break;
      }
    }
    if (ids.length) {
      const found = await getManyBatched<RequestLogEntry>(
        kv,
        ids.map((id) => keys.requestLog(tenantId, idpId, id)),
      );
      for (const e of found) {
        if (e.value && (!query.method || e.value.method === query.method)) out.push(e.value);
      }
    }
  });
  // Within one page, the error index and the user index still honour the other filters.
  const entries = out.filter((e) => !query.errorsOnly || e.status >= 400);
  return { entries, cursor: more ? iter.cursor : undefined };
}

/** One logged request with its whole (redacted, capped) bodies. */
export async function getRequestLog(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  logId: string,
): Promise<RequestLogEntry | null> {
  if (!fitsKey(idpId) || !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(logId)) return null;
  const entry = (await kv.get<RequestLogEntry>(keys.requestLog(tenantId, idpId, logId))).value;
  if (!entry?.bodyParts) return entry;
  const read = async (which: "request" | "response", n: number) => {
    const parts = await getManyBatched<Uint8Array>(
      kv,
      Array.from({ length: n }, (_, i) => keys.requestLogBody(tenantId, idpId, logId, which, i)),
    );
    const bytes = parts.flatMap((p) => p.value ? [...p.value] : []);
    return new TextDecoder().decode(new Uint8Array(bytes));
  };
  return {
    ...entry,
    requestBody: await read("request", entry.bodyParts.request),
    responseBody: await read("response", entry.bodyParts.response),
  };
}

/** The logged write request that carried a request id (the one an event names), if kept. */
export async function findRequestLog(
  kv: Deno.Kv,
  tenantId: string,
  requestId: string,
): Promise<{ idpId: string; logId: string } | null> {
  if (!fitsKey(requestId)) return null;
  for await (
    const e of kv.list({ prefix: keys.requestLogsByRequestId(tenantId, requestId) }, { limit: 1 })
  ) {
    return { idpId: String(e.key.at(-2)), logId: String(e.key.at(-1)) };
  }
  return null;
}

/** Removes the request-id index entries of a connection's logged requests (its deletion). */
export async function dropRequestIdIndex(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<void> {
  let op = kv.atomic();
  let n = 0;
  for await (const e of kv.list<RequestLogEntry>({ prefix: keys.requestLogs(tenantId, idpId) })) {
    if (!fitsKey(e.value.requestId)) continue;
    op.delete(keys.requestLogByRequestId(tenantId, e.value.requestId, idpId, e.value.id));
    if (++n % 500 === 0) {
      await withLockRetry(() => op.commit());
      op = kv.atomic();
    }
  }
  if (n % 500) await withLockRetry(() => op.commit());
}

/** The id of a connection's newest logged request, or null (for live views). */
export async function latestRequestLogId(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<string | null> {
  if (!fitsKey(idpId)) return null;
  for await (
    const e of kv.list({ prefix: keys.requestLogs(tenantId, idpId) }, { reverse: true, limit: 1 })
  ) return String(e.key.at(-1));
  return null;
}

/**
 * Deletes every logged request about one user (bodies, error and request-id index entries
 * included): the erasure of a user whose IdP deletes people. Returns the requests deleted.
 */
export async function eraseRequestLogOfUser(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  userId: string,
): Promise<number> {
  if (!fitsKey(idpId) || !fitsKey(userId)) return 0;
  let erased = 0;
  const ids: string[] = [];
  for await (const e of kv.list({ prefix: keys.requestLogsByUser(tenantId, idpId, userId) })) {
    ids.push(String(e.key.at(-1)));
  }
  for (let i = 0; i < ids.length; i += 50) {
    const slice = ids.slice(i, i + 50);
    const entries = await getManyBatched<RequestLogEntry>(
      kv,
      slice.map((id) => keys.requestLog(tenantId, idpId, id)),
    );
    const op = kv.atomic();
    slice.forEach((logId, j) => {
      op.delete(keys.requestLogByUser(tenantId, idpId, userId, logId));
      const entry = entries[j].value;
      if (!entry) return;
      erased++;
      op.delete(keys.requestLog(tenantId, idpId, logId));
      op.delete(keys.requestLogError(tenantId, idpId, logId));
      if (fitsKey(entry.requestId)) {
        op.delete(keys.requestLogByRequestId(tenantId, entry.requestId, idpId, logId));
      }
      for (const which of ["request", "response"] as const) {
        for (let n = 0; n < (entry.bodyParts?.[which] ?? 0); n++) {
          op.delete(keys.requestLogBody(tenantId, idpId, logId, which, n));
        }
      }
    });
    await withLockRetry(() => op.commit());
  }
  return erased;
}
