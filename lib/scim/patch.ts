/**
 * SCIM PATCH (RFC 7644 §3.5.2): validation of the whole PatchOp message, a pure `applyPatch()` on
 * a copy of the resource, the split of group `members` operations, and read-only path selection.
 *
 * Semantics follow RFC 7644 §3.5.2.1–3 (add, remove, replace), widened where a large identity
 * provider deviates (see `./compat.ts` and `docs/idp-behaviour.md`): `add` ≡ `replace` for
 * single-valued attributes (X5), pathless values whose keys are paths (E4, O5), value-path targets
 * that create the missing element (E3), `""`/`null` clearing, string booleans (E2), a string
 * manager (E5), and member removal by value array (E6).
 *
 * The resource is a plain JSON object: core attributes top-level under canonical names, extension
 * attributes under their schema URN key, unknown attributes under the name they were sent with.
 * Written by hand on purpose: npm PATCH libraries mishandle the Entra and Okta shapes, and one of
 * them writes through `__proto__`.
 * @module
 */
import { z } from "zod";
import type { AttrPath, Filter, PatchPath } from "./filter/ast.ts";
import { parsePath } from "./filter/parser.ts";
import { type AttributeLookup, matches } from "./filter/evaluate.ts";
import { findKey } from "./filter/resolve.ts";
import {
  attributeLookup,
  coreSchemaUrn,
  extensionUrns,
  findAttribute,
  findSubAttribute,
} from "./schema_defs.ts";
import { ScimError } from "./errors.ts";
import type { AttributeDef, ResourceTypeName } from "./schema_types.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP } from "./urns.ts";
import {
  canonicalJson,
  cloneJson,
  deepEqual,
  isPlainObject,
  ownValue,
  PROTOTYPE_KEYS,
} from "../json.ts";
import {
  coerceBoolean,
  elementFromFilter,
  isClearValue,
  isIgnoredAttribute,
  isMemberRemovalByValueArray,
  memberValue,
  normalizeManagerValue,
  normalizeOp,
  type PatchOpName,
  stripOktaIdFromValue,
} from "./compat.ts";

/** One validated PATCH operation; `index` is its 0-based position in `Operations`. */
export interface PatchOperation {
  op: "add" | "remove" | "replace";
  path?: string;
  value?: unknown;
  index: number;
}

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

/** A change to group membership, split out of a group PATCH (members are rows, not attributes). */
export type MemberOperation =
  | { op: "add"; values: string[] }
  | { op: "remove"; values: string[] }
  | { op: "remove"; all: true }
  | { op: "remove"; filter: Filter }
  | { op: "replace"; values: string[] };

/** The most operations one PatchOp message may carry. */
export const MAX_PATCH_OPERATIONS = 1000;

const OP_ERROR = '"op" must be "add", "remove" or "replace"';

// ---------------------------------------------------------------------------------------------
// Validation of the PatchOp message
// ---------------------------------------------------------------------------------------------

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
    schemas: pick(body, "schemas"),
    Operations: pick(body, "Operations"),
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
    op: pick(entry, "op"),
    path: pick(entry, "path"),
    value: pick(entry, "value"),
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
  if (path !== undefined) assertSafePath(parsePath(path), path);
  const operation: PatchOperation = { op, index };
  if (path !== undefined) operation.path = path;
  if (value !== undefined) operation.value = value;
  return operation;
}

// ---------------------------------------------------------------------------------------------
// Group members
// ---------------------------------------------------------------------------------------------

/**
 * Splits group `members` operations (path `members`, any case or URN-qualified, or a `members` key
 * in a pathless value) from the rest, preserving order; member values are deduplicated.
 */
export function extractMemberOperations(
  ops: PatchOperation[],
): { memberOps: MemberOperation[]; otherOps: PatchOperation[] } {
  const memberOps: MemberOperation[] = [];
  const otherOps: PatchOperation[] = [];
  for (const operation of ops) {
    try {
      splitMemberOperation(operation, memberOps, otherOps);
    } catch (error) {
      throw withOperation(error, operation.index);
    }
  }
  return { memberOps, otherOps };
}

function splitMemberOperation(
  operation: PatchOperation,
  memberOps: MemberOperation[],
  otherOps: PatchOperation[],
): void {
  const op = normalizeOp(operation.op);
  if (op === undefined) throw ScimError.invalidSyntax(OP_ERROR);
  const pathText = operation.path?.trim();
  if (!pathText) {
    // Pathless `{"op":"replace","value":{"displayName":"X","members":[…]}}`: members become a
    // member operation, the rest stays a pathless operation.
    if (!isPlainObject(operation.value) || !hasMembersKey(operation.value)) {
      otherOps.push(operation);
      return;
    }
    const rest = splitMembers(operation.value, op, memberOps);
    if (Object.keys(rest).length > 0) otherOps.push({ ...operation, op, value: rest });
    return;
  }
  const parsed = parsePath(pathText);
  if (!isMembersAttr(parsed.path)) {
    otherOps.push(operation);
    return;
  }
  if (parsed.path.sub !== undefined || parsed.subAttr !== undefined) {
    throw ScimError.invalidPath(`Cannot "${op}" "${pathText}": members change only as a whole`);
  }
  if (parsed.filter !== undefined) {
    // Okta (O9) and Entra with the compliance flag (E6): `members[value eq "u1"]`.
    if (op !== "remove") {
      throw ScimError.invalidPath(`Cannot "${op}" "${pathText}": only "remove" takes a filter`);
    }
    memberOps.push({ op: "remove", filter: parsed.filter });
    return;
  }
  const memberOp = toMemberOperation(
    op,
    operation.value,
    op !== "remove" || isMemberRemovalByValueArray(operation),
  );
  if (memberOp) memberOps.push(memberOp);
}

/** Moves the `members` keys of a pathless value (also inside the core Group URN key) to member operations; returns the rest. */
function splitMembers(
  value: Record<string, unknown>,
  op: PatchOpName,
  memberOps: MemberOperation[],
): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (isMembersKey(key)) {
      const memberOp = toMemberOperation(op, entry, true);
      if (memberOp) memberOps.push(memberOp);
    } else if (isGroupSchemaWithMembers(key, entry)) {
      const inner = splitMembers(entry as Record<string, unknown>, op, memberOps);
      if (Object.keys(inner).length > 0) rest[key] = inner;
    } else {
      rest[key] = entry;
    }
  }
  return rest;
}

/** Builds the member operation of one `members` value; `undefined` when it changes nothing. */
function toMemberOperation(
  op: PatchOpName,
  value: unknown,
  hasValues: boolean,
): MemberOperation | undefined {
  if (op === "remove" && !hasValues) return { op: "remove", all: true };
  const values = memberValues(value);
  if (op === "replace") return { op: "replace", values };
  if (values.length === 0) return undefined;
  return op === "add" ? { op: "add", values } : { op: "remove", values };
}

function memberValues(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const entries = Array.isArray(value) ? value : [value];
  const values: string[] = [];
  for (const entry of entries) {
    const id = memberValue(entry);
    if (id === undefined) {
      throw ScimError.invalidValue(
        `Each member must be an object with a non-empty string "value", got ${describe(entry)}`,
      );
    }
    if (!values.includes(id)) values.push(id);
  }
  return values;
}

function isMembersAttr(path: AttrPath): boolean {
  return path.attr.toLowerCase() === "members" &&
    (path.uri === undefined || path.uri.toLowerCase() === GROUP_SCHEMA.toLowerCase());
}

function isMembersKey(key: string): boolean {
  const lower = key.trim().toLowerCase();
  return lower === "members" || lower === `${GROUP_SCHEMA.toLowerCase()}:members`;
}

function hasMembersKey(value: unknown): boolean {
  return isPlainObject(value) &&
    Object.entries(value).some(([key, entry]) =>
      isMembersKey(key) || isGroupSchemaWithMembers(key, entry)
    );
}

/** `{"urn:ietf:params:scim:schemas:core:2.0:Group": {"members": […]}}` in a pathless value. */
function isGroupSchemaWithMembers(key: string, value: unknown): boolean {
  return key.trim().toLowerCase() === GROUP_SCHEMA.toLowerCase() && hasMembersKey(value);
}

// ---------------------------------------------------------------------------------------------
// applyPatch
// ---------------------------------------------------------------------------------------------

interface Context {
  resourceType: ResourceTypeName;
  id: string;
  core: string;
  extensions: readonly string[];
  lookup: AttributeLookup;
}

/** A resolved attribute target of one path. */
interface Target {
  /** The path as written, for error details. */
  label: string;
  /** Extension schema URN key, `undefined` for core attributes. */
  ext?: string;
  /** Canonical attribute name when known, else as written. */
  name: string;
  def?: AttributeDef;
  filter?: Filter;
  /** Sub-attribute (`name.givenName` or `emails[…].value`), canonical when known. */
  sub?: string;
  subDef?: AttributeDef;
  /** `attr[filter]` as a filter on the resource, built once (the evaluator caches its checks). */
  probe?: Filter;
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

function createContext(resourceType: ResourceTypeName, id: string): Context {
  return {
    resourceType,
    id,
    core: coreSchemaUrn(resourceType),
    extensions: extensionUrns(resourceType),
    lookup: attributeLookup(resourceType),
  };
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
  const pathText = operation.path?.trim();
  if (!pathText) {
    // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with … "noTarget"."
    if (op === "remove") throw ScimError.noTarget('"path" is required for "remove"');
    applyPathless(resource, op, value, ctx);
  } else {
    if (op !== "remove" && value === undefined) {
      throw ScimError.invalidValue(`"value" is required for "${op}"`);
    }
    applyAtPath(resource, op, pathText, value, ctx);
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

/** Applies one operation at a path string (an operation's `path` or a pathless value key). */
function applyAtPath(
  resource: Record<string, unknown>,
  op: PatchOpName,
  pathText: string,
  value: unknown,
  ctx: Context,
): void {
  const ext = extensionKeyOf(pathText, ctx);
  if (ext !== undefined) {
    applyToExtension(resource, op, ext, value, ctx);
    return;
  }
  const parsed = parsePath(pathText);
  assertSafePath(parsed, pathText);
  const target = resolveTarget(parsed, pathText, ctx);
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

/**
 * The extension URN key a path or pathless key names as a whole, if any: a known extension schema
 * (any case), or an unknown `urn:…:<ResourceType>` (custom extensions, e.g. Entra's
 * `urn:ietf:params:scim:schemas:extension:<name>:2.0:User`).
 */
function extensionKeyOf(text: string, ctx: Context): string | undefined {
  const lower = text.toLowerCase();
  const known = ctx.extensions.find((urn) => urn.toLowerCase() === lower);
  if (known !== undefined) return known;
  if (!lower.startsWith("urn:") || lower === ctx.core.toLowerCase()) return undefined;
  const last = lower.slice(lower.lastIndexOf(":") + 1);
  return last === ctx.resourceType.toLowerCase() ? text : undefined;
}

/**
 * Resolves a parsed path to its target, or `undefined` when the operation is ignored.
 *
 * Operations on `id`, `meta`, `schemas`, `password`, user `groups` and other read-only attributes
 * are ignored rather than rejected with `mutability`: Okta and Entra send them back on
 * round-trips and in pathless values (O4, O7, O8, E13), and answering 400 would block their
 * provisioning. The stored resource never holds them, so ignoring changes nothing. Read-only
 * sub-attributes (`manager.displayName`) are skipped the same way.
 */
function resolveTarget(parsed: PatchPath, label: string, ctx: Context): Target | undefined {
  const { path, filter, subAttr } = parsed;
  if (path.sub !== undefined && (filter !== undefined || subAttr !== undefined)) {
    throw ScimError.invalidPath(`Cannot resolve path "${label}"`);
  }
  let ext = extensionUri(path.uri, ctx);
  if (ext === undefined && isIgnoredAttribute(path.attr, ctx.resourceType)) return undefined;
  let def = findAttribute(
    ctx.resourceType,
    ext === undefined ? { attr: path.attr } : {
      uri: ext,
      attr: path.attr,
    },
  );
  if (ext === undefined && def === undefined) {
    // RFC 7644 §3.10: a client may leave out the URN of an extension attribute whose name is
    // not a core one; Entra's older manager form uses the bare path `manager` (E5).
    for (const urn of ctx.extensions) {
      const extDef = findAttribute(ctx.resourceType, { uri: urn, attr: path.attr });
      if (extDef) {
        ext = urn;
        def = extDef;
        break;
      }
    }
  }
  if (def?.mutability === "readOnly") return undefined;
  if (ctx.resourceType === "Group" && ext === undefined && isMembersAttr(path)) {
    throw ScimError.invalidPath(
      `Cannot apply "${label}" to the group attributes: members are changed as member operations`,
    );
  }
  const sub = path.sub ?? subAttr;
  let subDef: AttributeDef | undefined;
  if (sub !== undefined) {
    if (def !== undefined && def.type !== "complex") {
      throw ScimError.invalidPath(
        `Cannot resolve path "${label}": "${def.name}" has no sub-attributes`,
      );
    }
    subDef = subAttribute(def, sub);
    if (subDef?.mutability === "readOnly") return undefined;
  }
  if (filter !== undefined && def !== undefined && !def.multiValued) {
    throw ScimError.invalidPath(
      `Cannot resolve path "${label}": "${def.name}" is not multi-valued`,
    );
  }
  return {
    label,
    ext,
    name: def?.name ?? path.attr,
    def,
    filter,
    sub: subDef?.name ?? sub,
    subDef,
  };
}

/** The extension key of a path's URN prefix; `undefined` for none or the core schema (stripped, P5). */
function extensionUri(uri: string | undefined, ctx: Context): string | undefined {
  if (uri === undefined) return undefined;
  const lower = uri.toLowerCase();
  if (lower === ctx.core.toLowerCase()) return undefined;
  return ctx.extensions.find((urn) => urn.toLowerCase() === lower) ?? uri;
}

function subAttribute(def: AttributeDef | undefined, name: string): AttributeDef | undefined {
  return def === undefined ? undefined : findSubAttribute(def, name);
}

// --- add / replace ---------------------------------------------------------------------------

function setTarget(
  resource: Record<string, unknown>,
  target: Target,
  op: "add" | "replace",
  value: unknown,
  ctx: Context,
): void {
  const clear = isClearValue(value);
  const container = getContainer(resource, target.ext, !clear);
  if (container === undefined) return;
  const key = attributeKey(container, target);
  if (target.filter !== undefined) {
    setFiltered(container, key, target, value, ctx);
  } else if (target.sub !== undefined) {
    setSubAttribute(container, key, target, value);
  } else if (clear) {
    delete container[key];
  } else {
    const next = writeWhole(ownValue(container, key), target, op, value);
    if (next === undefined) delete container[key];
    else container[key] = next;
  }
}

/**
 * The new value of a whole attribute. `add` ≡ `replace` for single-valued attributes (X5, the
 * interop profile); `add` appends new values to a multi-valued attribute (RFC 7644 §3.5.2.1) and
 * `replace` replaces the array (§3.5.2.3); complex values merge (§3.5.2.3).
 */
function writeWhole(
  existing: unknown,
  target: Target,
  op: "add" | "replace",
  value: unknown,
): unknown {
  if (isManager(target)) {
    const manager = normalizeManagerValue(value);
    if (manager === undefined) {
      throw ScimError.invalidValue(
        `"${target.label}" must be a manager id or an object with a string "value", got ${
          describe(value)
        }`,
      );
    }
    return manager ?? undefined;
  }
  const def = target.def;
  if (def === undefined) return writeUnknown(existing, op, value);
  if (def.multiValued) {
    const incoming = appendUnique(
      [],
      (Array.isArray(value) ? value : [value])
        .filter((element) => !isClearValue(element))
        .map((element) => coerceElement(def, element, target.label)),
    );
    const base = op === "add" && Array.isArray(existing) ? existing : [];
    const result = appendUnique(base, incoming);
    demoteOtherPrimaries(result, incoming);
    return result.length > 0 ? result : undefined;
  }
  if (def.type === "complex") {
    if (!isPlainObject(value)) {
      throw ScimError.invalidValue(`"${target.label}" must be an object, got ${describe(value)}`);
    }
    const merged = mergeComplex(isPlainObject(existing) ? existing : {}, value, def, target.label);
    return Object.keys(merged).length > 0 ? merged : undefined;
  }
  return coerceSimple(def, value, target.label);
}

/** Unknown (custom) attributes are kept as sent: arrays append on `add`, objects merge. */
function writeUnknown(existing: unknown, op: "add" | "replace", value: unknown): unknown {
  if (Array.isArray(value)) {
    return op === "add" && Array.isArray(existing) ? appendUnique(existing, value) : value;
  }
  if (op === "add" && Array.isArray(existing)) return appendUnique(existing, [value]);
  if (isPlainObject(value)) {
    const merged = mergeComplex(isPlainObject(existing) ? existing : {}, value, undefined, "");
    return Object.keys(merged).length > 0 ? merged : undefined;
  }
  return value;
}

/** `name.givenName`, `manager.value`, or `emails.value` (every element; one is created if none). */
function setSubAttribute(
  container: Record<string, unknown>,
  key: string,
  target: Target,
  value: unknown,
): void {
  const existing = ownValue(container, key);
  const sub = target.sub as string;
  const label = target.label;
  if (target.def?.multiValued || (target.def === undefined && Array.isArray(existing))) {
    const elements: unknown[] = Array.isArray(existing) ? existing : [];
    if (isClearValue(value)) {
      for (const element of elements.filter(isPlainObject)) deleteKey(element, sub);
      writeArray(container, key, elements.filter(isNotEmptyObject));
      return;
    }
    if (!elements.some(isPlainObject)) elements.push({});
    const coerced = coerceSub(target.subDef, value, label);
    for (const element of elements.filter(isPlainObject)) {
      element[subKey(element, target)] = cloneJson(coerced);
    }
    writeArray(container, key, elements);
    return;
  }
  const object = isPlainObject(existing) ? existing : {};
  if (isClearValue(value)) {
    deleteKey(object, sub);
  } else {
    object[subKey(object, target)] = coerceSub(target.subDef, value, label);
  }
  if (Object.keys(object).length > 0) container[key] = object;
  else delete container[key];
}

/**
 * `emails[type eq "work"].value` and `emails[type eq "work"]`: sets the sub-attribute on (or merges
 * the object into) every matching element. When none matches, the element is created from the
 * filter's `eq` terms (E3), not refused with `noTarget` as RFC 7644 §3.5.2.3 would; a filter
 * without usable `eq` terms still gets `noTarget`. `""`/`null` removes what it targets.
 */
function setFiltered(
  container: Record<string, unknown>,
  key: string,
  target: Target,
  value: unknown,
  ctx: Context,
): void {
  const elements = filterableElements(ownValue(container, key), target);
  if (isClearValue(value)) {
    removeFiltered(container, key, target, ctx);
    return;
  }
  let matched = elements.filter((element): element is Record<string, unknown> =>
    isPlainObject(element) && elementMatches(element, target, ctx)
  );
  if (matched.length === 0) {
    const seed = elementFromFilter(target.filter as Filter);
    if (seed === undefined) {
      throw ScimError.noTarget(`No value of "${target.name}" matches "${target.label}"`);
    }
    assertSafeValue(seed);
    const created = mergeComplex({}, seed, target.def, target.label);
    elements.push(created);
    matched = [created];
  }
  if (target.sub !== undefined) {
    const coerced = coerceSub(target.subDef, value, target.label);
    for (const element of matched) element[subKey(element, target)] = cloneJson(coerced);
  } else {
    const object = Array.isArray(value) && value.length === 1 ? value[0] : value;
    if (!isPlainObject(object)) {
      throw ScimError.invalidValue(`"${target.label}" must be an object, got ${describe(value)}`);
    }
    for (const element of matched) {
      mergeComplex(element, cloneJson(object), target.def, target.label);
    }
  }
  demoteOtherPrimaries(elements, matched);
  writeArray(container, key, elements.filter(isNotEmptyObject));
}

// --- remove ----------------------------------------------------------------------------------

/**
 * RFC 7644 §3.5.2.2 remove: a whole attribute, a sub-attribute, or the elements a filter matches
 * (no match is a no-op, so retries stay idempotent). A `value` on a multi-valued attribute removes
 * only the listed values, like Entra's member removal (E6).
 */
function removeTarget(
  resource: Record<string, unknown>,
  target: Target,
  value: unknown,
  ctx: Context,
): void {
  const container = getContainer(resource, target.ext, false);
  if (container === undefined) return;
  const key = findKey(container, target.name);
  if (key === undefined) return;
  const existing = container[key];
  if (target.filter !== undefined) {
    removeFiltered(container, key, target, ctx);
  } else if (target.sub !== undefined) {
    if (Array.isArray(existing)) {
      for (const element of existing.filter(isPlainObject)) deleteKey(element, target.sub);
      writeArray(container, key, existing.filter(isNotEmptyObject));
    } else if (isPlainObject(existing)) {
      deleteKey(existing, target.sub);
      if (Object.keys(existing).length === 0) delete container[key];
    }
  } else if (Array.isArray(existing) && value !== undefined && value !== null) {
    const listed = Array.isArray(value) ? value : [value];
    writeArray(
      container,
      key,
      existing.filter((element) => !listed.some((entry) => sameElement(element, entry))),
    );
  } else {
    delete container[key];
  }
}

function removeFiltered(
  container: Record<string, unknown>,
  key: string,
  target: Target,
  ctx: Context,
): void {
  const existing = ownValue(container, key);
  if (existing === undefined) return;
  const elements = filterableElements(existing, target);
  const kept: unknown[] = [];
  for (const element of elements) {
    if (!isPlainObject(element) || !elementMatches(element, target, ctx)) {
      kept.push(element);
    } else if (target.sub !== undefined) {
      deleteKey(element, target.sub);
      if (Object.keys(element).length > 0) kept.push(element);
    }
  }
  writeArray(container, key, kept);
}

// --- helpers ---------------------------------------------------------------------------------

/** Tells whether an element matches the target's value filter, using the filter evaluator. */
function elementMatches(element: Record<string, unknown>, target: Target, ctx: Context): boolean {
  // Evaluate `attr[filter]` against a one-element resource so the evaluator resolves the
  // sub-attribute definitions (case rules, types) exactly as it does for GET filters.
  const resource: Record<string, unknown> = {};
  if (target.ext === undefined) resource[target.name] = [element];
  else resource[target.ext] = { [target.name]: [element] };
  target.probe ??= {
    kind: "valuePath",
    path: target.ext === undefined ? { attr: target.name } : { uri: target.ext, attr: target.name },
    filter: target.filter as Filter,
  };
  try {
    return matches(target.probe, resource, ctx.lookup, ctx.core);
  } catch (error) {
    // A meaningless comparison (`emails[primary gt 1]`) is a bad PATCH path here, not a bad query.
    if (error instanceof ScimError && error.scimType === "invalidFilter") {
      throw ScimError.invalidPath(`Cannot resolve path "${target.label}": ${error.message}`);
    }
    throw error;
  }
}

function filterableElements(existing: unknown, target: Target): unknown[] {
  if (existing === undefined || existing === null) return [];
  if (!Array.isArray(existing)) {
    throw ScimError.invalidPath(
      `Cannot resolve path "${target.label}": "${target.name}" is not multi-valued`,
    );
  }
  return [...existing];
}

function isNotEmptyObject(element: unknown): boolean {
  return !isPlainObject(element) || Object.keys(element).length > 0;
}

function writeArray(container: Record<string, unknown>, key: string, elements: unknown[]): void {
  if (elements.length > 0) container[key] = elements;
  else delete container[key];
}

function isManager(target: Target): boolean {
  return target.ext === ENTERPRISE_USER_SCHEMA && target.name.toLowerCase() === "manager";
}

/** The object holding a target's attribute: the resource, or its extension object (created on demand). */
function getContainer(
  resource: Record<string, unknown>,
  ext: string | undefined,
  create: boolean,
): Record<string, unknown> | undefined {
  if (ext === undefined) return resource;
  const key = findKey(resource, ext);
  if (key !== undefined && isPlainObject(resource[key])) {
    return resource[key] as Record<string, unknown>;
  }
  if (!create) return undefined;
  if (key !== undefined) delete resource[key];
  const created: Record<string, unknown> = {};
  resource[ext] = created;
  return created;
}

/** The key to write an attribute under: its canonical name (moving a differently-cased key), or as found/written. */
function attributeKey(container: Record<string, unknown>, target: Target): string {
  return canonicalKey(container, target.name, target.def !== undefined);
}

function subKey(element: Record<string, unknown>, target: Target): string {
  return canonicalKey(element, target.sub as string, target.subDef !== undefined);
}

function canonicalKey(object: Record<string, unknown>, name: string, known: boolean): string {
  const existing = findKey(object, name);
  if (existing === undefined) return name;
  if (known && existing !== name) {
    object[name] = object[existing];
    delete object[existing];
    return name;
  }
  return existing;
}

function deleteKey(object: Record<string, unknown>, name: string): void {
  const key = findKey(object, name);
  if (key !== undefined) delete object[key];
}

/**
 * Merges sub-attributes into `base` (mutated and returned): given ones replace, `""`/`null` remove,
 * others are kept (RFC 7644 §3.5.2.3). Known sub-attributes get their canonical name and type.
 */
function mergeComplex(
  base: Record<string, unknown>,
  value: Record<string, unknown>,
  def: AttributeDef | undefined,
  label: string,
): Record<string, unknown> {
  for (const [name, entry] of Object.entries(value)) {
    const subDef = subAttribute(def, name);
    if (subDef?.mutability === "readOnly") continue;
    const key = canonicalKey(base, subDef?.name ?? name, subDef !== undefined);
    if (isClearValue(entry)) delete base[key];
    else base[key] = subDef === undefined ? entry : coerceSub(subDef, entry, `${label}.${key}`);
  }
  return base;
}

function coerceElement(def: AttributeDef, element: unknown, label: string): unknown {
  if (def.type !== "complex") return coerceSimple(def, element, label);
  if (!isPlainObject(element)) {
    throw ScimError.invalidValue(
      `Each value of "${label}" must be an object, got ${describe(element)}`,
    );
  }
  return mergeComplex({}, element, def, label);
}

function coerceSub(subDef: AttributeDef | undefined, value: unknown, label: string): unknown {
  if (subDef === undefined) return value;
  if (subDef.multiValued) {
    return (Array.isArray(value) ? value : [value]).map((item) =>
      coerceSimple(subDef, item, label)
    );
  }
  return coerceSimple(subDef, value, label);
}

/** Checks a simple value; booleans also accept Entra's `"True"`/`"False"` (E2). */
function coerceSimple(def: AttributeDef, value: unknown, label: string): unknown {
  if (def.type === "boolean") {
    const bool = coerceBoolean(value);
    if (bool === undefined) {
      throw ScimError.invalidValue(`"${label}" must be a boolean, got ${describe(value)}`);
    }
    return bool;
  }
  if (typeof value === "object" && value !== null) {
    throw ScimError.invalidValue(
      `"${label}" must be a single ${def.type} value, got ${describe(value)}`,
    );
  }
  return value;
}

/** Appends values not already present (deep-equal), to a new array. */
function appendUnique(base: unknown[], values: unknown[]): unknown[] {
  // Linear: values are compared by a canonical JSON form (key order ignored), not pairwise.
  const result = [...base];
  const seen = new Set(base.map(canonicalJson));
  for (const value of values) {
    const key = canonicalJson(value);
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(value);
  }
  return result;
}

/**
 * RFC 7643 §2.4: `primary: true` appears at most once; RFC 7644 §3.5.2 lets the server set the
 * others to false when a PATCH makes a value primary.
 */
function demoteOtherPrimaries(elements: unknown[], written: unknown[]): void {
  const primary = written.filter((element) =>
    isPlainObject(element) && ownValue(element, "primary") === true
  );
  if (primary.length === 0) return;
  for (const element of elements) {
    if (
      isPlainObject(element) && ownValue(element, "primary") === true &&
      !primary.some((chosen) => chosen === element || deepEqual(chosen, element))
    ) {
      element.primary = false;
    }
  }
}

/** An element named by a remove `value` entry: same `value` sub-attribute, or deep-equal. */
function sameElement(element: unknown, entry: unknown): boolean {
  if (isPlainObject(entry) && isPlainObject(element)) {
    const entryKey = findKey(entry, "value");
    const entryValue = entryKey === undefined ? undefined : entry[entryKey];
    if (entryValue !== undefined && entryValue !== null) {
      const elementKey = findKey(element, "value");
      return elementKey !== undefined && deepEqual(element[elementKey], entryValue);
    }
  }
  return deepEqual(element, entry);
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

/** Top-level attribute names whose value differs, `urn:…:attr` inside extension objects. */
function diffAttributes(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const changed: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = ownValue(before, key);
    const b = ownValue(after, key);
    if (deepEqual(a, b)) continue;
    if (key.toLowerCase().startsWith("urn:") && (isPlainObject(a) || isPlainObject(b))) {
      const aObject = isPlainObject(a) ? a : {};
      const bObject = isPlainObject(b) ? b : {};
      const count = changed.length;
      for (const name of new Set([...Object.keys(aObject), ...Object.keys(bObject)])) {
        if (!deepEqual(ownValue(aObject, name), ownValue(bObject, name))) {
          changed.push(`${key}:${name}`);
        }
      }
      if (changed.length === count) changed.push(key);
    } else {
      changed.push(key);
    }
  }
  return changed;
}

function pick(object: Record<string, unknown>, name: string): unknown {
  const key = findKey(object, name);
  return key === undefined ? undefined : object[key];
}

function isReservedKey(name: string): boolean {
  return PROTOTYPE_KEYS.has(name.trim().toLowerCase());
}

/** Rejects paths naming `__proto__`, `constructor` or `prototype` anywhere, filters included. */
function assertSafePath(parsed: PatchPath, label: string): void {
  const names: string[] = [];
  const add = (path: AttrPath) => {
    names.push(path.attr);
    if (path.uri !== undefined) names.push(...path.uri.split(":"));
    if (path.sub !== undefined) names.push(path.sub);
  };
  const walk = (filter: Filter): void => {
    switch (filter.kind) {
      case "compare":
      case "present":
        add(filter.path);
        return;
      case "and":
      case "or":
        walk(filter.left);
        walk(filter.right);
        return;
      case "not":
        walk(filter.filter);
        return;
      case "valuePath":
        add(filter.path);
        walk(filter.filter);
    }
  };
  add(parsed.path);
  if (parsed.subAttr !== undefined) names.push(parsed.subAttr);
  if (parsed.filter !== undefined) walk(parsed.filter);
  const reserved = names.find(isReservedKey);
  if (reserved !== undefined) {
    throw ScimError.invalidPath(`Cannot use path "${label}": "${reserved}" is a reserved name`);
  }
}

/**
 * Rejects values holding a `__proto__`, `constructor` or `prototype` key at any depth, also as a
 * part of a key (pathless keys are paths: `constructor.prototype`).
 */
function assertSafeValue(value: unknown): void {
  // Iterative, bounded walk: a value nested 100,000 deep must be refused, not overflow the stack.
  const stack: [unknown, number][] = [[value, 0]];
  let seen = 0;
  while (stack.length) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= MAX_VALUE_DEPTH) {
      throw ScimError.invalidValue(
        `Cannot use "value": nested deeper than ${MAX_VALUE_DEPTH} levels`,
      );
    }
    if (++seen > MAX_VALUE_NODES) {
      throw ScimError.invalidValue(
        `Cannot use "value": more than ${MAX_VALUE_NODES} objects and arrays`,
      );
    }
    if (Array.isArray(item)) {
      if (item.length > MAX_VALUE_ITEMS) {
        throw ScimError.invalidValue(
          `Cannot use "value": an array holds more than ${MAX_VALUE_ITEMS} values`,
        );
      }
      for (const child of item) stack.push([child, depth + 1]);
      continue;
    }
    for (const [key, child] of Object.entries(item)) {
      if (key.split(/[.:[\]\s]+/).some(isReservedKey)) {
        throw ScimError.invalidValue(`Cannot use "value": "${key}" is a reserved name`);
      }
      stack.push([child, depth + 1]);
    }
  }
}

/** Deepest nesting of a PATCH value (a SCIM resource needs about 4). */
const MAX_VALUE_DEPTH = 16;
/** Most objects and arrays in one PATCH value. */
const MAX_VALUE_NODES = 50_000;
/** Longest array in a PATCH value (Group `members` may hold this many). */
const MAX_VALUE_ITEMS = 10_000;

/** Adds `Operation N: ` (1-based) to a `ScimError` detail; other errors pass through. */
function withOperation(error: unknown, index: number): unknown {
  if (!(error instanceof ScimError)) return error;
  const prefix = `Operation ${index + 1}: `;
  if (error.message.startsWith(prefix)) return error;
  return new ScimError(error.status, prefix + error.message, {
    scimType: error.scimType,
    headers: error.headers,
    cause: error,
  });
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (isPlainObject(value)) return "an object";
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// selectValues
// ---------------------------------------------------------------------------------------------

/**
 * Reads the values a path selects from a stored resource, e.g. `emails[type eq "work"].value`,
 * `name.givenName`, `urn:…:enterprise:2.0:User:department`; arrays are flattened, absent → `[]`.
 */
export function selectValues(
  resource: Record<string, unknown>,
  path: string,
  resourceType: ResourceTypeName,
): unknown[] {
  const ctx = createContext(resourceType, "");
  const text = path.trim();
  const ext = extensionKeyOf(text, ctx);
  if (ext !== undefined) {
    const key = findKey(resource, ext);
    return key === undefined ? [] : flatten([resource[key]]);
  }
  const { path: attrPath, filter, subAttr } = selectionPath(text);
  const extUri = extensionUri(attrPath.uri, ctx);
  const container = getContainer(resource, extUri, false);
  if (container === undefined) return [];
  const key = findKey(container, attrPath.attr);
  if (key === undefined) return [];
  let values = flatten([container[key]]);
  if (filter !== undefined) {
    const def = findAttribute(
      resourceType,
      extUri === undefined ? { attr: attrPath.attr } : {
        uri: extUri,
        attr: attrPath.attr,
      },
    );
    const target: Target = { label: text, ext: extUri, name: key, def, filter };
    values = values.filter((value) => isPlainObject(value) && elementMatches(value, target, ctx));
  }
  const sub = attrPath.sub ?? subAttr;
  if (sub === undefined) return values;
  return flatten(values.map((value) => {
    if (!isPlainObject(value)) return undefined;
    const subKeyName = findKey(value, sub);
    return subKeyName === undefined ? undefined : value[subKeyName];
  }));
}

/**
 * Parsed selection paths: mirroring reads the same few paths on every user write. Bounded; the
 * parsed paths are never mutated.
 */
const selectionPaths = new Map<string, PatchPath>();

function selectionPath(text: string): PatchPath {
  let parsed = selectionPaths.get(text);
  if (parsed === undefined) {
    parsed = parsePath(text);
    assertSafePath(parsed, text);
    if (selectionPaths.size >= 256) selectionPaths.clear();
    selectionPaths.set(text, parsed);
  }
  return parsed;
}

function flatten(values: unknown[]): unknown[] {
  return values.flatMap((value) =>
    value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]
  );
}
