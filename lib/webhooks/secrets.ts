/**
 * Webhook signing secrets and signatures, in the Standard Webhooks format: a secret is `whsec_`
 * + base64 of 32 random bytes; a signature is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
 * made by the `standardwebhooks` package so its verifier (and every consumer library following
 * the spec) accepts it. During a rotation both secrets sign, space-separated. The package is
 * imported on the first signature (an instance without endpoints never holds it).
 * @module
 */
import type { Webhook } from "standardwebhooks";
import { encodeBase64 } from "../backup/base64.ts";
import { loadOnce } from "../load_once.ts";

/** A new signing secret. */
export function newWebhookSecret(): string {
  return `whsec_${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** The `webhook-signature` header: one `v1,…` per secret, space-separated. */
export async function signWebhook(
  input: { id: string; timestamp: Date; body: string },
  secrets: readonly string[],
): Promise<string> {
  const signers = await Promise.all(secrets.map(signerOf));
  return signers.map((w) => w.sign(input.id, input.timestamp, input.body)).join(" ");
}

const library = loadOnce(() => import("standardwebhooks"));
/** Signers by secret (a secret is decoded once); an endpoint has at most two at a time. */
const signers = new Map<string, Webhook>();
const MAX_SIGNERS = 256;

async function signerOf(secret: string): Promise<Webhook> {
  const known = signers.get(secret);
  if (known) return known;
  const signer = new (await library()).Webhook(secret);
  if (signers.size >= MAX_SIGNERS) signers.delete(signers.keys().next().value!);
  signers.set(secret, signer);
  return signer;
}
