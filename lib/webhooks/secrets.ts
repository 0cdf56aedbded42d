/**
 * Webhook signing secrets and signatures, in the Standard Webhooks format: a secret is `whsec_`
 * + base64 of 32 random bytes; a signature is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
 * made by the `standardwebhooks` package so its verifier (and every consumer library following
 * the spec) accepts it. During a rotation both secrets sign, space-separated.
 * @module
 */
import { Webhook } from "standardwebhooks";
import { encodeBase64 } from "../backup/base64.ts";

/** A new signing secret. */
export function newWebhookSecret(): string {
  return `whsec_${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** The `webhook-signature` header: one `v1,…` per secret, space-separated. */
export function signWebhook(
  input: { id: string; timestamp: Date; body: string },
  secrets: readonly string[],
): string {
  return secrets.map((s) => new Webhook(s).sign(input.id, input.timestamp, input.body)).join(" ");
}
