/**
 * Webhook test harness: a real receiver on loopback (`Deno.serve` on port 0) that verifies every
 * request with `standardwebhooks`' `Webhook.verify`, a stand-in for the feed's sequencer (one
 * atomic commit with `addDeliveries`, as the sequencer does it), and PublicEvent builders.
 * @module
 */
import { Webhook } from "standardwebhooks";
import type { PublicEvent, PublicEventType } from "../lib/directory/types.ts";
import { eventId, eventSeq } from "../lib/directory/types.ts";
import { keys } from "../lib/store/keys.ts";
import { addDeliveries, loadEndpoints } from "../lib/store/webhook_outbox.ts";

/** One request the receiver got. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  userAgent: string;
  contentType: string;
  body: string;
  /** Per secret the receiver knows: whether `Webhook.verify` accepted the request. */
  verified: boolean[];
  at: number;
}

/** What the receiver answers: a status (and optional delay / body). */
export type Behaviour = (
  r: Received,
  n: number,
) => { status: number; delayMs?: number; body?: string };

/** A running receiver. */
export interface Receiver {
  url: string;
  received: Received[];
  /** The secrets to verify with (set after the endpoint is created). */
  secrets: string[];
  behave: Behaviour;
  /** Resolves once `n` requests have arrived (or rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  /** Distinct event ids received with a 2xx answer. */
  delivered(): Set<string>;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1. */
export function startReceiver(behave: Behaviour = () => ({ status: 204 })): Receiver {
  const received: Received[] = [];
  const ok = new Set<string>();
  const waiters: { n: number; resolve: () => void }[] = [];
  const r: Receiver = {
    url: "",
    received,
    secrets: [],
    behave,
    waitFor(n, timeoutMs = 15_000) {
      if (received.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`The receiver got ${received.length} of ${n} requests`)),
          timeoutMs,
        );
        waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
    delivered: () => ok,
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    const h = Object.fromEntries(req.headers);
    const got: Received = {
      id: h["webhook-id"] ?? "",
      timestamp: h["webhook-timestamp"] ?? "",
      signature: h["webhook-signature"] ?? "",
      userAgent: h["user-agent"] ?? "",
      contentType: h["content-type"] ?? "",
      body,
      verified: r.secrets.map((s) => {
        try {
          new Webhook(s).verify(body, h);
          return true;
        } catch {
          return false;
        }
      }),
      at: Date.now(),
    };
    const answer = r.behave(got, received.length);
    received.push(got);
    if (answer.delayMs) await new Promise((res) => setTimeout(res, answer.delayMs));
    if (answer.status >= 200 && answer.status < 300) ok.add(got.id);
    for (const w of waiters.splice(0)) {
      if (received.length >= w.n) w.resolve();
      else waiters.push(w);
    }
    return new Response(answer.body ?? null, { status: answer.status });
  });
  r.url = `http://127.0.0.1:${server.addr.port}/hook`;
  return r;
}

let seq = 0;

/** A public event of `type` with a fresh sequence number. */
export function publicEvent(type: PublicEventType = "user.created", n?: number): PublicEvent {
  const s = n ?? ++seq + Math.floor(Math.random() * 1e9) * 1000;
  return {
    object: "event",
    id: eventId(s),
    type,
    occurred_at: new Date().toISOString(),
    idp_id: "idp1",
    data: {
      object: "user",
      id: crypto.randomUUID(),
      user_name: `user${s}@example.com`,
      email: `user${s}@example.com`,
      first_name: "Zoë <b>",
      last_name: "Ünïcode",
      display_name: null,
      custom: {},
      state: "active",
      idp_id: "idp1",
      idps: [],
      roles: [],
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      version: "0001",
    },
  };
}

/**
 * What the sequencer does (without its notes): one atomic commit that adds the events to the
 * feed and their deliveries.
 */
export async function sequence(
  kv: Deno.Kv,
  tenantId: string,
  events: PublicEvent[],
): Promise<number> {
  const endpoints = await loadEndpoints(kv, tenantId);
  const op = kv.atomic();
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  for (const e of events) {
    op.set(keys.feedEntry(tenantId, eventSeq(e.id)!), { event: e, expiresAt }, {
      expireIn: 86_400_000,
    });
  }
  const n = addDeliveries(op, tenantId, endpoints, events, new Date());
  const res = await op.commit();
  if (!res.ok) throw new Error("The sequencing commit failed");
  return n;
}

/** Waits until `check` is true (polling every 20 ms), or throws after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
