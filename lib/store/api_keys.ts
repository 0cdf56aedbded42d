/**
 * Directory API keys (architecture §2 "API key"): per tenant, named, with scopes and an optional
 * expiry, stored by the SHA-256 hex of the secret (the plaintext is returned once, at creation,
 * and never stored), revoked at once, and the last use recorded at most once a minute by each
 * process. Creation and revocation write their audit event in the same atomic commit.
 * @module
 */
import { fitsKey, keys } from "./keys.ts";
import { recordLastUse } from "./last_use.ts";
import { getManyBatched, stripUndefined, withLockRetry } from "./kv.ts";
import { addEvent } from "./events.ts";
import { ConflictError } from "./tenants.ts";
import { randomId } from "../auth/tokens.ts";
import { HIT_TTL_MS, isThrottled, isWithinLimit, newHitKey, throttleWindow } from "./throttle.ts";
import {
  API_KEY_PREFIX,
  API_SCOPES,
  type ApiScope,
  generateApiKeySecret,
  hashApiKeySecret,
} from "../auth/api_keys.ts";

/** An API key as stored (the hash, never the secret). */
export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  /** SHA-256 hex of the secret. */
  hash: string;
  /** First characters of the secret, safe to show (`weft_api_AbC1`). */
  prefix: string;
  scopes: ApiScope[];
  createdAt: string;
  createdBy: string;
  expiresAt?: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** When and from where a key was last used. */
export interface ApiKeyLastUsed {
  at: string;
  ip: string;
}

/** A key as listed to admins: never the hash or the secret. */
export type ApiKeySummary = Omit<ApiKey, "hash"> & { lastUsed?: ApiKeyLastUsed };

/** A key's state: `revoked` once revoked, `expired` from its expiry on, else `active`. */
export function apiKeyState(
  k: Pick<ApiKey, "revokedAt" | "expiresAt">,
  now: number = Date.now(),
): "active" | "revoked" | "expired" {
  if (k.revokedAt) return "revoked";
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return "expired";
  return "active";
}

/** What creating a key takes. */
export interface ApiKeyInput {
  name: string;
  /** Default: every scope. */
  scopes?: ApiScope[];
  expiresAt?: string;
  createdBy: string;
  requestId?: string;
  clientIp?: string;
}

/** Longest key name. */
export const API_KEY_NAME_MAX = 100;

function summaryOf(key: ApiKey, lastUsed?: ApiKeyLastUsed | null): ApiKeySummary {
  const { hash: _hash, ...summary } = key;
  return lastUsed ? { ...summary, lastUsed } : summary;
}

/**
 * Mints a named key; the plaintext secret is returned once and never stored.
 *
 * @example
 * ```ts
 * const { key, secret } = await createApiKey(kv, tenant.id, { name: "app", createdBy: "cli" });
 * ```
 */
export async function createApiKey(
  kv: Deno.Kv,
  tenantId: string,
  input: ApiKeyInput,
): Promise<{ key: ApiKeySummary; secret: string }> {
  const name = input.name.trim();
  if (!name || name.length > API_KEY_NAME_MAX) {
    throw new RangeError(`Cannot create API key: name must be 1–${API_KEY_NAME_MAX} characters`);
  }
  const scopes = [...new Set(input.scopes ?? API_SCOPES)].sort() as ApiScope[];
  if (!scopes.length || scopes.some((s) => !(API_SCOPES as readonly string[]).includes(s))) {
    throw new RangeError(`Cannot create API key: scopes must be among ${API_SCOPES.join(", ")}`);
  }
  if (input.expiresAt !== undefined && !(Date.parse(input.expiresAt) > Date.now())) {
    throw new RangeError("Cannot create API key: the expiry must be in the future");
  }
  const secret = generateApiKeySecret();
  const hash = await hashApiKeySecret(secret);
  const key: ApiKey = stripUndefined({
    id: "key_" + randomId(9),
    tenantId,
    name,
    hash,
    prefix: secret.slice(0, API_KEY_PREFIX.length + 4),
    scopes,
    createdAt: new Date().toISOString(),
    createdBy: input.createdBy,
    expiresAt: input.expiresAt,
  });
  const op = kv.atomic()
    .check({ key: keys.apiKey(tenantId, hash), versionstamp: null })
    .check({ key: keys.apiKeyById(tenantId, key.id), versionstamp: null })
    .set(keys.apiKey(tenantId, hash), key)
    .set(keys.apiKeyById(tenantId, key.id), hash);
  addEvent(op, {
    tenantId,
    actor: input.createdBy,
    requestId: input.requestId,
    clientIp: input.clientIp,
  }, {
    type: "api_key_created",
    target: { kind: "api_key", id: key.id, name },
    summary: `API key "${name}" created (${scopes.join(", ")})`,
  });
  const res = await withLockRetry(() => op.commit());
  if (!res.ok) throw new ConflictError("Cannot create API key: collision, try again");
  return { key: summaryOf(key), secret };
}

/** The tenant's keys, newest first, with last-use times. */
export async function listApiKeys(kv: Deno.Kv, tenantId: string): Promise<ApiKeySummary[]> {
  const index = await Array.fromAsync(kv.list<string>({ prefix: keys.apiKeysById(tenantId) }));
  const entries = await getManyBatched<unknown>(
    kv,
    index.flatMap((e) => [keys.apiKey(tenantId, e.value), keys.apiKeyLastUsed(tenantId, e.value)]),
  );
  const out: ApiKeySummary[] = [];
  for (let i = 0; i < index.length; i++) {
    const key = entries[2 * i].value as ApiKey | null;
    if (key) out.push(summaryOf(key, entries[2 * i + 1].value as ApiKeyLastUsed | null));
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** The key whose secret hashes to `hash`, if any (one read; lookup by hash, never by secret). */
export async function apiKeyByHash(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
): Promise<ApiKey | null> {
  return (await kv.get<ApiKey>(keys.apiKey(tenantId, hash))).value;
}

/** A key by its id, as listed (null when there is none). */
export async function getApiKey(
  kv: Deno.Kv,
  tenantId: string,
  keyId: string,
): Promise<ApiKeySummary | null> {
  if (!fitsKey(keyId)) return null;
  const hash = (await kv.get<string>(keys.apiKeyById(tenantId, keyId))).value;
  if (!hash) return null;
  const key = (await kv.get<ApiKey>(keys.apiKey(tenantId, hash))).value;
  return key ? summaryOf(key) : null;
}

/** Revokes a key at once; false when it does not exist or was already revoked. */
export async function revokeApiKey(
  kv: Deno.Kv,
  tenantId: string,
  keyId: string,
  actor: { actor: string; requestId?: string; clientIp?: string },
): Promise<boolean> {
  if (!fitsKey(keyId)) return false;
  const hash = (await kv.get<string>(keys.apiKeyById(tenantId, keyId))).value;
  if (!hash) return false;
  const entry = await kv.get<ApiKey>(keys.apiKey(tenantId, hash));
  if (!entry.value || entry.value.revokedAt) return false;
  const revoked: ApiKey = {
    ...entry.value,
    revokedAt: new Date().toISOString(),
    revokedBy: actor.actor,
  };
  const op = kv.atomic().check(entry).set(entry.key, revoked);
  addEvent(op, { tenantId, ...actor }, {
    type: "api_key_revoked",
    target: { kind: "api_key", id: keyId, name: revoked.name },
    summary: `API key "${revoked.name}" revoked`,
  });
  const res = await withLockRetry(() => op.commit());
  return res.ok;
}

/**
 * Records a key's last use, at most once a minute by each process and without reading it first:
 * it is a display, exact to the minute.
 */
export async function recordApiKeyUse(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
  clientIp: string,
  now: Date = new Date(),
): Promise<void> {
  await recordLastUse(kv, keys.apiKeyLastUsed(tenantId, hash), clientIp, now);
}

/**
 * Counts a failed API authentication in the client's throttle window: `throttled` once the
 * window holds `limit` failures (a client already over it is answered without another write).
 */
export async function noteApiAuthFailure(
  kv: Deno.Kv,
  tenantId: string,
  clientIp: string,
  limit: number,
  now: Date = new Date(),
): Promise<{ throttled: boolean; retryAfter: number }> {
  const throttle = throttleWindow(tenantId, "api_auth", clientIp, now);
  const retryAfter = throttle.retryAfter;
  if (await isThrottled(kv, throttle, limit)) return { throttled: true, retryAfter };
  const hitKey = newHitKey(throttle);
  await withLockRetry(() => kv.set(hitKey, null, { expireIn: HIT_TTL_MS }));
  return { throttled: !(await isWithinLimit(kv, throttle, hitKey, limit)), retryAfter };
}
