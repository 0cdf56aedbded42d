/**
 * Attribute mirroring: which SCIM attributes an IdP sends become the user's canonical fields.
 * Everything received stays on the IdP attribute row; this only derives the canonical record.
 * @module
 */
import { z } from "zod";
import { keys } from "./keys.ts";
import { withLockRetry } from "./kv.ts";
import type { IdpUser, MirroringConfig, User } from "./types.ts";
import { selectValues } from "../scim/filter/select.ts";
import { parsePath } from "../scim/filter/parser.ts";
import { addEvent } from "./events.ts";
import { ENTERPRISE_USER_SCHEMA } from "../scim/urns.ts";
import { canonicalSourcePath } from "../scim/source_path.ts";

/** Canonical fields every user has; anything else is a custom field. */
export const CORE_FIELDS = ["userName", "email", "firstName", "lastName", "displayName"] as const;

/** The mirroring a new tenant starts with. */
export const DEFAULT_MIRRORING: MirroringConfig = {
  rules: [
    { field: "userName", sources: ["userName"], enabled: true },
    {
      field: "email",
      sources: ['emails[type eq "work"].value', "emails[primary eq true].value", "emails.value"],
      enabled: true,
    },
    { field: "firstName", sources: ["name.givenName"], enabled: true },
    { field: "lastName", sources: ["name.familyName"], enabled: true },
    { field: "displayName", sources: ["displayName"], enabled: true },
    { field: "department", sources: [`${ENTERPRISE_USER_SCHEMA}:department`], enabled: true },
  ],
};

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** The zod contract of a mirroring configuration (admin console and CLI input). */
export const MirroringSchema = z.object({
  rules: z.array(z.object({
    field: z.string().regex(FIELD_NAME, "must be a letter then letters, digits or _"),
    // `urn:…:User.department`, as attribute lists often show it, is kept as `urn:…:User:department`.
    sources: z.array(z.string().min(1).max(500).transform(canonicalSourcePath)).min(1).max(5),
    enabled: z.boolean(),
  })).max(50),
}).superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.rules.forEach((rule, i) => {
    if (seen.has(rule.field)) {
      ctx.addIssue({ code: "custom", path: ["rules", i, "field"], message: "is defined twice" });
    }
    seen.add(rule.field);
    rule.sources.forEach((source, j) => {
      try {
        parsePath(source);
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", i, "sources", j],
          message: error instanceof Error ? error.message : "is not a SCIM path",
        });
      }
    });
  });
  if (!config.rules.some((r) => r.field === "userName" && r.enabled)) {
    ctx.addIssue({ code: "custom", path: ["rules"], message: "must mirror userName" });
  }
});

/** The tenant's mirroring configuration (defaults when never set). */
export async function getMirroring(kv: Deno.Kv, tenantId: string): Promise<MirroringConfig> {
  return (await kv.get<MirroringConfig>(keys.setting(tenantId, "mirroring"))).value ??
    DEFAULT_MIRRORING;
}

/** Stores a validated mirroring configuration; throws `z.ZodError` on invalid input. */
export async function setMirroring(
  kv: Deno.Kv,
  tenantId: string,
  input: unknown,
  actor: string,
): Promise<MirroringConfig> {
  const config = MirroringSchema.parse(input);
  const op = kv.atomic().set(keys.setting(tenantId, "mirroring"), config);
  addEvent(op, { tenantId, actor }, {
    type: "mirroring_updated",
    target: { kind: "tenant", id: tenantId },
    changed: config.rules.map((r) => r.field),
    summary: "Attribute mirroring configuration changed",
  });
  await withLockRetry(() => op.commit());
  return config;
}

/** The first non-empty string a rule's sources yield from the IdP row. */
function firstValue(link: IdpUser, sources: string[]): { value: string; source: string } | null {
  for (const written of sources) {
    // Configurations saved before paths were kept in one form may hold the dotted one.
    const source = canonicalSourcePath(written);
    const values = source.toLowerCase() === "externalid"
      ? [link.externalId]
      : selectValues(link.resource, source, "User");
    for (const v of values) {
      if (typeof v === "string" && v !== "") return { value: v, source };
      if (typeof v === "number" || typeof v === "boolean") return { value: String(v), source };
    }
  }
  return null;
}

/** Derives the canonical user from the IdP row; `previous` keeps id, creation time and source. */
export function deriveUser(
  link: IdpUser,
  config: MirroringConfig,
  tenantId: string,
  previous: User | null,
  now: string,
): User {
  const user: User = {
    id: link.userId,
    tenantId,
    sourceIdpId: previous?.sourceIdpId ?? link.idpId,
    status: link.active ? "active" : "deactivated",
    userName: String(link.resource.userName ?? previous?.userName ?? ""),
    custom: {},
    mirroredFrom: {},
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
  };
  for (const rule of config.rules) {
    if (!rule.enabled) continue;
    const hit = firstValue(link, rule.sources);
    if (!hit) continue;
    user.mirroredFrom[rule.field] = hit.source;
    if ((CORE_FIELDS as readonly string[]).includes(rule.field)) {
      (user as unknown as Record<string, string>)[rule.field] = hit.value;
    } else {
      user.custom[rule.field] = hit.value;
    }
  }
  return user;
}
