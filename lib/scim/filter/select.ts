/**
 * Reading a stored resource by a PATCH-style path (RFC 7644 §3.5.2 `PATH`): the values a path such
 * as `emails[type eq "work"].value` selects, and the test of one element of a multi-valued
 * attribute against a value filter, shared with PATCH. Attribute mirroring and the console read
 * IdP attributes this way.
 * @module
 */
import type { Filter, PatchPath } from "./ast.ts";
import { parsePath } from "./parser.ts";
import { matches } from "./evaluate.ts";
import { findKey } from "./resolve.ts";
import { assertSafePath } from "./safe_path.ts";
import {
  attributeLookup,
  coreSchemaUrn,
  extensionKeyOfUri,
  wholeExtensionKey,
} from "../schema_defs.ts";
import { ScimError } from "../errors.ts";
import type { ResourceTypeName } from "../schema_types.ts";
import { isPlainObject } from "../../json.ts";

/** A value filter on one multi-valued attribute of a resource, e.g. `emails[type eq "work"]`. */
export interface ValueFilter {
  /** The key of the attribute's extension object; `undefined` for core attributes. */
  ext?: string;
  /** The attribute's name. */
  name: string;
  /** The element filter, with paths relative to the element. */
  filter: Filter;
  /** The path as written, for error details. */
  label: string;
}

/**
 * The test of one element against a value filter, built once for many elements. Elements are
 * evaluated exactly as GET filters evaluate them (case rules and types of the sub-attributes); a
 * comparison with no meaning (`emails[primary gt 1]`) is `invalidPath`: here it is a bad path, not
 * a bad query.
 */
export function elementMatcher(
  target: ValueFilter,
  resourceType: ResourceTypeName,
): (element: Record<string, unknown>) => boolean {
  const lookup = attributeLookup(resourceType);
  const core = coreSchemaUrn(resourceType);
  const probe: Filter = {
    kind: "valuePath",
    path: target.ext === undefined ? { attr: target.name } : { uri: target.ext, attr: target.name },
    filter: target.filter,
  };
  return (element) => {
    // A one-element resource, so the evaluator resolves the sub-attribute definitions.
    const resource: Record<string, unknown> = {};
    if (target.ext === undefined) resource[target.name] = [element];
    else resource[target.ext] = { [target.name]: [element] };
    try {
      return matches(probe, resource, lookup, core);
    } catch (error) {
      if (error instanceof ScimError && error.scimType === "invalidFilter") {
        throw ScimError.invalidPath(`Cannot resolve path "${target.label}": ${error.message}`);
      }
      throw error;
    }
  };
}

/**
 * Reads the values a path selects from a stored resource, e.g. `emails[type eq "work"].value`,
 * `name.givenName`, `urn:…:enterprise:2.0:User:department`; arrays are flattened, absent → `[]`.
 */
export function selectValues(
  resource: Record<string, unknown>,
  path: string,
  resourceType: ResourceTypeName,
): unknown[] {
  const text = path.trim();
  const whole = wholeExtensionKey(resourceType, text);
  if (whole !== undefined) {
    const key = findKey(resource, whole);
    return key === undefined ? [] : flatten([resource[key]]);
  }
  const { path: attrPath, filter, subAttr } = selectionPath(text);
  const ext = extensionKeyOfUri(resourceType, attrPath.uri);
  const container = ext === undefined ? resource : extensionObject(resource, ext);
  if (container === undefined) return [];
  const key = findKey(container, attrPath.attr);
  if (key === undefined) return [];
  let values = flatten([container[key]]);
  if (filter !== undefined) {
    const test = elementMatcher({ ext, name: key, filter, label: text }, resourceType);
    values = values.filter((value) => isPlainObject(value) && test(value));
  }
  const sub = attrPath.sub ?? subAttr;
  if (sub === undefined) return values;
  return flatten(values.map((value) => {
    if (!isPlainObject(value)) return undefined;
    const subKeyName = findKey(value, sub);
    return subKeyName === undefined ? undefined : value[subKeyName];
  }));
}

/** The extension object under `ext` (any case), if the resource has one. */
function extensionObject(
  resource: Record<string, unknown>,
  ext: string,
): Record<string, unknown> | undefined {
  const key = findKey(resource, ext);
  const value = key === undefined ? undefined : resource[key];
  return isPlainObject(value) ? value : undefined;
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
