/**
 * Error details of PATCH: which operation failed (RFC 7644 §3.12 leaves `detail` to the server;
 * an IdP's log shows it, so it names the operation) and how a value that does not fit is described.
 * @module
 */
import { ScimError } from "../errors.ts";
import { isPlainObject } from "../../json.ts";

/** The detail of an `op` that is not one of the three. */
export const OP_ERROR = '"op" must be "add", "remove" or "replace"';

/** Adds `Operation N: ` (1-based) to a `ScimError` detail; other errors pass through. */
export function withOperation(error: unknown, index: number): unknown {
  if (!(error instanceof ScimError)) return error;
  const prefix = `Operation ${index + 1}: `;
  if (error.message.startsWith(prefix)) return error;
  return new ScimError(error.status, prefix + error.message, {
    scimType: error.scimType,
    headers: error.headers,
    cause: error,
  });
}

/** A short description of a value for an error detail: `an array`, `an object`, or its JSON. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (isPlainObject(value)) return "an object";
  return JSON.stringify(value);
}
