/**
 * First run: on an empty store, create a tenant, an IdP connection and a SCIM token so the
 * service is usable at once; at every start, finish membership changes a crash interrupted.
 * @module
 */
import type { Config } from "./config.ts";
import {
  ConflictError,
  createIdp,
  createTenant,
  createToken,
  listIdps,
  listTenants,
  listTokens,
} from "./store/tenants.ts";
import { completeAllJournals } from "./store/journal.ts";
import { finishErasures } from "./store/user_erasure.ts";
import { migrateOnce } from "./store/migrations.ts";
import { tenantOrigin } from "./http/tenant.ts";
import { hasAdmins } from "./store/admins.ts";
import { createSetupLink } from "./auth/admin.ts";
import { FIRST_RUN, isFirstRunToken, tokenState } from "./auth/token_state.ts";
import { plural } from "./words.ts";

/** What the operator should be told at start-up. */
export interface StartupReport {
  lines: string[];
}

/** How the start-up report will be shown. */
export interface BootstrapOptions {
  /**
   * Whether the report goes to a terminal. Secrets (the first SCIM token, the first setup link)
   * are minted and printed only then: a log file or a container's output is kept and read by
   * others, so there the report says how to mint them with the CLI instead.
   */
  terminal: boolean;
}

/** Prepares the store and says how to use it. */
export async function bootstrap(
  kv: Deno.Kv,
  config: Config,
  options: BootstrapOptions,
): Promise<StartupReport> {
  const lines: string[] = await migrateOnce(kv);
  let tenants = await listTenants(kv);
  let created: string | undefined;
  if (tenants.length === 0) {
    let tenant;
    try {
      tenant = await createTenant(kv, {
        subdomain: config.defaultTenant ?? "demo",
        name: "Demo",
        actor: FIRST_RUN,
      });
    } catch (error) {
      // Another worker of `deno serve --parallel` ran the first run at the same moment.
      if (!(error instanceof ConflictError)) throw error;
      return { lines };
    }
    const idp = await createIdp(kv, tenant.id, { name: "Okta", kind: "okta", actor: FIRST_RUN });
    const mint =
      `deno task weft token create --tenant ${tenant.subdomain} --idp ${idp.id} --name <name>`;
    lines.push(
      'First run: created tenant "' + tenant.subdomain + '" with an Okta IdP connection.',
      "  SCIM base URL (paste into Okta → Provisioning → Integration):",
      `    ${scimBaseUrl(config, tenant.subdomain, idp.id)}`,
    );
    if (options.terminal) {
      const { secret } = await createToken(kv, tenant.id, idp.id, {
        name: FIRST_RUN,
        createdBy: FIRST_RUN,
      });
      lines.push(
        "  SCIM bearer token (shown once, only its SHA-256 is stored):",
        `    ${secret}`,
        "  Its plaintext is printed here, to this terminal, and nowhere else. The console's SCIM tab",
        "  marks it as the first-run token: revoke it there once the IdP uses a named token.",
        `  Mint a named token: ${mint}`,
      );
    } else {
      lines.push(
        "  No SCIM token was minted: this output is not a terminal, and a token printed here would",
        `  stay in the log. Mint one from a terminal: ${mint}`,
      );
    }
    tenants = await listTenants(kv);
    created = tenant.id;
  }
  for (const tenant of tenants) {
    const erased = await finishErasures(kv, tenant.id);
    if (erased) {
      lines.push(
        `Finished erasing ${plural(erased, "deleted user")} for tenant ${tenant.subdomain}.`,
      );
    }
    const done = await completeAllJournals(kv, tenant.id);
    if (done) {
      lines.push(
        `Completed ${
          plural(done, "interrupted membership change")
        } for tenant ${tenant.subdomain}.`,
      );
    }
    if (tenant.id !== created && tenants.length <= 5 && !(await hasAdmins(kv, tenant.id))) {
      // A setup link is a credential: it is printed by the first run only, not at every start.
      lines.push(
        `Tenant ${tenant.subdomain} has no console admin yet: deno task weft admin setup-link --tenant ${tenant.subdomain}`,
      );
    } else if (tenant.id === created && !options.terminal) {
      lines.push(
        `Tenant ${tenant.subdomain} has no console admin yet. From a terminal, create the first super admin's one-time link:`,
        `    deno task weft admin setup-link --tenant ${tenant.subdomain}`,
      );
    } else if (tenant.id === created) {
      try {
        const origin = publicOrigin(config, tenant.subdomain);
        const { url } = await createSetupLink(kv, tenant.id, origin, {
          role: "super_admin",
          createdBy: FIRST_RUN,
        });
        lines.push(
          `Tenant ${tenant.subdomain} has no console admin yet. Create the first super admin (one-time link, 24 h):`,
          `    ${url}`,
        );
      } catch {
        // A store that cannot be written now must not stop the service from starting.
        lines.push(
          `Tenant ${tenant.subdomain} has no console admin yet: deno task weft admin setup-link --tenant ${tenant.subdomain}`,
        );
      }
    }
    // The first run said where its IdP is; later starts list each tenant's connections.
    if (tenant.id !== created && (lines.length === 0 || tenants.length <= 5)) {
      for (const idp of await listIdps(kv, tenant.id)) {
        lines.push(
          `Tenant ${tenant.subdomain}, IdP "${idp.name}": ${
            scimBaseUrl(config, tenant.subdomain, idp.id)
          }`,
        );
        if (await firstRunTokenActive(kv, tenant.id, idp.id)) {
          lines.push(
            "  Its first-run token is still active (its plaintext was printed to the terminal of the",
            "  first start): revoke it on the console's SCIM tab once the IdP uses a named token.",
          );
        }
      }
    }
  }
  return { lines };
}

/** Whether the token the first start minted for this IdP is still usable. */
async function firstRunTokenActive(kv: Deno.Kv, tenantId: string, idpId: string): Promise<boolean> {
  return (await listTokens(kv, tenantId, idpId)).some((t) =>
    isFirstRunToken(t) && tokenState(t) === "active"
  );
}

/** The SCIM base URL of an IdP, exactly as the IdP must call it (with a trailing slash). */
export function scimBaseUrl(config: Config, subdomain: string, idpId: string): string {
  return `${publicOrigin(config, subdomain)}/scim/v2/inbound/${idpId}/`;
}

/** The origin a tenant is reached at, for URLs printed to the operator. */
export function publicOrigin(config: Config, subdomain: string): string {
  return config.defaultTenant === subdomain && config.baseDomain === "localhost"
    ? `${config.publicScheme}://127.0.0.1:${config.port}`
    : tenantOrigin(config, subdomain);
}
