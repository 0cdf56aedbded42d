/**
 * Partial representations: the `attributes` and `excludedAttributes` parameters of RFC 7644
 * §3.4.2.5 and §3.9, with the `returned` characteristic of RFC 7643 §2.2.
 *
 * Names are case-insensitive and may be URN-qualified or name a sub-attribute (`name.givenName`,
 * `emails.value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`, or a whole
 * extension by its URN). `schemas` and `returned: "always"` attributes (`id`) are always returned;
 * `returned: "never"` ones (`password`) never; `returned: "request"` ones only when named in
 * `attributes`. With `attributes`, everything else is returned only when named, `meta` included
 * (it is `returned: "default"`, RFC 7643 §3.1). The RFC makes the two parameters mutually exclusive;
 * given both, `attributes` is applied first, then `excludedAttributes`.
 * @module
 */
import { COMMON_ATTRIBUTES, coreSchemaUrn, schemaDefs } from "./schema_defs.ts";
import type { AttributeDef, ResourceTypeName } from "./schema_types.ts";
import { isPlainObject } from "../json.ts";

/** A selection of attributes: lower-case name → the whole attribute (`true`) or some of its parts. */
type Selection = Map<string, Selection | true>;

/** Options of {@linkcode project}: the parsed query parameters. */
export interface ProjectionOptions {
  /** Attributes to return (besides those always returned). */
  attributes?: string[];
  /** Attributes to leave out. */
  excludedAttributes?: string[];
}

/** Adds the path `segments` (lower case) to `selection`; a whole attribute absorbs its parts. */
function select(selection: Selection, segments: string[]): void {
  let node = selection;
  for (const [index, segment] of segments.entries()) {
    const existing = node.get(segment);
    if (existing === true) return;
    if (index === segments.length - 1) {
      node.set(segment, true);
      return;
    }
    const next: Selection = existing ?? new Map();
    node.set(segment, next);
    node = next;
  }
}

/** Splits `attr[.sub]` at its first dot. */
function dotted(name: string): string[] {
  const dot = name.indexOf(".");
  return dot === -1 ? [name] : [name.slice(0, dot), name.slice(dot + 1)];
}

/** The path of lower-case keys an attribute name selects in `resource`. */
function segmentsOf(
  resource: Record<string, unknown>,
  resourceType: ResourceTypeName,
  name: string,
): string[] {
  let lower = name.toLowerCase();
  const core = `${coreSchemaUrn(resourceType).toLowerCase()}:`;
  if (lower.startsWith(core)) lower = lower.slice(core.length);
  if (!lower.startsWith("urn:")) return dotted(lower);
  // A schema URN names its extension object; `<urn>:attr[.sub]` an attribute inside it.
  const urns = [
    ...Object.keys(resource).map((key) => key.toLowerCase()),
    ...schemaDefs(resourceType).map((schema) => schema.id.toLowerCase()),
  ].filter((key) => key.startsWith("urn:")).sort((a, b) => b.length - a.length);
  if (urns.includes(lower)) return [lower];
  const urn = urns.find((candidate) => lower.startsWith(`${candidate}:`));
  if (urn !== undefined) return [urn, ...dotted(lower.slice(urn.length + 1))];
  const colon = lower.lastIndexOf(":");
  return [lower.slice(0, colon), ...dotted(lower.slice(colon + 1))];
}

/** The selection the names of an `attributes`/`excludedAttributes` list make. */
function selectionOf(
  resource: Record<string, unknown>,
  resourceType: ResourceTypeName,
  names: readonly string[],
): Selection {
  const selection: Selection = new Map();
  for (const name of names) {
    const trimmed = name.trim();
    if (trimmed !== "") select(selection, segmentsOf(resource, resourceType, trimmed));
  }
  return selection;
}

/** Keeps only the selected parts of `value` (applied to each element of an array). */
function include(value: unknown, selection: Selection): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => include(item, selection)).filter((item) =>
      item !== undefined
    );
    return items.length === 0 ? undefined : items;
  }
  if (!isPlainObject(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const selected = selection.get(key.toLowerCase());
    if (selected === undefined || key === "__proto__") continue;
    const kept = selected === true ? child : include(child, selected);
    if (kept !== undefined) out[key] = kept;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Removes the selected parts of `value` (from each element of an array). */
function exclude(value: unknown, selection: Selection): unknown {
  if (Array.isArray(value)) return value.map((item) => exclude(item, selection));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const selected = selection.get(key.toLowerCase());
    if (selected === true || key === "__proto__") continue;
    out[key] = selected === undefined ? child : exclude(child, selected);
  }
  return out;
}

/** The selection of the attributes with a given `returned` characteristic. */
function returnedSelection(
  resourceType: ResourceTypeName,
  returned: AttributeDef["returned"],
): Selection {
  const selection: Selection = new Map();
  function walk(attributes: readonly AttributeDef[], prefix: string[]): void {
    for (const def of attributes) {
      const segments = [...prefix, def.name.toLowerCase()];
      if (def.returned === returned) select(selection, segments);
      else if (def.subAttributes) walk(def.subAttributes, segments);
    }
  }
  walk(COMMON_ATTRIBUTES, []);
  for (const schema of schemaDefs(resourceType)) {
    const core = schema.id === coreSchemaUrn(resourceType);
    walk(schema.attributes, core ? [] : [schema.id.toLowerCase()]);
  }
  return selection;
}

const NEVER: Record<ResourceTypeName, Selection> = {
  User: returnedSelection("User", "never"),
  Group: returnedSelection("Group", "never"),
};
const ON_REQUEST: Record<ResourceTypeName, Selection> = {
  User: returnedSelection("User", "request"),
  Group: returnedSelection("Group", "request"),
};
/** Top-level names returned whatever the parameters say: `schemas` and `returned: "always"`. */
const ALWAYS: Record<ResourceTypeName, readonly string[]> = {
  User: ["schemas", ...returnedSelection("User", "always").keys()],
  Group: ["schemas", ...returnedSelection("Group", "always").keys()],
};

/** The partial representation of `resource` asked for by `attributes`/`excludedAttributes`. */
export function project(
  resource: Record<string, unknown>,
  resourceType: ResourceTypeName,
  options: ProjectionOptions,
): Record<string, unknown> {
  const always = ALWAYS[resourceType];
  let out: Record<string, unknown>;
  if (options.attributes !== undefined && options.attributes.length > 0) {
    const picked = include(resource, selectionOf(resource, resourceType, options.attributes));
    out = {};
    for (const [key, value] of Object.entries(resource)) {
      if (always.includes(key.toLowerCase())) out[key] = value;
    }
    if (isPlainObject(picked)) {
      for (const [key, value] of Object.entries(picked)) out[key] = value;
    }
  } else {
    out = exclude(resource, ON_REQUEST[resourceType]) as Record<string, unknown>;
  }
  if (options.excludedAttributes !== undefined && options.excludedAttributes.length > 0) {
    const excluded = selectionOf(resource, resourceType, options.excludedAttributes);
    for (const name of always) excluded.delete(name);
    out = exclude(out, excluded) as Record<string, unknown>;
  }
  return exclude(out, NEVER[resourceType]) as Record<string, unknown>;
}

/** Splits an `attributes`/`excludedAttributes` query value at commas; `undefined` when empty. */
export function parseAttributeList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(",").map((name) => name.trim()).filter((name) => name !== "");
  return names.length === 0 ? undefined : names;
}
