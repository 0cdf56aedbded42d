/**
 * Where a PATCH operation writes (RFC 7644 §3.5.2): a parsed path resolved against the resource
 * type's schemas to a target — the attribute's extension, canonical name and definition, its value
 * filter and sub-attribute — and the objects and elements that hold it in the resource.
 * @module
 */
import type { Filter, PatchPath } from "../filter/ast.ts";
import { findKey } from "../filter/resolve.ts";
import { elementMatcher } from "../filter/select.ts";
import {
  coreSchemaUrn,
  extensionDefining,
  extensionKeyOfUri,
  findAttribute,
  findSubAttribute,
} from "../schema_defs.ts";
import { ScimError } from "../errors.ts";
import type { AttributeDef, ResourceTypeName } from "../schema_types.ts";
import { isIgnoredAttribute } from "../compat.ts";
import { isPlainObject } from "../../json.ts";
import { isMembersAttr } from "./members.ts";

/** What applying needs to know about the resource being patched. */
export interface Context {
  resourceType: ResourceTypeName;
  /** The resource id; an `id` inside a PATCH value never changes it (O8). */
  id: string;
  /** The core schema URN, whose attributes sit at the top level. */
  core: string;
}

/** A resolved attribute target of one path. */
export interface Target {
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
}

/** The context of a resource of `resourceType` with this id. */
export function createContext(resourceType: ResourceTypeName, id: string): Context {
  return {
    resourceType,
    id,
    core: coreSchemaUrn(resourceType),
  };
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
export function resolveTarget(parsed: PatchPath, label: string, ctx: Context): Target | undefined {
  const { path, filter, subAttr } = parsed;
  if (path.sub !== undefined && (filter !== undefined || subAttr !== undefined)) {
    throw ScimError.invalidPath(`Cannot resolve path "${label}"`);
  }
  let ext = extensionKeyOfUri(ctx.resourceType, path.uri);
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
    const defining = extensionDefining(ctx.resourceType, path.attr);
    ext = defining?.urn;
    def = defining?.def;
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

/** The sub-attribute `name` of a definition, if both are known. */
export function subAttribute(
  def: AttributeDef | undefined,
  name: string,
): AttributeDef | undefined {
  return def === undefined ? undefined : findSubAttribute(def, name);
}

/** The object holding a target's attribute: the resource, or its extension object (created on demand). */
export function getContainer(
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
export function attributeKey(container: Record<string, unknown>, target: Target): string {
  return canonicalKey(container, target.name, target.def !== undefined);
}

/** The key to write a target's sub-attribute under in one element (see {@linkcode attributeKey}). */
export function subKey(element: Record<string, unknown>, target: Target): string {
  return canonicalKey(element, target.sub as string, target.subDef !== undefined);
}

/** The key of `name` in `object`: a known name's canonical spelling (the value moved to it), else as found or written. */
export function canonicalKey(
  object: Record<string, unknown>,
  name: string,
  known: boolean,
): string {
  const existing = findKey(object, name);
  if (existing === undefined) return name;
  if (known && existing !== name) {
    object[name] = object[existing];
    delete object[existing];
    return name;
  }
  return existing;
}

/** Deletes the key `name` (any case) of `object`. */
export function deleteKey(object: Record<string, unknown>, name: string): void {
  const key = findKey(object, name);
  if (key !== undefined) delete object[key];
}

/** The test of one element against the target's value filter. */
export function targetMatcher(
  target: Target,
  ctx: Context,
): (element: Record<string, unknown>) => boolean {
  return elementMatcher(
    { ext: target.ext, name: target.name, filter: target.filter as Filter, label: target.label },
    ctx.resourceType,
  );
}

/** A copy of the elements of a multi-valued attribute a value filter applies to. */
export function filterableElements(existing: unknown, target: Target): unknown[] {
  if (existing === undefined || existing === null) return [];
  if (!Array.isArray(existing)) {
    throw ScimError.invalidPath(
      `Cannot resolve path "${target.label}": "${target.name}" is not multi-valued`,
    );
  }
  return [...existing];
}

/** Tells whether an element is worth keeping: not an object left without sub-attributes. */
export function isNotEmptyObject(element: unknown): boolean {
  return !isPlainObject(element) || Object.keys(element).length > 0;
}

/** Writes the elements of a multi-valued attribute, or deletes the attribute when none is left. */
export function writeArray(
  container: Record<string, unknown>,
  key: string,
  elements: unknown[],
): void {
  if (elements.length > 0) container[key] = elements;
  else delete container[key];
}
