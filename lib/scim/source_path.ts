/**
 * One spelling of an extension attribute's path. RFC 7644 §3.10 writes an extension attribute as
 * its schema URN, a colon, then the attribute (`urn:…:enterprise:2.0:User:department`); pasting
 * a leaf path as it is often displayed (`urn:…:enterprise:2.0:User.department`) names the same
 * attribute, and is accepted in that form too, and stored and shown in the colon form.
 * @module
 */
import { extensionUrns } from "./schema_defs.ts";

const KNOWN = new Set(
  [...extensionUrns("User"), ...extensionUrns("Group")].map((u) => u.toLowerCase()),
);

/**
 * The colon form of a path: `urn:…:User.department` → `urn:…:User:department`. The dot is read
 * as the schema's end when what precedes it is a known extension schema, or a URN whose last
 * segment is a schema name (capitalised, as in `User`, `EnterpriseUser`); other paths are
 * returned as they are.
 */
export function canonicalSourcePath(path: string): string {
  const p = path.trim();
  if (!/^urn:/i.test(p)) return p;
  const lastColon = p.lastIndexOf(":");
  const dot = p.indexOf(".", lastColon);
  if (dot < 0) return p;
  const schema = p.slice(0, dot);
  const name = schema.slice(lastColon + 1);
  if (KNOWN.has(schema.toLowerCase()) || /^[A-Z][A-Za-z0-9]*$/.test(name)) {
    return `${schema}:${p.slice(dot + 1)}`;
  }
  return p;
}
