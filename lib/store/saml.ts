/**
 * SAML records of the service provider: each IdP connection's settings (their own record, never
 * on the IdP record), the AuthnRequests sent and awaiting an answer, the assertion ids already
 * accepted (so a replay is refused on every instance), refused sign-in tallies for the console,
 * and the results of admins' test sign-ins. Nothing here lives in process memory.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { counterValue, u64Delta, withLockRetry } from "./kv.ts";
import type { ChangeContext, Idp, SamlRequestRecord, SamlSettings } from "./types.ts";
import { addEvent } from "./events.ts";
import { HIT_TTL_MS } from "./throttle.ts";

/** How long an AuthnRequest waits for its response. */
export const REQUEST_TTL_MS = 10 * 60_000;
/** How long a test sign-in's result can be read. */
export const TEST_RESULT_TTL_MS = 10 * 60_000;

/** Settings of a connection that has none yet. */
export function emptySamlSettings(tenantId: string, idpId: string): SamlSettings {
  return {
    tenantId,
    idpId,
    certificates: [],
    idpInitiated: true,
    jit: false,
    updatedAt: new Date(0).toISOString(),
    updatedBy: "",
  };
}

/** Whether sign-in can work: an issuer, an SSO URL and at least one certificate. */
export function isSamlConfigured(s: SamlSettings | null): s is SamlSettings & {
  entityId: string;
  ssoUrl: string;
} {
  return !!s?.entityId && !!s.ssoUrl && s.certificates.length > 0;
}

/** An IdP's SAML settings, or null when none were ever set. */
export async function getSamlSettings(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<SamlSettings | null> {
  if (!fitsKey(idpId)) return null;
  return (await kv.get<SamlSettings>(keys.idpSaml(tenantId, idpId))).value;
}

/** An IdP connection and its SAML settings, in one read (none while it is being deleted). */
export async function getSamlConnection(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
): Promise<{ idp: Idp | null; settings: SamlSettings | null }> {
  if (!fitsKey(idpId)) return { idp: null, settings: null };
  const [idp, settings] = await kv.getMany<[Idp, SamlSettings]>([
    keys.idp(tenantId, idpId),
    keys.idpSaml(tenantId, idpId),
  ]);
  // A connection being deleted signs nobody in.
  if (!idp.value || idp.value.deletingSince) return { idp: null, settings: null };
  return { idp: idp.value, settings: settings.value };
}

/**
 * Changes an IdP's settings: `change` gets the current ones (or empty ones) and returns the next,
 * written with an `idp_saml_updated` event naming what changed. Retried on a concurrent change.
 */
export async function updateSamlSettings(
  kv: Deno.Kv,
  ctx: { tenantId: string; idpId: string; actor: string; requestId?: string },
  change: (current: SamlSettings) => SamlSettings,
  summary: string,
): Promise<SamlSettings> {
  const key = keys.idpSaml(ctx.tenantId, ctx.idpId);
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get<SamlSettings>(key);
    const current = entry.value ?? emptySamlSettings(ctx.tenantId, ctx.idpId);
    const next: SamlSettings = {
      ...change(structuredClone(current)),
      tenantId: ctx.tenantId,
      idpId: ctx.idpId,
      updatedAt: new Date().toISOString(),
      updatedBy: ctx.actor,
    };
    const op = kv.atomic().check(entry).set(key, stripEmpty(next));
    addEvent(op, ctx, {
      type: "idp_saml_updated",
      target: { kind: "idp", id: ctx.idpId },
      changed: changedFields(current, next),
      summary,
    });
    if ((await withLockRetry(() => op.commit())).ok) return next;
  }
  throw new Error("Cannot save SAML settings: too many concurrent changes");
}

function stripEmpty(s: SamlSettings): SamlSettings {
  const out = { ...s };
  for (const k of ["entityId", "ssoUrl", "spKey", "matchAttribute"] as const) {
    if (out[k] === undefined || out[k] === "") delete out[k];
  }
  return out;
}

function changedFields(a: SamlSettings, b: SamlSettings): string[] {
  const names = ["entityId", "ssoUrl", "certificates", "spKey", "idpInitiated", "jit"] as const;
  const out: string[] = names.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if ((a.matchAttribute ?? "") !== (b.matchAttribute ?? "")) out.push("matchAttribute");
  return out;
}

/** Keeps an AuthnRequest until its response arrives (10 minutes). */
export async function saveSamlRequest(kv: Deno.Kv, request: SamlRequestRecord): Promise<void> {
  await withLockRetry(() =>
    kv.set(keys.samlRequest(request.tenantId, request.id), request, { expireIn: REQUEST_TTL_MS })
  );
}

/** An AuthnRequest still awaiting its response (read only; see {@linkcode acceptAssertion}). */
export async function getSamlRequest(
  kv: Deno.Kv,
  tenantId: string,
  requestId: string,
): Promise<SamlRequestRecord | null> {
  if (!fitsKey(requestId)) return null;
  return (await kv.get<SamlRequestRecord>(keys.samlRequest(tenantId, requestId))).value;
}

/** An assertion about to be used, and the AuthnRequest it answers (null: IdP-initiated). */
export interface AssertionUse {
  tenantId: string;
  idpId: string;
  assertionId: string;
  requestId: string | null;
  /** When the assertion stops being usable (ms): its id is remembered until then. */
  expiresAt: number;
}

/** What {@linkcode readAssertionUse} found: usable, with the entries its write must check. */
export type AssertionUseRead =
  | {
    ok: true;
    request: SamlRequestRecord | null;
    seen: Deno.KvEntryMaybe<string>;
    pending: Deno.KvEntryMaybe<SamlRequestRecord> | null;
  }
  | { ok: false; reason: "replayed" | "unknown_request" };

/** Whether an assertion can still be used: not seen before, answering a pending request. */
export async function readAssertionUse(kv: Deno.Kv, a: AssertionUse): Promise<AssertionUseRead> {
  const seenKey = keys.samlAssertionSeen(a.tenantId, a.idpId, a.assertionId);
  const requestKey = a.requestId ? keys.samlRequest(a.tenantId, a.requestId) : null;
  const [seen, pending] = await kv.getMany<unknown[]>(
    requestKey ? [seenKey, requestKey] : [seenKey],
  ) as [Deno.KvEntryMaybe<string>, Deno.KvEntryMaybe<SamlRequestRecord> | undefined];
  if (seen.value !== null) return { ok: false, reason: "replayed" };
  if (requestKey && (!pending?.value || pending.value.idpId !== a.idpId)) {
    return { ok: false, reason: "unknown_request" };
  }
  return { ok: true, request: pending?.value ?? null, seen, pending: pending ?? null };
}

/**
 * Adds the use of an assertion to `op`: its id is remembered until it expires (set only where
 * none is, so a replay on any instance is refused) and the request it answers is consumed (a
 * second answer to it is an unknown request). Both are checked against what was read.
 */
export function useAssertionIn(
  op: Deno.AtomicOperation,
  a: AssertionUse,
  read: AssertionUseRead & { ok: true },
  now = Date.now(),
): void {
  op.check(read.seen).set(read.seen.key, new Date(now).toISOString(), {
    expireIn: Math.max(60_000, a.expiresAt - now),
  });
  if (read.pending) op.check(read.pending).delete(read.pending.key);
}

/** After a write with {@linkcode useAssertionIn} failed: why the assertion cannot be used, if so. */
export async function assertionUseLost(
  kv: Deno.Kv,
  a: AssertionUse,
): Promise<"replayed" | "unknown_request" | null> {
  const read = await readAssertionUse(kv, a);
  return read.ok ? null : read.reason;
}

/** Takes an assertion for use on its own (refusals and test sign-ins; sign-ins add a session). */
export async function acceptAssertion(
  kv: Deno.Kv,
  a: AssertionUse,
  now = Date.now(),
): Promise<
  { ok: true; request: SamlRequestRecord | null } | {
    ok: false;
    reason: "replayed" | "unknown_request";
  }
> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const read = await readAssertionUse(kv, a);
    if (!read.ok) return read;
    const op = kv.atomic();
    useAssertionIn(op, a, read, now);
    if ((await withLockRetry(() => op.commit())).ok) return { ok: true, request: read.request };
  }
  return { ok: false, reason: (await assertionUseLost(kv, a)) ?? "replayed" };
}

/** A refused sign-in to record. */
export interface Refusal {
  tenantId: string;
  /** Absent when the URL named no IdP of the tenant. */
  idpId?: string;
  reason: string;
  userId?: string;
  /** The throttle attempt key of this failure (see `auth/throttle.ts`). */
  hitKey: Deno.KvKey;
  clientIp: string;
  requestId?: string;
}

/**
 * Records a refusal in one write: the client's throttle attempt, the hourly tally the console
 * shows, and a `saml_sign_in_refused` event carrying the reason (ids only, never what the
 * assertion said).
 */
export async function recordRefusal(kv: Deno.Kv, r: Refusal, now = new Date()): Promise<void> {
  const idpKey = r.idpId ?? "_unknown";
  const hour = now.toISOString().slice(0, 13);
  const ctx: Pick<ChangeContext, "tenantId" | "actor"> & Partial<ChangeContext> = {
    tenantId: r.tenantId,
    actor: "saml",
    idpId: r.idpId,
    clientIp: r.clientIp,
    requestId: r.requestId,
  };
  const op = kv.atomic()
    .set(r.hitKey, null, { expireIn: HIT_TTL_MS })
    .sum(keys.samlRefusal(r.tenantId, idpKey, hour, r.reason), u64Delta(1));
  addEvent(op, ctx, {
    type: "saml_sign_in_refused",
    target: r.userId ? { kind: "user", id: r.userId } : undefined,
    changed: [r.reason],
    summary: `SAML sign-in refused: ${r.reason}`,
  }, now);
  await withLockRetry(() => op.commit());
}

/** Recent refusal tallies of an IdP, newest hour first. */
export async function listRefusals(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  limit = 100,
): Promise<{ hour: string; reason: string; count: number }[]> {
  const out: { hour: string; reason: string; count: number }[] = [];
  for await (
    const e of kv.list({ prefix: keys.samlRefusals(tenantId, idpId) }, { reverse: true, limit })
  ) {
    out.push({ hour: String(e.key.at(-2)), reason: String(e.key.at(-1)), count: counterValue(e) });
  }
  return out;
}

/** Keeps a test sign-in's result for the admin who started it. */
export async function saveTestResult<T>(
  kv: Deno.Kv,
  tenantId: string,
  requestId: string,
  result: T,
): Promise<void> {
  await withLockRetry(() =>
    kv.set(keys.samlTestResult(tenantId, requestId), result, { expireIn: TEST_RESULT_TTL_MS })
  );
}

/** A test sign-in's result, if still kept. */
export async function getTestResult<T>(
  kv: Deno.Kv,
  tenantId: string,
  requestId: string,
): Promise<T | null> {
  if (!fitsKey(requestId)) return null;
  return (await kv.get<T>(keys.samlTestResult(tenantId, requestId))).value;
}
