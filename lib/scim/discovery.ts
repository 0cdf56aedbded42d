/**
 * Discovery documents (RFC 7644 §4): `/ServiceProviderConfig` (RFC 7643 §5, with the RFC 9865 §3
 * `pagination` attribute), `/ResourceTypes` (RFC 7643 §6) and `/Schemas` (RFC 7643 §7).
 *
 * Everything but `meta.location` is built once at module load. Documents are camelCase and carry no
 * nulls, because Entra reads `/Schemas` when a connection is saved (idp-behaviour.md §2.2 step 12).
 * The functions take the SCIM base URL of one IdP connection without a trailing slash, e.g.
 * `https://acme.example.com/scim/v2/inbound/idp123`.
 * @module
 */
import { deepFreeze } from "../json.ts";
import { ENTERPRISE_USER_SCHEMA_DEF, GROUP_SCHEMA_DEF, USER_SCHEMA_DEF } from "./schema_defs.ts";
import {
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  LIST_RESPONSE,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SERVICE_PROVIDER_CONFIG_SCHEMA,
  USER_SCHEMA,
} from "./urns.ts";

/** Server limits advertised in `/ServiceProviderConfig`. */
export interface ServiceProviderLimits {
  /** Most resources one list or filter response returns (`filter.maxResults`, `maxPageSize`). */
  maxResults: number;
  /** Largest accepted request body in bytes (`bulk.maxPayloadSize`). */
  maxPayloadSize: number;
  /** Most operations in one request; not advertised, since bulk is unsupported (`maxOperations` 0). */
  maxOperations: number;
}

/** A ListResponse message (RFC 7644 §3.4.2). */
export interface ListResponse {
  schemas: string[];
  totalResults: number;
  itemsPerPage: number;
  startIndex: number;
  Resources: Record<string, unknown>[];
}

const AUTHENTICATION_SCHEMES = deepFreeze([{
  type: "oauthbearertoken",
  name: "OAuth Bearer Token",
  description: "Authentication with the bearer token minted for this identity provider connection",
  specUri: "https://www.rfc-editor.org/info/rfc6750",
  primary: true,
}]);

const SERVICE_PROVIDER_CONFIG_SCHEMAS = deepFreeze([SERVICE_PROVIDER_CONFIG_SCHEMA]);
const SUPPORTED = deepFreeze({ supported: true });
const UNSUPPORTED = deepFreeze({ supported: false });

const RESOURCE_TYPES = deepFreeze([
  {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: USER_SCHEMA,
    schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
  },
  {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: GROUP_SCHEMA,
  },
]);

const SCHEMAS = deepFreeze(
  [USER_SCHEMA_DEF, GROUP_SCHEMA_DEF, ENTERPRISE_USER_SCHEMA_DEF].map((schema) => ({
    schemas: [SCHEMA_SCHEMA],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes,
  })),
);

/** Wraps resources in a single-page ListResponse. */
function listResponse(resources: Record<string, unknown>[]): ListResponse {
  return {
    schemas: [LIST_RESPONSE],
    totalResults: resources.length,
    itemsPerPage: resources.length,
    startIndex: 1,
    Resources: resources,
  };
}

/** The `/ServiceProviderConfig` document (RFC 7643 §5; `pagination` from RFC 9865 §3). */
export function serviceProviderConfig(
  baseUrl: string,
  limits: ServiceProviderLimits,
): Record<string, unknown> {
  return {
    schemas: SERVICE_PROVIDER_CONFIG_SCHEMAS,
    patch: SUPPORTED,
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: limits.maxPayloadSize },
    filter: { supported: true, maxResults: limits.maxResults },
    changePassword: UNSUPPORTED,
    sort: SUPPORTED,
    etag: SUPPORTED,
    authenticationSchemes: AUTHENTICATION_SCHEMES,
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: "index",
      defaultPageSize: 100,
      maxPageSize: limits.maxResults,
      cursorTimeout: 3600,
    },
    meta: {
      resourceType: "ServiceProviderConfig",
      location: `${baseUrl}/ServiceProviderConfig`,
    },
  };
}

/** One resource type document by id (`User`, `Group`, case-insensitive); `undefined` if unknown. */
export function resourceType(baseUrl: string, id: string): Record<string, unknown> | undefined {
  const found = RESOURCE_TYPES.find((type) => type.id.toLowerCase() === id.toLowerCase());
  if (found === undefined) return undefined;
  return {
    ...found,
    meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/${found.id}` },
  };
}

/** The `/ResourceTypes` ListResponse (RFC 7644 §4): User (Enterprise extension optional) and Group. */
export function resourceTypes(baseUrl: string): ListResponse {
  return listResponse(
    RESOURCE_TYPES.map((type) => resourceType(baseUrl, type.id) as Record<string, unknown>),
  );
}

/** One schema document by URN (case-insensitive); `undefined` if unknown. */
export function schema(baseUrl: string, id: string): Record<string, unknown> | undefined {
  const found = SCHEMAS.find((item) => item.id.toLowerCase() === id.toLowerCase());
  if (found === undefined) return undefined;
  return {
    ...found,
    meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${found.id}` },
  };
}

/** The `/Schemas` ListResponse (RFC 7644 §4): core User, core Group, Enterprise User. */
export function schemas(baseUrl: string): ListResponse {
  return listResponse(
    SCHEMAS.map((item) => schema(baseUrl, item.id) as Record<string, unknown>),
  );
}
