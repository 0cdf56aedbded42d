/**
 * The directory API's public shapes (snake_case everywhere): what `GET /api/v1/…` returns, what
 * the events feed carries and what webhooks deliver. These are a contract with applications;
 * add fields, never rename them.
 * @module
 */

/** Public, stable event types (distinct from the internal audit types). */
export const PUBLIC_EVENT_TYPES = [
  "user.created",
  "user.updated",
  "user.deactivated",
  "user.reactivated",
  "user.deleted",
  "group.created",
  "group.updated",
  "group.deleted",
  "group.user_added",
  "group.user_removed",
  "role.assigned",
  "role.unassigned",
] as const;

/** One of {@linkcode PUBLIC_EVENT_TYPES}. */
export type PublicEventType = (typeof PUBLIC_EVENT_TYPES)[number];

/** Whether a string names a public event type. */
export function isPublicEventType(s: string): s is PublicEventType {
  return (PUBLIC_EVENT_TYPES as readonly string[]).includes(s);
}

/** A role as it appears on a user. */
export interface ApiRoleRef {
  slug: string;
  name: string;
}

/** A role of the tenant, with the groups mapped to it. */
export interface ApiRole {
  object: "role";
  slug: string;
  name: string;
  description: string | null;
  groups: { idp_id: string; group_id: string }[];
  created_at: string;
  updated_at: string;
}

/** A user as one IdP sees it. */
export interface ApiUserIdp {
  idp_id: string;
  state: "active" | "inactive";
  external_id: string | null;
  /** Every attribute the IdP sent, as received (SCIM names). */
  attributes: Record<string, unknown>;
}

/** A user: the canonical record (mirrored fields), per IdP what it sent, and roles. */
export interface ApiUser {
  object: "user";
  id: string;
  user_name: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  display_name: string | null;
  /** Custom canonical fields derived by attribute mirroring. */
  custom: Record<string, string>;
  state: "active" | "inactive";
  /** The IdP that provisioned the user. */
  idp_id: string;
  idps: ApiUserIdp[];
  /** Derived from group memberships; empty while the user is inactive. */
  roles: ApiRoleRef[];
  created_at: string;
  updated_at: string;
  /** Grows with every change of the user (compare as strings: longer-equal hex, later is greater). */
  version: string;
}

/** A group pushed by one IdP. */
export interface ApiGroup {
  object: "group";
  id: string;
  idp_id: string;
  name: string;
  external_id: string | null;
  /** Other attributes the IdP sent, as received. */
  attributes: Record<string, unknown>;
  member_count: number;
  created_at: string;
  updated_at: string;
  /** Grows with every change of the group or its membership. */
  version: string;
}

/** What a membership event carries. */
export interface MembershipEventData {
  user: ApiUser;
  group: ApiGroup;
}

/** What a role event carries. */
export interface RoleEventData {
  user: ApiUser;
  role: ApiRoleRef;
}

/** One event of the feed, exactly as `GET /api/v1/events` shows it and webhooks deliver it. */
export interface PublicEvent {
  object: "event";
  /** `evt_` + a zero-padded sequence number: sortable, strictly increasing per tenant. */
  id: string;
  type: PublicEventType;
  occurred_at: string;
  idp_id: string | null;
  data: ApiUser | ApiGroup | MembershipEventData | RoleEventData;
  /** On `*.updated`: the changed fields' values before the change (top-level field names). */
  previous_attributes?: Record<string, unknown>;
}

/** A page of a list. */
export interface ApiList<T> {
  object: "list";
  data: T[];
  /** Pass as `cursor` (or `after` for events) to get the next page; null at the end. */
  next_cursor: string | null;
}

/** The body of every error of the directory API. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** Width of the sequence number in an event id. */
export const EVENT_SEQ_DIGITS = 16;

/** The event id of sequence number `seq`. */
export function eventId(seq: number): string {
  return `evt_${String(seq).padStart(EVENT_SEQ_DIGITS, "0")}`;
}

/** The sequence number of an event id, or null when it is not one. */
export function eventSeq(id: string): number | null {
  const m = /^evt_(\d{16})$/.exec(id);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}
