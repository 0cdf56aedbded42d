/**
 * Validation of a whole PatchOp message (RFC 7644 §3.5.2) before anything is applied: the message
 * shape with zod, each operation's `op` lowercased, and each `path` parsed once and kept on the
 * operation, so applying it never parses it again.
 * @module
 */
import { z } from "zod";
import type { PatchPath } from "../filter/ast.ts";
import { parsePath } from "../filter/parser.ts";
import { attributeOf } from "../filter/resolve.ts";
import { assertSafePath } from "../filter/safe_path.ts";
import { ScimError } from "../errors.ts";
import { PATCH_OP } from "../urns.ts";
import { normalizeOp, type PatchOpName } from "../compat.ts";
import { isPlainObject } from "../../json.ts";
import { assertSafeValue } from "./guard.ts";
import { hasMembersKey } from "./members.ts";
import { OP_ERROR, withOperation } from "./detail.ts";

/** A validated operation without a path: its value's keys are the paths. */
export interface PathlessOperation {
  op: PatchOpName;
  path?: undefined;
  value?: unknown;
  /** The 0-based position of the operation in `Operations`. */
  index: number;
}

/** A validated operation with a path, parsed once when the message was validated. */
export interface PathOperation {
  op: PatchOpName;
  /** The path as sent (trimmed), for error details. */
  path: string;
  /** `path` parsed. */
  parsedPath: PatchPath;
  value?: unknown;
  /** The 0-based position of the operation in `Operations`. */
  index: number;
}

/** One validated PATCH operation. */
export type PatchOperation = PathlessOperation | PathOperation;

/** The most operations one PatchOp message may carry. */
export const MAX_PATCH_OPERATIONS = 1000;

const MessageSchema = z.object({
  schemas: z
    .array(z.string(), { error: `"schemas" must be an array containing "${PATCH_OP}"` })
    .refine((urns) => urns.some((urn) => urn.toLowerCase() === PATCH_OP.toLowerCase()), {
      error: `"schemas" must contain "${PATCH_OP}"`,
    }),
  Operations: z.array(z.unknown(), { error: '"Operations" must be an array' }),
});

const OperationSchema = z
  .object({
    // Entra capitalises ops (E1), OneLogin lowercases them (X1).
    op: z.preprocess(
      (op) => normalizeOp(op) ?? op,
      z.enum(["add", "remove", "replace"], { error: OP_ERROR }),
    ),
    path: z.string({ error: '"path" must be a string' }).optional(),
    value: z.unknown().optional(),
  })
  .superRefine((operation, ctx) => {
    const hasPath = operation.path !== undefined && operation.path.trim() !== "";
    if (operation.op === "remove" && !hasPath && !hasMembersKey(operation.value)) {
      ctx.addIssue({ code: "custom", path: ["path"], message: '"path" is required for "remove"' });
    }
    if (operation.op !== "remove" && operation.value === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["value"],
        message: `"value" is required for "${operation.op}"`,
      });
    }
  });

/**
 * Validates a whole PatchOp message (RFC 7644 §3.5.2) before anything is applied.
 *
 * `schemas` must contain the PatchOp URN and `Operations` must be an array (empty = no-op, as the
 * Entra validator sends, E16); `op` may be in any case; `add`/`replace` need a `value` (`null`
 * clears); `remove` needs a `path`, except the pathless `{"members": […]}` removal that
 * `extractMemberOperations()` handles; every `path` is parsed now. An empty `path` counts as none.
 * Throws `ScimError` (`invalidSyntax`, `invalidPath`, `invalidValue`, `noTarget`, `tooMany`)
 * whose detail names the operation, e.g. `Operation 2: "op" must be "add", "remove" or "replace"`.
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isPlainObject(body)) throw ScimError.invalidSyntax("Request body must be a JSON object");
  // Attribute names, `schemas` and `Operations` included, are case-insensitive (RFC 7643 §2.1).
  const message = MessageSchema.safeParse({
    schemas: attributeOf(body, "schemas"),
    Operations: attributeOf(body, "Operations"),
  });
  if (!message.success) throw ScimError.invalidSyntax(message.error.issues[0].message);
  const raw = message.data.Operations;
  if (raw.length > MAX_PATCH_OPERATIONS) {
    throw ScimError.tooMany(
      `Too many operations: ${raw.length} exceeds the limit of ${MAX_PATCH_OPERATIONS}`,
    );
  }
  return raw.map((entry, index) => {
    try {
      return parseOperation(entry, index);
    } catch (error) {
      throw withOperation(error, index);
    }
  });
}

function parseOperation(entry: unknown, index: number): PatchOperation {
  if (!isPlainObject(entry)) throw ScimError.invalidSyntax("Operation must be a JSON object");
  const result = OperationSchema.safeParse({
    op: attributeOf(entry, "op"),
    path: attributeOf(entry, "path"),
    value: attributeOf(entry, "value"),
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path[0];
    if (field === "path") {
      throw issue.code === "custom"
        // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with HTTP status
        // code 400 and a "scimType" error code of "noTarget"."
        ? ScimError.noTarget(issue.message)
        : ScimError.invalidPath(issue.message);
    }
    if (field === "value") throw ScimError.invalidValue(issue.message);
    throw ScimError.invalidSyntax(issue.message);
  }
  const { op, value } = result.data;
  const path = result.data.path?.trim() || undefined;
  assertSafeValue(value);
  const operation: PatchOperation = path === undefined
    ? { op, index }
    : { op, path, parsedPath: parsePath(path), index };
  if (operation.path !== undefined) assertSafePath(operation.parsedPath, operation.path);
  if (value !== undefined) operation.value = value;
  return operation;
}
