/**
 * zod schemas of the directory API (`@hono/zod-openapi`'s `z`): the response shapes of
 * `lib/directory/types.ts`, field for field, and the query and path parameters of every route.
 * The OpenAPI document at `/api/v1/openapi.json` is generated from these, so what is validated
 * and what is documented cannot drift apart.
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  type ApiErrorBody,
  type ApiGroup,
  type ApiRole,
  type ApiUser,
  isPublicEventType,
  PUBLIC_EVENT_TYPES,
  type PublicEvent,
} from "./types.ts";
import { eventSeq } from "./types.ts";

const time = z.string().openapi({ format: "date-time", example: "2026-12-03T06:35:00.000Z" });
const version = z.string().openapi({
  description:
    "Grows with every change (compare as strings of one width: later is greater). Opaque.",
  example: "0000000000001a2b0000",
});
const attributes = z.record(z.string(), z.unknown()).openapi({
  description: "Every attribute the IdP sent, as received (SCIM names).",
});

/** A role as it appears on a user. */
export const RoleRefSchema = z.object({
  slug: z.string().openapi({ example: "engineering" }),
  name: z.string().openapi({ example: "Engineering" }),
}).openapi("RoleRef");

/** A user as one IdP sees it. */
export const UserIdpSchema = z.object({
  idp_id: z.string(),
  state: z.enum(["active", "inactive"]),
  external_id: z.string().nullable(),
  attributes,
}).openapi("UserIdp");

/** `ApiUser`. */
export const UserSchema = z.object({
  object: z.literal("user"),
  id: z.string().openapi({ example: "5f0c6b1e-8a43-4b59-9d1e-3f5a2e7c9b10" }),
  user_name: z.string().openapi({ example: "ada@example.com" }),
  email: z.string().nullable(),
  first_name: z.string().nullable(),
  last_name: z.string().nullable(),
  display_name: z.string().nullable(),
  custom: z.record(z.string(), z.string()).openapi({
    description: "Custom canonical fields derived by attribute mirroring.",
  }),
  state: z.enum(["active", "inactive"]),
  idp_id: z.string().openapi({ description: "The IdP that provisioned the user." }),
  idps: z.array(UserIdpSchema),
  roles: z.array(RoleRefSchema).openapi({
    description: "Derived from group memberships; empty while the user is inactive.",
  }),
  created_at: time,
  updated_at: time,
  version,
}).openapi("User");

/** `ApiGroup`. */
export const GroupSchema = z.object({
  object: z.literal("group"),
  id: z.string(),
  idp_id: z.string(),
  name: z.string().openapi({ example: "Engineering" }),
  external_id: z.string().nullable(),
  attributes: z.record(z.string(), z.unknown()).openapi({
    description: "Other attributes the IdP sent, as received.",
  }),
  member_count: z.number().int(),
  created_at: time,
  updated_at: time,
  version,
}).openapi("Group");

/** `ApiRole`. */
export const RoleSchema = z.object({
  object: z.literal("role"),
  slug: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  groups: z.array(z.object({ idp_id: z.string(), group_id: z.string() })),
  created_at: time,
  updated_at: time,
}).openapi("Role");

/** What a membership event carries. */
export const MembershipEventDataSchema = z.object({
  user: UserSchema,
  group: GroupSchema,
}).openapi("MembershipEventData");

/** What a role event carries. */
export const RoleEventDataSchema = z.object({
  user: UserSchema,
  role: RoleRefSchema,
}).openapi("RoleEventData");

/** `PublicEvent`. */
export const EventSchema = z.object({
  object: z.literal("event"),
  id: z.string().openapi({
    description: "`evt_` and a 16-digit sequence number: strictly increasing per tenant.",
    example: "evt_0000000000000042",
  }),
  type: z.enum(PUBLIC_EVENT_TYPES),
  occurred_at: time,
  idp_id: z.string().nullable(),
  data: z.union([UserSchema, GroupSchema, MembershipEventDataSchema, RoleEventDataSchema])
    .openapi({
      description:
        "`user.*`: the user after the change; `group.created|updated|deleted`: the group; " +
        "`group.user_*`: the user and the group; `role.*`: the user and the role.",
    }),
  previous_attributes: z.record(z.string(), z.unknown()).optional().openapi({
    description: "On `*.updated`: the changed fields' values before the change.",
  }),
}).openapi("Event");

/** `ApiErrorBody`. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "invalid_request" }),
    message: z.string().openapi({ example: 'Query parameter "limit" must be from 1 to 200' }),
  }),
}).openapi("Error");

/** `ApiList<T>` of `item`. */
export function listOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    object: z.literal("list"),
    data: z.array(item),
    next_cursor: z.string().nullable().openapi({
      description: "Pass as `cursor` to get the next page; null on the last page.",
    }),
  }).openapi(name);
}

/** A page of users. */
export const UserListSchema = listOf(UserSchema, "UserList");
/** A page of groups. */
export const GroupListSchema = listOf(GroupSchema, "GroupList");
/** The roles. */
export const RoleListSchema = listOf(RoleSchema, "RoleList");
/** A page of events. */
export const EventListSchema = z.object({
  object: z.literal("list"),
  data: z.array(EventSchema),
  next_cursor: z.string().nullable().openapi({
    description:
      "The id of the last event read (even when filtered out): pass it as `after` to continue. " +
      "Null when nothing was read.",
  }),
}).openapi("EventList");

// — Parameters —

/** IdP ids are short URL-safe tokens. */
const IDP_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A whole number from 1 to `max` in a query string, `fallback` when absent. */
function limitParam(max: number, fallback: number) {
  return z.string()
    .regex(/^\d{1,4}$/, `must be a whole number from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().min(1, `must be from 1 to ${max}`).max(max, `must be from 1 to ${max}`))
    .optional()
    .default(fallback)
    .openapi({
      param: { name: "limit", in: "query" },
      type: "integer",
      minimum: 1,
      maximum: max,
      default: fallback,
      description: `Items per page, 1–${max} (default ${fallback}).`,
    });
}

/** An opaque page cursor. */
const cursorParam = z.string().min(1, "must not be empty").max(2048, "is too long").optional()
  .openapi({
    param: { name: "cursor", in: "query" },
    description: "The `next_cursor` of the previous page.",
  });

const idpParam = z.string().regex(IDP_ID, "must be an IdP connection id").optional().openapi({
  param: { name: "idp", in: "query" },
  description: "Only those of this IdP connection.",
});

/** Text that must fit a store key (1 KiB). */
function textParam(name: string, description: string) {
  return z.string().min(1, "must not be empty").max(1024, "is too long").optional().openapi({
    param: { name, in: "query" },
    description,
  });
}

/** `GET /users`. */
export const UserListQuery = z.strictObject({
  idp: idpParam,
  state: z.enum(["active", "inactive"], { error: 'must be "active" or "inactive"' }).optional()
    .openapi({
      param: { name: "state", in: "query" },
      description: "`active` or `inactive` (deactivated, or deleted by its IdP).",
    }),
  email: textParam("email", "Work email, case-insensitive."),
  userName: textParam("userName", "userName, case-insensitive."),
  group: textParam("group", "Members of this group (its id)."),
  cursor: cursorParam,
  limit: limitParam(200, 50),
});

/** `GET /groups`. */
export const GroupListQuery = z.strictObject({
  idp: idpParam,
  name: textParam("name", "The group's name, case-insensitive."),
  cursor: cursorParam,
  limit: limitParam(200, 50),
});

/** Paged sub-lists (`/users/{id}/groups`, `/groups/{id}/members`). */
export const PageQuery = z.strictObject({ cursor: cursorParam, limit: limitParam(200, 50) });

/** No query parameters at all. */
export const NoQuery = z.strictObject({});

/** `GET /events`. */
export const EventListQuery = z.strictObject({
  after: z.string().max(64, "is too long").refine((s) => eventSeq(s) !== null, {
    message: "must be an event id (evt_ and 16 digits)",
  }).optional().openapi({
    param: { name: "after", in: "query" },
    description: "Events after this event id (exclusive); absent: from the oldest retained.",
    example: "evt_0000000000000042",
  }),
  types: z.string().max(1024, "is too long").transform((s, ctx) => {
    const types = s.split(",").map((t) => t.trim()).filter(Boolean);
    const unknown = types.filter((t) => !isPublicEventType(t));
    if (!types.length || unknown.length) {
      ctx.addIssue({
        code: "custom",
        message: unknown.length
          ? `names unknown event types (${
            unknown.slice(0, 3).map((t) => JSON.stringify(t))
              .join(", ")
          }); known: ${PUBLIC_EVENT_TYPES.join(", ")}`
          : "must list event types separated by commas",
      });
      return z.NEVER;
    }
    return types.filter(isPublicEventType);
  }).optional().openapi({
    param: { name: "types", in: "query" },
    type: "string",
    description: `Comma-separated event types among ${PUBLIC_EVENT_TYPES.join(", ")}.`,
    example: "user.created,user.updated",
  }),
  idp: idpParam,
  limit: limitParam(500, 100),
});

/** A resource id in the path. */
export const IdParam = z.object({
  id: z.string().min(1).max(1024, "is too long").openapi({
    param: { name: "id", in: "path" },
  }),
});

// Compile-time proof that the schemas produce exactly the contract's shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _shapes: [
  Same<z.infer<typeof UserSchema>, ApiUser>,
  Same<z.infer<typeof GroupSchema>, ApiGroup>,
  Same<z.infer<typeof RoleSchema>, ApiRole>,
  Same<z.infer<typeof ErrorSchema>, ApiErrorBody>,
  Same<z.infer<typeof EventSchema>["type"], PublicEvent["type"]>,
] = [true, true, true, true, true];
void _shapes;
