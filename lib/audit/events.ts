/**
 * Audit events: their types and shape. They are written inside the caller's atomic operation
 * (so a change is never visible without its event and a failed write leaves none) and read by
 * `lib/store/events.ts`.
 * @module
 */

/** Every event type Weft records. */
export const EVENT_TYPES = [
  "scim_user_received",
  "scim_user_updated",
  "scim_user_deactivated",
  "scim_user_reactivated",
  "scim_user_deleted",
  "scim_group_received",
  "scim_group_updated",
  "scim_group_deleted",
  "scim_token_created",
  "scim_token_revoked",
  "scim_auth_failed",
  "tenant_created",
  "idp_created",
  "idp_updated",
  "idp_scim_enabled",
  "idp_scim_disabled",
  "idp_deletion_started",
  "idp_deleted",
  "mirroring_updated",
  "admin_created",
  "admin_removed",
  "admin_setup_link_created",
  "admin_setup_link_revoked",
  "idp_saml_updated",
  "saml_sign_in",
  "saml_sign_in_refused",
  "user_sessions_revoked",
  "api_key_created",
  "api_key_revoked",
  "webhook_endpoint_created",
  "webhook_endpoint_updated",
  "webhook_endpoint_disabled",
  "webhook_endpoint_enabled",
  "webhook_endpoint_deleted",
  "webhook_secret_rotated",
  "webhook_test_sent",
  "webhook_delivery_resent",
  "role_created",
  "role_deleted",
  "role_mapped",
  "role_unmapped",
] as const;

/** An event type. */
export type EventType = typeof EVENT_TYPES[number];

/** A recorded event. Never holds secrets, passwords or attribute values. */
export interface AuditEvent {
  id: string;
  at: string;
  type: EventType;
  tenantId: string;
  idpId?: string;
  tokenId?: string;
  actor: string;
  target?: {
    kind:
      | "user"
      | "group"
      | "token"
      | "idp"
      | "tenant"
      | "admin"
      | "admin_link"
      | "api_key"
      | "webhook"
      | "role";
    id: string;
    /** Its name when the event was written (userName, displayName…), shown once it is gone. */
    name?: string;
  };
  /** Names of the attributes that changed. */
  changed?: string[];
  /** Small numeric facts, e.g. `{membersAdded: 3}`. */
  counts?: Record<string, number>;
  /** Short human summary, free of attribute values. */
  summary: string;
  requestId?: string;
  clientIp?: string;
}

/** Input for `addEvent` (`lib/store/events.ts`). */
export type EventInput = Omit<AuditEvent, "id" | "at" | "tenantId" | "actor" | "idpId"> & {
  idpId?: string;
};

/** Query options for `listEvents` (`lib/store/events.ts`). */
export interface EventQuery {
  idpId?: string;
  type?: EventType;
  targetId?: string;
  /** Inclusive lower bound (ISO time). */
  since?: string;
  /** Exclusive upper bound (ISO time). */
  until?: string;
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}
