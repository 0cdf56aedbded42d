/**
 * Schema and message URNs of RFC 7643 §8.7 and RFC 7644 §3.
 * @module
 */

/** Core User schema (RFC 7643 §4.1). */
export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
/** Core Group schema (RFC 7643 §4.2). */
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
/** Enterprise User extension (RFC 7643 §4.3). */
export const ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/** ListResponse message (RFC 7644 §3.4.2). */
export const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/** PatchOp message (RFC 7644 §3.5.2). */
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/** SearchRequest message (RFC 7644 §3.4.3). */
export const SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/** Error message (RFC 7644 §3.12). */
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
/** ServiceProviderConfig schema (RFC 7643 §5). */
export const SERVICE_PROVIDER_CONFIG_SCHEMA =
  "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/** ResourceType schema (RFC 7643 §6). */
export const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/** Schema schema (RFC 7643 §7). */
export const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";
