/**
 * Attribute definitions of RFC 7643 §7, as used by validation, filters, PATCH and projection.
 * @module
 */

/** SCIM data types (RFC 7643 §2.3). */
export type AttributeType =
  | "string"
  | "boolean"
  | "decimal"
  | "integer"
  | "dateTime"
  | "binary"
  | "reference"
  | "complex";

/** One attribute's characteristics (RFC 7643 §7 `attributes`). */
export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  returned: "always" | "never" | "default" | "request";
  uniqueness: "none" | "server" | "global";
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDef[];
}

/** A schema (RFC 7643 §7). */
export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDef[];
}

/** Resource types served per IdP. */
export type ResourceTypeName = "User" | "Group";
