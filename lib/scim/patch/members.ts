/**
 * Group `members` in a PATCH (RFC 7644 §3.5.2): members are membership rows, not an attribute, so
 * their operations are taken out of the message for the store, and the rest is applied to the
 * group's attributes. Okta removes by filter (O9), Entra by value array (E6).
 * @module
 */
import type { AttrPath, Filter } from "../filter/ast.ts";
import { ScimError } from "../errors.ts";
import { GROUP_SCHEMA } from "../urns.ts";
import {
  isMemberRemovalByValueArray,
  memberValue,
  normalizeOp,
  type PatchOpName,
} from "../compat.ts";
import { isPlainObject } from "../../json.ts";
import { describe, OP_ERROR, withOperation } from "./detail.ts";
import type { PatchOperation } from "./parse.ts";

/** A change to group membership, split out of a group PATCH (members are rows, not attributes). */
export type MemberOperation =
  | { op: "add"; values: string[] }
  | { op: "remove"; values: string[] }
  | { op: "remove"; all: true }
  | { op: "remove"; filter: Filter }
  | { op: "replace"; values: string[] };

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
  if (operation.path === undefined) {
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
  const { path: pathText, parsedPath: parsed } = operation;
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

/** Tells whether a path names Group `members` (bare or with the core Group URN, any case). */
export function isMembersAttr(path: AttrPath): boolean {
  return path.attr.toLowerCase() === "members" &&
    (path.uri === undefined || path.uri.toLowerCase() === GROUP_SCHEMA.toLowerCase());
}

function isMembersKey(key: string): boolean {
  const lower = key.trim().toLowerCase();
  return lower === "members" || lower === `${GROUP_SCHEMA.toLowerCase()}:members`;
}

/** Tells whether a pathless value carries `members` (also inside the core Group URN key). */
export function hasMembersKey(value: unknown): boolean {
  return isPlainObject(value) &&
    Object.entries(value).some(([key, entry]) =>
      isMembersKey(key) || isGroupSchemaWithMembers(key, entry)
    );
}

/** `{"urn:ietf:params:scim:schemas:core:2.0:Group": {"members": […]}}` in a pathless value. */
function isGroupSchemaWithMembers(key: string, value: unknown): boolean {
  return key.trim().toLowerCase() === GROUP_SCHEMA.toLowerCase() && hasMembersKey(value);
}
