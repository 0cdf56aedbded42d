/**
 * Operator CLI: `deno task weft <command>`. Tenants, IdP connections and their SAML settings, SCIM
 * tokens and directory API keys (plaintext shown once), attribute mirroring, the event log, and ending sessions, straight
 * on the store.
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig } from "./lib/config.ts";
import { openStore } from "./lib/store/open.ts";
import {
  ConflictError,
  createIdp,
  createTenant,
  createToken,
  getTenantBySubdomain,
  listIdps,
  listTenants,
  listTokens,
  revokeToken,
  updateIdp,
} from "./lib/store/tenants.ts";
import { getMirroring, setMirroring } from "./lib/store/mirroring.ts";
import { EVENT_TYPES, type EventType } from "./lib/audit/events.ts";
import { listEvents } from "./lib/store/events.ts";
import { publicOrigin, scimBaseUrl } from "./lib/bootstrap.ts";
import {
  ADMIN_ROLES,
  getAdminByEmail,
  listAdmins,
  listSetupLinks,
  revokeSetupLink,
} from "./lib/store/admins.ts";
import { createSetupLink } from "./lib/auth/admin.ts";
import { revokeAdminSessions } from "./lib/store/admin_sessions.ts";
import { type Idp, IDP_KINDS, type Tenant } from "./lib/store/types.ts";
import { getIdp } from "./lib/store/tenants.ts";
import { emptySamlSettings, getSamlSettings, updateSamlSettings } from "./lib/store/saml.ts";
import { MetadataError, parseIdpMetadata } from "./lib/saml/metadata.ts";
import { describeCertificate, readCertificates } from "./lib/saml/x509.ts";
import { spUrls } from "./lib/saml/sp.ts";
import { revokePersonSessions } from "./lib/store/person_sessions.ts";
import { getUser } from "./lib/store/users.ts";
import {
  DATA_OPTIONS,
  DATA_USAGE,
  DataUsageError,
  isDataCommand,
  runDataCommand,
} from "./lib/ops/commands.ts";
import { NewerStoreError, refuseNewerStore } from "./lib/store/migrations.ts";
import { apiKeyState, createApiKey, listApiKeys, revokeApiKey } from "./lib/store/api_keys.ts";
import { API_SCOPES, type ApiScope, isApiScope } from "./lib/auth/api_keys.ts";
import {
  runWebhookCommand,
  WEBHOOK_OPTIONS,
  WEBHOOK_USAGE,
  WebhookUsageError,
} from "./lib/ops/webhook_commands.ts";
import { createRole, deleteRole, listRoles, setRoleMapping } from "./lib/store/roles.ts";

const USAGE = `Usage: deno task weft <command> [options]

  tenant create <subdomain> [--name <name>]
  tenant list
  idp create --tenant <subdomain> --name <name> [--kind ${IDP_KINDS.join("|")}]
             [--match-by externalId|userName]   (default: userName for entra, externalId otherwise)
             [--deprovisioning unlink|delete]    (what a SCIM DELETE does; default unlink)
  idp list --tenant <subdomain>
  idp show --tenant <subdomain> --idp <idp-id>
  idp deprovisioning --tenant <subdomain> --idp <idp-id> --policy unlink|delete
  idp saml --tenant <subdomain> --idp <idp-id>
           (--metadata-file <xml> | --entity-id <issuer> --sso-url <url> --cert-file <pem> [--cert-file <pem>…])
           [--idp-initiated true|false] [--jit true|false]
  token create --tenant <subdomain> --idp <idp-id> --name <name> [--expires-days <n>]
  token list --tenant <subdomain> --idp <idp-id>
  token revoke --tenant <subdomain> --idp <idp-id> --token <token-id>
  apikey create --tenant <subdomain> --name <name> [--scopes ${API_SCOPES.join(",")}]
                [--expires-days <n>]
  apikey list --tenant <subdomain>
  apikey revoke --tenant <subdomain> --key <key-id>
  mirroring show --tenant <subdomain>
  mirroring set --tenant <subdomain> --file <config.json>
  events --tenant <subdomain> [--idp <idp-id>] [--type <event type>] [--limit <n>]
  admin setup-link --tenant <subdomain> [--role super_admin|admin] [--email <email>]
  admin list --tenant <subdomain>
  admin revoke-sessions --tenant <subdomain> --email <email>
  admin links --tenant <subdomain>
  admin revoke-link --tenant <subdomain> --link <link-id>
  user revoke-sessions --tenant <subdomain> --user <user-id>
${WEBHOOK_USAGE}
  role create --tenant <subdomain> --slug <slug> --name <name> [--description <text>]
  role delete --tenant <subdomain> --role <slug>
  role map --tenant <subdomain> --role <slug> --idp <idp-id> --group <group id or displayName>
  role unmap --tenant <subdomain> --role <slug> --idp <idp-id> --group <group id or displayName>
  role list --tenant <subdomain>
${DATA_USAGE}`;

const DEPROVISIONING = z.enum(["unlink", "delete"]);

const DEPROVISIONING_WORDS = {
  unlink: "deactivates the user and unlinks it from this IdP; the user and its history stay",
  delete: "deletes the user and erases its names from the audit trail",
} as const;

function out(text: string) {
  // deno-lint-ignore no-console
  console.log(text);
}

class UsageError extends Error {}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`Missing --${name}`);
  return value;
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      tenant: { type: "string" },
      idp: { type: "string" },
      name: { type: "string" },
      kind: { type: "string" },
      "match-by": { type: "string" },
      deprovisioning: { type: "string" },
      policy: { type: "string" },
      token: { type: "string" },
      key: { type: "string" },
      scopes: { type: "string" },
      file: { type: "string" },
      type: { type: "string" },
      limit: { type: "string" },
      "expires-days": { type: "string" },
      role: { type: "string" },
      email: { type: "string" },
      link: { type: "string" },
      user: { type: "string" },
      "metadata-file": { type: "string" },
      "entity-id": { type: "string" },
      "sso-url": { type: "string" },
      "cert-file": { type: "string", multiple: true },
      "idp-initiated": { type: "string" },
      jit: { type: "string" },
      slug: { type: "string" },
      description: { type: "string" },
      group: { type: "string" },
      help: { type: "boolean", short: "h" },
      ...DATA_OPTIONS,
      ...WEBHOOK_OPTIONS,
    },
  });
  const [group, action, arg] = positionals;
  if (values.help || !group) {
    out(USAGE);
    return group ? 0 : 2;
  }
  const config = loadConfig();
  let kv: Deno.Kv;
  try {
    kv = await openStore(config.kvPath);
  } catch (error) {
    // deno-lint-ignore no-console
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  try {
    // A store written by a newer Weft holds records this one may not understand.
    await refuseNewerStore(kv);
    const dataCommand = action ? `${group} ${action}` : group;
    if (isDataCommand(dataCommand)) {
      return await runDataCommand(dataCommand, values, kv, config.kvPath);
    }
    const tenantOf = async (): Promise<Tenant> => {
      const sub = required(values.tenant, "tenant");
      const tenant = await getTenantBySubdomain(kv, sub);
      if (!tenant) throw new UsageError(`No tenant "${sub}"`);
      return tenant;
    };
    if (group === "webhook") {
      const tenant = await tenantOf();
      for (const line of await runWebhookCommand(action, values, kv, config, tenant)) out(line);
      return 0;
    }
    const command = action && group !== "events" ? `${group} ${action}` : group;
    switch (command) {
      case "tenant create": {
        const tenant = await createTenant(kv, {
          subdomain: required(arg, "subdomain"),
          name: values.name,
        });
        out(`Created tenant ${tenant.subdomain} (${tenant.id})`);
        return 0;
      }
      case "tenant list":
        for (const t of await listTenants(kv)) out(`${t.subdomain}\t${t.id}\t${t.name}`);
        return 0;
      case "idp create": {
        const tenant = await tenantOf();
        const kind = z.enum(IDP_KINDS).safeParse(values.kind ?? "generic");
        if (!kind.success) throw new UsageError(`--kind must be one of ${IDP_KINDS.join(", ")}`);
        const matchBy = z.enum(["externalId", "userName"]).optional().safeParse(values["match-by"]);
        if (!matchBy.success) throw new UsageError("--match-by must be externalId or userName");
        const policy = DEPROVISIONING.optional().safeParse(values.deprovisioning);
        if (!policy.success) throw new UsageError("--deprovisioning must be unlink or delete");
        const idp = await createIdp(kv, tenant.id, {
          name: required(values.name, "name"),
          kind: kind.data,
          matchBy: matchBy.data,
          deprovisioning: policy.data,
        });
        out(
          `Created IdP ${idp.id} (${idp.kind})\nSCIM base URL: ${
            scimBaseUrl(config, tenant.subdomain, idp.id)
          }`,
        );
        return 0;
      }
      case "idp list": {
        const tenant = await tenantOf();
        for (const idp of await listIdps(kv, tenant.id)) {
          out(
            `${idp.id}\t${idp.kind}\t${idp.name}\t${scimBaseUrl(config, tenant.subdomain, idp.id)}`,
          );
        }
        return 0;
      }
      case "idp show": {
        const tenant = await tenantOf();
        const idp = await idpOf(kv, tenant, values.idp);
        out(await describeIdp(kv, config, tenant, idp));
        return 0;
      }
      case "idp deprovisioning": {
        const tenant = await tenantOf();
        const idp = await idpOf(kv, tenant, values.idp);
        const policy = DEPROVISIONING.safeParse(values.policy);
        if (!policy.success) throw new UsageError("--policy must be unlink or delete");
        await updateIdp(kv, tenant.id, idp.id, { deprovisioning: policy.data }, "cli");
        out(`IdP ${idp.id}: a SCIM DELETE now ${DEPROVISIONING_WORDS[policy.data]}`);
        return 0;
      }
      case "idp saml": {
        const tenant = await tenantOf();
        const idp = await idpOf(kv, tenant, values.idp);
        const flag = (name: "idp-initiated" | "jit") => {
          const v = values[name];
          if (v === undefined) return undefined;
          if (v !== "true" && v !== "false") {
            throw new UsageError(`--${name} must be true or false`);
          }
          return v === "true";
        };
        const idpInitiated = flag("idp-initiated");
        const jit = flag("jit");
        let fields: { entityId: string; ssoUrl: string; certificates: string[] };
        const manual = values["entity-id"] || values["sso-url"] || values["cert-file"]?.length;
        if (values["metadata-file"] && manual) {
          throw new UsageError("Give --metadata-file, or --entity-id, --sso-url and --cert-file");
        }
        if (values["metadata-file"]) {
          try {
            fields = await parseIdpMetadata(await Deno.readTextFile(values["metadata-file"]));
          } catch (error) {
            if (error instanceof MetadataError) throw new UsageError(error.message);
            throw error;
          }
        } else {
          const entityId = required(values["entity-id"], "entity-id");
          const ssoUrl = z.url({ protocol: /^https?$/ }).safeParse(
            required(values["sso-url"], "sso-url"),
          );
          if (!ssoUrl.success) throw new UsageError("--sso-url must be an http(s) URL");
          const files = values["cert-file"] ?? [];
          if (files.length === 0) throw new UsageError("Missing --cert-file");
          const certificates: string[] = [];
          for (const file of files) {
            const found = readCertificates(await Deno.readTextFile(file));
            if (found.length === 0) throw new UsageError(`${file} holds no readable certificate`);
            certificates.push(...found);
          }
          fields = { entityId, ssoUrl: ssoUrl.data, certificates: [...new Set(certificates)] };
        }
        await updateSamlSettings(kv, { tenantId: tenant.id, idpId: idp.id, actor: "cli" }, (s) => ({
          ...s,
          ...fields,
          idpInitiated: idpInitiated ?? s.idpInitiated,
          jit: jit ?? s.jit,
        }), "SAML settings set from the CLI");
        const urls = spUrls(publicOrigin(config, tenant.subdomain), idp.id);
        out(
          `SAML settings saved for IdP ${idp.id} (${idp.name}).\n` +
            `SP entity ID (Audience URI): ${urls.entityId}\n` +
            `ACS URL (Single sign-on URL): ${urls.acsUrl}\n` +
            `Metadata URL: ${urls.metadataUrl}`,
        );
        return 0;
      }
      case "user revoke-sessions": {
        const tenant = await tenantOf();
        const userId = required(values.user, "user");
        if (!(await getUser(kv, tenant.id, userId))) throw new UsageError(`No user "${userId}"`);
        const n = await revokePersonSessions(kv, { tenantId: tenant.id, actor: "cli" }, userId);
        out(`Ended ${n} sign-in session(s).`);
        return 0;
      }
      case "token create": {
        const tenant = await tenantOf();
        const days = values["expires-days"] ? Number(values["expires-days"]) : undefined;
        if (days !== undefined && !(Number.isInteger(days) && days > 0)) {
          throw new UsageError("--expires-days must be a positive whole number");
        }
        const { token, secret } = await createToken(kv, tenant.id, required(values.idp, "idp"), {
          name: required(values.name, "name"),
          createdBy: "cli",
          expiresAt: days ? new Date(Date.now() + days * 86_400_000).toISOString() : undefined,
        });
        out(
          `Created token ${token.id} "${token.name}". Copy it now: it cannot be shown again.\n${secret}`,
        );
        return 0;
      }
      case "token list": {
        const tenant = await tenantOf();
        for (const t of await listTokens(kv, tenant.id, required(values.idp, "idp"))) {
          const status = t.revokedAt
            ? `revoked ${t.revokedAt}`
            : t.expiresAt && Date.parse(t.expiresAt) < Date.now()
            ? "expired"
            : "active";
          out(
            `${t.id}\t${t.name}\t${t.prefix}…\t${status}\tcreated ${t.createdAt}\tlast used ${
              t.lastUsed ? `${t.lastUsed.at} from ${t.lastUsed.ip}` : "never"
            }`,
          );
        }
        return 0;
      }
      case "token revoke": {
        const tenant = await tenantOf();
        const ok = await revokeToken(
          kv,
          tenant.id,
          required(values.idp, "idp"),
          required(values.token, "token"),
          "cli",
        );
        out(ok ? "Revoked." : "No such active token.");
        return ok ? 0 : 1;
      }
      case "apikey create": {
        const tenant = await tenantOf();
        const days = expiryDays(values["expires-days"]);
        const { key, secret } = await createApiKey(kv, tenant.id, {
          name: required(values.name, "name"),
          scopes: scopesOf(values.scopes),
          createdBy: "cli",
          expiresAt: days ? new Date(Date.now() + days * 86_400_000).toISOString() : undefined,
        });
        out(
          `Created API key ${key.id} "${key.name}" (${
            key.scopes.join(", ")
          }). Copy it now: it cannot be shown again.\n${secret}`,
        );
        return 0;
      }
      case "apikey list": {
        const tenant = await tenantOf();
        for (const k of await listApiKeys(kv, tenant.id)) {
          const state = apiKeyState(k);
          out(
            `${k.id}\t${k.name}\t${k.prefix}…\t${k.scopes.join(",")}\t${
              state === "revoked" ? `revoked ${k.revokedAt}` : state
            }\tcreated ${k.createdAt}\texpires ${k.expiresAt ?? "never"}\tlast used ${
              k.lastUsed ? `${k.lastUsed.at} from ${k.lastUsed.ip}` : "never"
            }`,
          );
        }
        return 0;
      }
      case "apikey revoke": {
        const tenant = await tenantOf();
        const ok = await revokeApiKey(kv, tenant.id, required(values.key, "key"), {
          actor: "cli",
        });
        out(ok ? "Revoked: the key no longer works." : "No such active API key.");
        return ok ? 0 : 1;
      }
      case "mirroring show": {
        const tenant = await tenantOf();
        out(JSON.stringify(await getMirroring(kv, tenant.id), null, 2));
        return 0;
      }
      case "mirroring set": {
        const tenant = await tenantOf();
        const text = await Deno.readTextFile(required(values.file, "file"));
        try {
          await setMirroring(kv, tenant.id, JSON.parse(text), "cli");
        } catch (error) {
          if (error instanceof z.ZodError) {
            throw new UsageError(
              error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"),
            );
          }
          throw error;
        }
        out("Mirroring updated.");
        return 0;
      }
      case "events": {
        const tenant = await tenantOf();
        if (values.type && !(EVENT_TYPES as readonly string[]).includes(values.type)) {
          throw new UsageError(`--type must be one of ${EVENT_TYPES.join(", ")}`);
        }
        const { events } = await listEvents(kv, tenant.id, {
          idpId: values.idp,
          type: values.type as EventType | undefined,
          limit: values.limit ? Number(values.limit) : 50,
        });
        for (const e of events) {
          out(`${e.at}\t${e.type}\t${e.idpId ?? "-"}\t${e.target?.id ?? "-"}\t${e.summary}`);
        }
        return 0;
      }
      case "admin setup-link": {
        const tenant = await tenantOf();
        const role = z.enum(ADMIN_ROLES).safeParse(values.role ?? "super_admin");
        if (!role.success) throw new UsageError("--role must be super_admin or admin");
        const { url, link } = await createSetupLink(
          kv,
          tenant.id,
          publicOrigin(config, tenant.subdomain),
          { role: role.data, email: values.email, createdBy: "cli" },
        );
        out(
          `One-time setup link for a ${role.data} of ${tenant.subdomain} (expires ${link.expiresAt}):\n${url}`,
        );
        return 0;
      }
      case "admin list": {
        const tenant = await tenantOf();
        for (const a of await listAdmins(kv, tenant.id)) {
          out(`${a.id}\t${a.email}\t${a.role}\tcreated ${a.createdAt}`);
        }
        return 0;
      }
      case "admin revoke-sessions": {
        const tenant = await tenantOf();
        const admin = await getAdminByEmail(kv, tenant.id, required(values.email, "email"));
        if (!admin) throw new UsageError(`No admin "${values.email}"`);
        out(`Revoked ${await revokeAdminSessions(kv, tenant.id, admin.id)} session(s).`);
        return 0;
      }
      case "admin links": {
        const tenant = await tenantOf();
        for (const l of await listSetupLinks(kv, tenant.id)) {
          out(
            `${l.id}\t${l.role}\t${l.email ?? "any email"}\t${
              l.firstRun ? "first run" : "invite"
            }\tcreated ${l.createdAt} by ${l.createdBy}\texpires ${l.expiresAt}`,
          );
        }
        return 0;
      }
      case "admin revoke-link": {
        const tenant = await tenantOf();
        const ok = await revokeSetupLink(kv, tenant.id, required(values.link, "link"), "cli");
        out(ok ? "Revoked: the link no longer works." : "No such pending setup link.");
        return ok ? 0 : 1;
      }
      case "role create": {
        const tenant = await tenantOf();
        const role = await createRole(kv, tenant.id, {
          slug: required(values.slug, "slug"),
          name: required(values.name, "name"),
          description: values.description,
        }, "cli");
        out(`Created role ${role.slug} (${role.name})`);
        return 0;
      }
      case "role delete": {
        const tenant = await tenantOf();
        await deleteRole(kv, tenant.id, required(values.role, "role"), "cli");
        out(`Deleted role ${values.role}: its members lose it.`);
        return 0;
      }
      case "role map":
      case "role unmap": {
        const tenant = await tenantOf();
        const idp = await idpOf(kv, tenant, values.idp);
        const mapped = action === "map";
        const { group, changed } = await setRoleMapping(kv, tenant.id, {
          slug: required(values.role, "role"),
          idpId: idp.id,
          group: required(values.group, "group"),
          mapped,
        }, "cli");
        const what = `group "${group.displayName}" (${group.id}) ${
          mapped ? "to" : "from"
        } role ${values.role}`;
        out(changed ? `${mapped ? "Mapped" : "Unmapped"} ${what}` : `Unchanged: ${what}`);
        return 0;
      }
      case "role list": {
        const tenant = await tenantOf();
        for (const r of await listRoles(kv, tenant.id)) {
          const groups = r.groups.map((g) => `${g.idp_id}/${g.group_id}`).join(",") || "-";
          out(`${r.slug}\t${r.name}\t${groups}\t${r.description ?? ""}`);
        }
        return 0;
      }
      default:
        throw new UsageError(`Unknown command "${positionals.join(" ")}"`);
    }
  } catch (error) {
    if (
      error instanceof UsageError || error instanceof RangeError ||
      error instanceof ConflictError || error instanceof DataUsageError ||
      error instanceof WebhookUsageError
    ) {
      // deno-lint-ignore no-console
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof NewerStoreError) {
      // deno-lint-ignore no-console
      console.error(error.message);
      return 1;
    }
    throw error;
  } finally {
    kv.close();
  }
}

/** `--expires-days`: a positive whole number, or none. */
function expiryDays(value: string | undefined): number | undefined {
  const days = value ? Number(value) : undefined;
  if (days !== undefined && !(Number.isInteger(days) && days > 0)) {
    throw new UsageError("--expires-days must be a positive whole number");
  }
  return days;
}

/** `--scopes a,b`: known scopes, or none (every scope). */
function scopesOf(value: string | undefined): ApiScope[] | undefined {
  if (value === undefined) return undefined;
  const scopes = value.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = scopes.filter((s) => !isApiScope(s));
  if (!scopes.length || unknown.length) {
    throw new UsageError(
      `--scopes must list scopes among ${API_SCOPES.join(", ")}${
        unknown.length ? ` (unknown: ${unknown.map((s) => JSON.stringify(s)).join(", ")})` : ""
      }`,
    );
  }
  return scopes as ApiScope[];
}

async function idpOf(kv: Deno.Kv, tenant: Tenant, idpId: string | undefined): Promise<Idp> {
  const id = required(idpId, "idp");
  const idp = await getIdp(kv, tenant.id, id);
  if (!idp) throw new UsageError(`No IdP "${id}" in tenant "${tenant.subdomain}"`);
  return idp;
}

/** `idp show`: the connection with its SCIM and SAML values, one `name: value` a line. */
async function describeIdp(
  kv: Deno.Kv,
  config: ReturnType<typeof loadConfig>,
  tenant: Tenant,
  idp: Idp,
): Promise<string> {
  const tokens = await listTokens(kv, tenant.id, idp.id);
  const active = tokens.filter((t) =>
    !t.revokedAt && !(t.expiresAt && Date.parse(t.expiresAt) <= Date.now())
  );
  const s = (await getSamlSettings(kv, tenant.id, idp.id)) ?? emptySamlSettings(tenant.id, idp.id);
  const urls = spUrls(publicOrigin(config, tenant.subdomain), idp.id);
  const lines = [
    `IdP ${idp.id}`,
    `  name: ${idp.name}`,
    `  kind: ${idp.kind}`,
    `  created: ${idp.createdAt}`,
    "SCIM",
    `  enabled: ${idp.scimEnabled}`,
    `  base URL: ${scimBaseUrl(config, tenant.subdomain, idp.id)}`,
    `  match users by: ${idp.matchBy}`,
    `  on a SCIM DELETE: ${idp.deprovisioning ?? "unlink"} (${
      DEPROVISIONING_WORDS[idp.deprovisioning ?? "unlink"]
    })`,
    `  tokens: ${active.length} active, ${tokens.length - active.length} revoked or expired`,
    "SAML",
    `  SP entity ID (Audience URI): ${urls.entityId}`,
    `  ACS URL (Single sign-on URL): ${urls.acsUrl}`,
    `  metadata URL: ${urls.metadataUrl}`,
    `  sign-in URL: ${urls.loginUrl}`,
    `  IdP entity ID: ${s.entityId ?? "-"}`,
    `  IdP SSO URL: ${s.ssoUrl ?? "-"}`,
    `  IdP-initiated sign-in: ${s.idpInitiated}`,
    `  just-in-time creation: ${s.jit}`,
    `  match users by: ${s.matchAttribute ? `attribute ${s.matchAttribute}` : "NameID"}`,
    `  SP key pair: ${s.spKey ? "yes (AuthnRequests signed)" : "no"}`,
    `  trusted certificates: ${s.certificates.length}`,
  ];
  for (const pem of s.certificates) {
    const info = describeCertificate(pem);
    lines.push(
      info
        ? `    ${info.fingerprint}  expires ${info.notAfter}  ${info.subject}`
        : "    (unreadable: verifies nothing)",
    );
  }
  return lines.join("\n");
}

if (import.meta.main) Deno.exit(await main(Deno.args));
