/**
 * Applying validated PATCH operations to a copy of a resource (RFC 7644 §3.5.2), all or nothing:
 * each operation's path — or each key of a pathless value — is resolved to a target, then written
 * (`./write.ts`) or removed (`./remove.ts`).
 *
 * The resource is a plain JSON object: core attributes top-level under canonical names, extension
 * attributes under their schema URN key, unknown attributes under the name they were sent with.
 * @module
 */
import type { PatchPath } from "../filter/ast.ts";
import { parsePath } from "../filter/parser.ts";
import { findKey } from "../filter/resolve.ts";
import { assertSafePath } from "../filter/safe_path.ts";
import { wholeExtensionKey } from "../schema_defs.ts";
import { ScimError } from "../errors.ts";
import type { ResourceTypeName } from "../schema_types.ts";
import { isClearValue, normalizeOp, type PatchOpName, stripOktaIdFromValue } from "../compat.ts";
import { cloneJson, isPlainObject } from "../../json.ts";
import { describe, OP_ERROR, withOperation } from "./detail.ts";
import { diffAttributes } from "./diff.ts";
import { assertSafeValue } from "./guard.ts";
import type { PatchOperation } from "./parse.ts";
import { removeTarget } from "./remove.ts";
import { type Context, createContext, resolveTarget } from "./targets.ts";
import { setTarget } from "./write.ts";

/** What `applyPatch()` needs to know about the resource being patched. */
export interface ApplyPatchOptions {
  resourceType: ResourceTypeName;
  /** The resource id; an `id` inside a PATCH value never changes it (O8). */
  id: string;
}

/** The patched copy, whether it differs, and the top-level attributes (`urn:…:attr` for extensions) that changed. */
export interface ApplyPatchResult {
  resource: Record<string, unknown>;
  changed: boolean;
  changedAttributes: string[];
}

/**
 * Applies validated operations to a copy of `resource`, all or nothing (RFC 7644 §3.5.2).
 *
 * Never mutates its input and never writes `__proto__`, `constructor` or `prototype`. Throws a
 * `ScimError` naming the failing operation; nothing is returned unless every operation applies.
 */
export function applyPatch(
  resource: Record<string, unknown>,
  ops: PatchOperation[],
  options: ApplyPatchOptions,
): ApplyPatchResult {
  const ctx = createContext(options.resourceType, options.id);
  const working = cloneJson(resource);
  for (const operation of ops) {
    try {
      applyOperation(working, operation, ctx);
    } catch (error) {
      throw withOperation(error, operation.index);
    }
  }
  const changedAttributes = diffAttributes(resource, working);
  return { resource: working, changed: changedAttributes.length > 0, changedAttributes };
}

function applyOperation(
  resource: Record<string, unknown>,
  operation: PatchOperation,
  ctx: Context,
): void {
  const op = normalizeOp(operation.op);
  if (op === undefined) throw ScimError.invalidSyntax(OP_ERROR);
  assertSafeValue(operation.value);
  // A copy, so the result never shares objects with the caller's operations.
  const value = cloneJson(operation.value);
  if (operation.path === undefined) {
    // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with … "noTarget"."
    if (op === "remove") throw ScimError.noTarget('"path" is required for "remove"');
    applyPathless(resource, op, value, ctx);
  } else {
    if (op !== "remove" && value === undefined) {
      throw ScimError.invalidValue(`"value" is required for "${op}"`);
    }
    applyAtPath(resource, op, operation.path, value, ctx, operation.parsedPath);
  }
  pruneEmptyExtensions(resource);
}

/**
 * Pathless `add`/`replace` (RFC 7644 §3.5.2.1/3): each key of the value object is a path.
 *
 * Okta deactivates with `{"active":false}` (O5) and renames groups with an `id` inside (O8);
 * SailPoint uses `add` (X5); Entra's compliance form uses dotted and URN keys, or a URN key holding
 * an object (E4). A key naming the core schema URN holds core attributes.
 */
function applyPathless(
  resource: Record<string, unknown>,
  op: "add" | "replace",
  value: unknown,
  ctx: Context,
): void {
  if (!isPlainObject(value)) {
    throw ScimError.invalidValue(
      `"value" must be an object when "path" is omitted, got ${describe(value)}`,
    );
  }
  const stripped = stripOktaIdFromValue(value, ctx.id).value as Record<string, unknown>;
  for (const [key, entry] of Object.entries(stripped)) {
    if (key.trim().toLowerCase() === ctx.core.toLowerCase()) {
      if (isClearValue(entry)) continue;
      if (!isPlainObject(entry)) {
        throw ScimError.invalidValue(`"${key}" must be an object, got ${describe(entry)}`);
      }
      const core = stripOktaIdFromValue(entry, ctx.id).value as Record<string, unknown>;
      for (const [name, inner] of Object.entries(core)) {
        applyAtPath(resource, op, name.trim(), inner, ctx);
      }
    } else {
      applyAtPath(resource, op, key.trim(), entry, ctx);
    }
  }
}

/**
 * Applies one operation at a path: an operation's `path` (parsed when the message was validated)
 * or a key of a pathless value (parsed here).
 */
function applyAtPath(
  resource: Record<string, unknown>,
  op: PatchOpName,
  pathText: string,
  value: unknown,
  ctx: Context,
  parsed?: PatchPath,
): void {
  const ext = wholeExtensionKey(ctx.resourceType, pathText);
  if (ext !== undefined) {
    applyToExtension(resource, op, ext, value, ctx);
    return;
  }
  const path = parsed ?? parsePath(pathText);
  assertSafePath(path, pathText);
  const target = resolveTarget(path, pathText, ctx);
  if (target === undefined) return;
  if (op === "remove") removeTarget(resource, target, value, ctx);
  else setTarget(resource, target, op, value, ctx);
}

/**
 * Operations on a whole extension object (`path` or key equal to its schema URN, E4): remove or
 * clear deletes it; an object value is applied attribute by attribute (RFC 7644 §3.5.2.3: sub-
 * attributes not given are left unchanged).
 */
function applyToExtension(
  resource: Record<string, unknown>,
  op: PatchOpName,
  ext: string,
  value: unknown,
  ctx: Context,
): void {
  if (op === "remove" || isClearValue(value)) {
    const key = findKey(resource, ext);
    if (key !== undefined) delete resource[key];
    return;
  }
  if (!isPlainObject(value)) {
    throw ScimError.invalidValue(`"${ext}" must be an object, got ${describe(value)}`);
  }
  for (const [name, entry] of Object.entries(value)) {
    applyAtPath(resource, op, `${ext}:${name.trim()}`, entry, ctx);
  }
}

/** Drops extension objects left empty, so a cleared extension disappears from `schemas`. */
function pruneEmptyExtensions(resource: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(resource)) {
    if (
      key.toLowerCase().startsWith("urn:") && isPlainObject(value) &&
      Object.keys(value).length === 0
    ) {
      delete resource[key];
    }
  }
}
