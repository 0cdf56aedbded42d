/**
 * Attribute definitions of the core User and Group schemas and the Enterprise User extension
 * (RFC 7643 §4.1, §4.2, §4.3, with characteristics as in the §8.7.1 schema representation), the
 * common attributes of RFC 7643 §3.1, and case-insensitive lookup of attribute paths
 * (RFC 7643 §2.1, RFC 7644 §3.10).
 *
 * Deviations from the §8.7.1 listing, all additive: `addresses` has `primary` (RFC 7643 §4.1.2 and
 * the §8.2 example use it), Group `members` has `display` (RFC 7643 §4.2), and Group `displayName`
 * is required (RFC 7643 §4.2 says REQUIRED; the §8.7.1 listing says `false`).
 *
 * Every definition is deeply frozen: the objects are shared by validation, filters, PATCH,
 * projection and the `/Schemas` documents.
 * @module
 */
import type { AttrPath } from "./filter/ast.ts";
import type { AttributeDef, ResourceTypeName, SchemaDef } from "./schema_types.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./urns.ts";
import { deepFreeze } from "../json.ts";

/** Characteristics that differ from the RFC 7643 §2.2 defaults. */
type AttributeOptions = Partial<Omit<AttributeDef, "name" | "description">>;

/** Builds a definition from the RFC 7643 §2.2 defaults (a single-valued, mutable string). */
function attribute(
  name: string,
  description: string,
  options: AttributeOptions = {},
): AttributeDef {
  return {
    name,
    type: "string",
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...options,
  };
}

/** Builds a single-valued complex attribute. */
function complex(
  name: string,
  description: string,
  subAttributes: AttributeDef[],
  options: AttributeOptions = {},
): AttributeDef {
  return attribute(name, description, { type: "complex", ...options, subAttributes });
}

/** Builds a multi-valued complex attribute (RFC 7643 §2.4). */
function multiValued(
  name: string,
  description: string,
  subAttributes: AttributeDef[],
  options: AttributeOptions = {},
): AttributeDef {
  return complex(name, description, subAttributes, { multiValued: true, ...options });
}

/** The `primary` sub-attribute shared by multi-valued attributes (RFC 7643 §2.4). */
function primary(description: string): AttributeDef {
  return attribute("primary", description, { type: "boolean" });
}

/** Common attributes of every resource: `id`, `externalId`, `meta` (RFC 7643 §3.1). */
export const COMMON_ATTRIBUTES: readonly AttributeDef[] = deepFreeze([
  attribute(
    "id",
    "A unique identifier for a SCIM resource as defined by the service provider.",
    { caseExact: true, mutability: "readOnly", returned: "always", uniqueness: "server" },
  ),
  attribute(
    "externalId",
    "A String that is an identifier for the resource as defined by the provisioning client.",
    { caseExact: true },
  ),
  complex("meta", "A complex attribute containing resource metadata.", [
    attribute("resourceType", "The name of the resource type of the resource.", {
      caseExact: true,
      mutability: "readOnly",
    }),
    attribute("created", 'The "DateTime" that the resource was added to the service provider.', {
      type: "dateTime",
      mutability: "readOnly",
    }),
    attribute(
      "lastModified",
      "The most recent DateTime that the details of this resource were updated at the service provider.",
      {
        type: "dateTime",
        mutability: "readOnly",
      },
    ),
    attribute("location", "The URI of the resource being returned.", {
      type: "reference",
      referenceTypes: ["uri"],
      mutability: "readOnly",
    }),
    attribute("version", "The version of the resource being returned.", {
      caseExact: true,
      mutability: "readOnly",
    }),
  ], { mutability: "readOnly" }),
]);

/** The core User schema (RFC 7643 §4.1, §8.7.1). */
export const USER_SCHEMA_DEF: SchemaDef = deepFreeze({
  id: USER_SCHEMA,
  name: "User",
  description: "User Account",
  attributes: [
    attribute(
      "userName",
      "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. Each User MUST include a non-empty userName value. This identifier MUST be unique across the service provider's entire set of Users. REQUIRED.",
      { required: true, uniqueness: "server" },
    ),
    complex("name", "The components of the user's real name.", [
      attribute(
        "formatted",
        "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display (e.g., 'Ms. Barbara J Jensen, III').",
      ),
      attribute(
        "familyName",
        "The family name of the User, or last name in most Western languages (e.g., 'Jensen' given the full name 'Ms. Barbara J Jensen, III').",
      ),
      attribute(
        "givenName",
        "The given name of the User, or first name in most Western languages (e.g., 'Barbara' given the full name 'Ms. Barbara J Jensen, III').",
      ),
      attribute(
        "middleName",
        "The middle name(s) of the User (e.g., 'Jane' given the full name 'Ms. Barbara J Jensen, III').",
      ),
      attribute(
        "honorificPrefix",
        "The honorific prefix(es) of the User, or title in most Western languages (e.g., 'Ms.' given the full name 'Ms. Barbara J Jensen, III').",
      ),
      attribute(
        "honorificSuffix",
        "The honorific suffix(es) of the User, or suffix in most Western languages (e.g., 'III' given the full name 'Ms. Barbara J Jensen, III').",
      ),
    ]),
    attribute(
      "displayName",
      "The name of the User, suitable for display to end-users. The name SHOULD be the full name of the User being described, if known.",
    ),
    attribute(
      "nickName",
      "The casual way to address the user in real life, e.g., 'Bob' or 'Bobby' instead of 'Robert'.",
    ),
    attribute(
      "profileUrl",
      "A fully qualified URL pointing to a page representing the User's online profile.",
      { type: "reference", referenceTypes: ["external"] },
    ),
    attribute("title", 'The user\'s title, such as "Vice President."'),
    attribute(
      "userType",
      "Used to identify the relationship between the organization and the user. Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', 'External', and 'Unknown', but any value may be used.",
    ),
    attribute(
      "preferredLanguage",
      "Indicates the User's preferred written or spoken language. Generally used for selecting a localized user interface; e.g., 'en_US' specifies the language English and country US.",
    ),
    attribute(
      "locale",
      "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations.",
    ),
    attribute(
      "timezone",
      "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'.",
    ),
    attribute("active", "A Boolean value indicating the User's administrative status.", {
      type: "boolean",
    }),
    attribute(
      "password",
      "The User's cleartext password. This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password.",
      { mutability: "writeOnly", returned: "never" },
    ),
    multiValued(
      "emails",
      "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'.",
      [
        attribute(
          "value",
          "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'.",
        ),
        attribute("display", "A human-readable name, primarily used for display purposes."),
        attribute(
          "type",
          "A label indicating the attribute's function, e.g., 'work' or 'home'.",
          { canonicalValues: ["work", "home", "other"] },
        ),
        primary(
          "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address or primary email address. The primary attribute value 'true' MUST appear no more than once.",
        ),
      ],
    ),
    multiValued(
      "phoneNumbers",
      "Phone numbers for the User. Canonical type values of 'work', 'home', 'mobile', 'fax', 'pager', and 'other'.",
      [
        attribute("value", "Phone number of the User."),
        attribute("display", "A human-readable name, primarily used for display purposes."),
        attribute(
          "type",
          "A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'.",
          { canonicalValues: ["work", "home", "mobile", "fax", "pager", "other"] },
        ),
        primary(
          "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred phone number or primary phone number. The primary attribute value 'true' MUST appear no more than once.",
        ),
      ],
    ),
    multiValued("ims", "Instant messaging addresses for the User.", [
      attribute("value", "Instant messaging address for the User."),
      attribute("display", "A human-readable name, primarily used for display purposes."),
      attribute(
        "type",
        "A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'.",
        { canonicalValues: ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"] },
      ),
      primary(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred messenger or primary messenger. The primary attribute value 'true' MUST appear no more than once.",
      ),
    ]),
    multiValued("photos", "URLs of photos of the User.", [
      attribute("value", "URL of a photo of the User.", {
        type: "reference",
        referenceTypes: ["external"],
      }),
      attribute("display", "A human-readable name, primarily used for display purposes."),
      attribute(
        "type",
        "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.",
        { canonicalValues: ["photo", "thumbnail"] },
      ),
      primary(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred photo or thumbnail. The primary attribute value 'true' MUST appear no more than once.",
      ),
    ]),
    multiValued(
      "addresses",
      "A physical mailing address for this User. Canonical type values of 'work', 'home', and 'other'.",
      [
        attribute(
          "formatted",
          "The full mailing address, formatted for display or use with a mailing label. This attribute MAY contain newlines.",
        ),
        attribute(
          "streetAddress",
          "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information. This attribute MAY contain newlines.",
        ),
        attribute("locality", "The city or locality component."),
        attribute("region", "The state or region component."),
        attribute("postalCode", "The zip code or postal code component."),
        attribute("country", "The country name component."),
        attribute(
          "type",
          "A label indicating the attribute's function, e.g., 'work' or 'home'.",
          { canonicalValues: ["work", "home", "other"] },
        ),
        primary(
          "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address. The primary attribute value 'true' MUST appear no more than once.",
        ),
      ],
    ),
    multiValued(
      "groups",
      "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
      [
        attribute("value", "The identifier of the User's group.", { mutability: "readOnly" }),
        attribute(
          "$ref",
          "The URI of the corresponding 'Group' resource to which the user belongs.",
          {
            type: "reference",
            referenceTypes: ["User", "Group"],
            mutability: "readOnly",
          },
        ),
        attribute("display", "A human-readable name, primarily used for display purposes.", {
          mutability: "readOnly",
        }),
        attribute(
          "type",
          "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
          { canonicalValues: ["direct", "indirect"], mutability: "readOnly" },
        ),
      ],
      // Returned when asked for (`attributes=groups`): each costs a read, and no IdP reads them.
      { mutability: "readOnly", returned: "request" },
    ),
    multiValued(
      "entitlements",
      "A list of entitlements for the User that represent a thing the User has.",
      [
        attribute("value", "The value of an entitlement."),
        attribute("display", "A human-readable name, primarily used for display purposes."),
        attribute("type", "A label indicating the attribute's function."),
        primary(
          "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once.",
        ),
      ],
    ),
    multiValued(
      "roles",
      "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
      [
        attribute("value", "The value of a role."),
        attribute("display", "A human-readable name, primarily used for display purposes."),
        attribute("type", "A label indicating the attribute's function."),
        primary(
          "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once.",
        ),
      ],
    ),
    multiValued("x509Certificates", "A list of certificates issued to the User.", [
      attribute("value", "The value of an X.509 certificate.", { type: "binary", caseExact: true }),
      attribute("display", "A human-readable name, primarily used for display purposes."),
      attribute("type", "A label indicating the attribute's function."),
      primary(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once.",
      ),
    ]),
  ],
});

/** The core Group schema (RFC 7643 §4.2, §8.7.1). */
export const GROUP_SCHEMA_DEF: SchemaDef = deepFreeze({
  id: GROUP_SCHEMA,
  name: "Group",
  description: "Group",
  attributes: [
    attribute("displayName", "A human-readable name for the Group. REQUIRED.", { required: true }),
    multiValued("members", "A list of members of the Group.", [
      attribute("value", "Identifier of the member of this Group.", { mutability: "immutable" }),
      attribute(
        "$ref",
        "The URI corresponding to a SCIM resource that is a member of this Group.",
        {
          type: "reference",
          referenceTypes: ["User", "Group"],
          mutability: "immutable",
        },
      ),
      attribute("display", "A human-readable name, primarily used for display purposes.", {
        mutability: "immutable",
      }),
      attribute("type", "A label indicating the type of resource, e.g., 'User' or 'Group'.", {
        canonicalValues: ["User", "Group"],
        mutability: "immutable",
      }),
    ]),
  ],
});

/** The Enterprise User extension (RFC 7643 §4.3, §8.7.1). */
export const ENTERPRISE_USER_SCHEMA_DEF: SchemaDef = deepFreeze({
  id: ENTERPRISE_USER_SCHEMA,
  name: "EnterpriseUser",
  description: "Enterprise User",
  attributes: [
    attribute(
      "employeeNumber",
      "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
    ),
    attribute("costCenter", "Identifies the name of a cost center."),
    attribute("organization", "Identifies the name of an organization."),
    attribute("division", "Identifies the name of a division."),
    attribute("department", "Identifies the name of a department."),
    complex(
      "manager",
      "The User's manager. A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.",
      [
        attribute(
          "value",
          "The id of the SCIM resource representing the User's manager. REQUIRED.",
        ),
        attribute(
          "$ref",
          "The URI of the SCIM resource representing the User's manager. REQUIRED.",
          {
            type: "reference",
            referenceTypes: ["User"],
          },
        ),
        attribute("displayName", "The displayName of the User's manager. OPTIONAL and READ-ONLY.", {
          mutability: "readOnly",
        }),
      ],
    ),
  ],
});

/** Case-insensitive name → definition index of a list of attributes. */
function indexByName(attributes: readonly AttributeDef[]): ReadonlyMap<string, AttributeDef> {
  return new Map(attributes.map((def) => [def.name.toLowerCase(), def]));
}

const USER_CORE_INDEX = indexByName([...USER_SCHEMA_DEF.attributes, ...COMMON_ATTRIBUTES]);
const GROUP_CORE_INDEX = indexByName([...GROUP_SCHEMA_DEF.attributes, ...COMMON_ATTRIBUTES]);
const ENTERPRISE_INDEX = indexByName(ENTERPRISE_USER_SCHEMA_DEF.attributes);

/** Sub-attribute indexes of every complex attribute, built once. */
const SUB_INDEX = new WeakMap<AttributeDef, ReadonlyMap<string, AttributeDef>>();
for (
  const def of [
    ...COMMON_ATTRIBUTES,
    ...USER_SCHEMA_DEF.attributes,
    ...GROUP_SCHEMA_DEF.attributes,
    ...ENTERPRISE_USER_SCHEMA_DEF.attributes,
  ]
) {
  if (def.subAttributes) SUB_INDEX.set(def, indexByName(def.subAttributes));
}

const EXTENSIONS: Record<ResourceTypeName, readonly string[]> = {
  User: Object.freeze([ENTERPRISE_USER_SCHEMA]),
  Group: Object.freeze([]),
};

/** The core schema URN of a resource type (`urn:ietf:params:scim:schemas:core:2.0:User`). */
export function coreSchemaUrn(resourceType: ResourceTypeName): string {
  return resourceType === "User" ? USER_SCHEMA : GROUP_SCHEMA;
}

/** The schema extension URNs a resource type supports (the Enterprise User extension for `User`). */
export function extensionUrns(resourceType: ResourceTypeName): readonly string[] {
  return EXTENSIONS[resourceType];
}

/** The schema definitions of a resource type: its core schema first, then its extensions. */
export function schemaDefs(resourceType: ResourceTypeName): readonly SchemaDef[] {
  return resourceType === "User"
    ? [USER_SCHEMA_DEF, ENTERPRISE_USER_SCHEMA_DEF]
    : [GROUP_SCHEMA_DEF];
}

/** The canonical spelling of a core or extension schema URN of `resourceType`, matched case-insensitively. */
export function canonicalSchemaUrn(
  resourceType: ResourceTypeName,
  urn: string,
): string | undefined {
  const lower = urn.toLowerCase();
  const core = coreSchemaUrn(resourceType);
  if (core.toLowerCase() === lower) return core;
  return EXTENSIONS[resourceType].find((extension) => extension.toLowerCase() === lower);
}

/**
 * The first extension of `resourceType` that defines the attribute `attr`, with its definition.
 * RFC 7644 §3.10 lets a client leave out the URN of an extension attribute whose name no core
 * attribute has; Entra sends its manager as a bare `manager` (idp-behaviour E5).
 */
export function extensionDefining(
  resourceType: ResourceTypeName,
  attr: string,
): { urn: string; def: AttributeDef } | undefined {
  for (const urn of EXTENSIONS[resourceType]) {
    const def = findAttribute(resourceType, { uri: urn, attr });
    if (def !== undefined) return { urn, def };
  }
  return undefined;
}

/**
 * The key of the extension object that a path or pathless PATCH key names as a whole, if any: a
 * known extension URN (any case; returned canonical), or an unknown `urn:…:<resourceType>` other
 * than the core URN, kept as written (a custom extension, e.g. Entra's
 * `urn:ietf:params:scim:schemas:extension:<name>:2.0:User`).
 */
export function wholeExtensionKey(
  resourceType: ResourceTypeName,
  text: string,
): string | undefined {
  const lower = text.toLowerCase();
  const known = EXTENSIONS[resourceType].find((urn) => urn.toLowerCase() === lower);
  if (known !== undefined) return known;
  if (!lower.startsWith("urn:") || lower === coreSchemaUrn(resourceType).toLowerCase()) {
    return undefined;
  }
  const last = lower.slice(lower.lastIndexOf(":") + 1);
  return last === resourceType.toLowerCase() ? text : undefined;
}

/**
 * The key of the extension object holding an attribute whose path has the URN prefix `uri`:
 * `undefined` for none or the core schema (whose prefix is stripped, RFC 7644 §3.10), a known
 * extension canonical, any other as written.
 */
export function extensionKeyOfUri(
  resourceType: ResourceTypeName,
  uri: string | undefined,
): string | undefined {
  if (uri === undefined) return undefined;
  const lower = uri.toLowerCase();
  if (lower === coreSchemaUrn(resourceType).toLowerCase()) return undefined;
  return EXTENSIONS[resourceType].find((urn) => urn.toLowerCase() === lower) ?? uri;
}

/** The sub-attribute `name` (case-insensitive) of a complex attribute; `undefined` for simple types. */
export function findSubAttribute(parent: AttributeDef, name: string): AttributeDef | undefined {
  return SUB_INDEX.get(parent)?.get(name.toLowerCase()) ??
    parent.subAttributes?.find((sub) => sub.name.toLowerCase() === name.toLowerCase());
}

/** The attributes addressed by a schema URN of `resourceType`, or `undefined` for other URNs. */
function indexFor(
  resourceType: ResourceTypeName,
  uri: string | undefined,
): ReadonlyMap<string, AttributeDef> | undefined {
  const core = resourceType === "User" ? USER_CORE_INDEX : GROUP_CORE_INDEX;
  if (uri === undefined) return core;
  const urn = canonicalSchemaUrn(resourceType, uri);
  if (urn === undefined) return undefined;
  if (urn === ENTERPRISE_USER_SCHEMA) return ENTERPRISE_INDEX;
  return core;
}

/**
 * The definition an attribute path names, matched case-insensitively; `undefined` when unknown.
 *
 * Without `uri`, or with the core schema URN, the core and common attributes are searched; with the
 * Enterprise User URN (User only), the extension's.
 */
export function findAttribute(
  resourceType: ResourceTypeName,
  path: AttrPath,
): AttributeDef | undefined {
  const def = indexFor(resourceType, path.uri)?.get(path.attr.toLowerCase());
  if (def === undefined || path.sub === undefined) return def;
  return findSubAttribute(def, path.sub);
}

const LOOKUPS: Record<ResourceTypeName, (path: AttrPath) => AttributeDef | undefined> = {
  User: (path) => findAttribute("User", path),
  Group: (path) => findAttribute("Group", path),
};

/** A memoised `findAttribute` bound to one resource type (one function per type, shared). */
export function attributeLookup(
  resourceType: ResourceTypeName,
): (path: AttrPath) => AttributeDef | undefined {
  return LOOKUPS[resourceType];
}

/**
 * Splits an attribute name as written in a query or body key into an {@linkcode AttrPath}:
 * `name.givenName`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
 *
 * A URN prefix is everything up to the last `:`; the sub-attribute follows the first `.` after it.
 * Names keep the case they were written in.
 */
export function splitAttributeName(name: string): AttrPath {
  let uri: string | undefined;
  let rest = name;
  if (name.toLowerCase().startsWith("urn:")) {
    const colon = name.lastIndexOf(":");
    uri = name.slice(0, colon);
    rest = name.slice(colon + 1);
  }
  const dot = rest.indexOf(".");
  const attr = dot === -1 ? rest : rest.slice(0, dot);
  const sub = dot === -1 ? undefined : rest.slice(dot + 1);
  const path: AttrPath = { attr };
  if (uri !== undefined) path.uri = uri;
  if (sub !== undefined) path.sub = sub;
  return path;
}
