/**
 * Host → tenant resolution (architecture §7): the first label under the base domain names the
 * tenant; `WEFT_DEFAULT_TENANT` serves one tenant on any other host.
 * @module
 */
import type { Config } from "../config.ts";
import { getTenantBySubdomain, SUBDOMAIN_PATTERN } from "../store/tenants.ts";
import type { Tenant } from "../store/types.ts";
import { foundCache } from "../store/kv.ts";

/** A host name, IPv4 address or bracketed IPv6 address, with an optional port. */
const HOST_HEADER =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** Whether a `Host` (or trusted `X-Forwarded-Host`) value names a host and nothing else. */
export function isHostHeader(host: string): boolean {
  return HOST_HEADER.test(host);
}

/** The host name without port, lower-cased. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  return h.replace(/:\d+$/, "");
}

/** The tenant subdomain a host names, if any. */
export function subdomainOf(host: string, baseDomain: string): string | null {
  const name = hostName(host);
  const suffix = "." + baseDomain;
  if (!name.endsWith(suffix)) return null;
  const label = name.slice(0, -suffix.length);
  return SUBDOMAIN_PATTERN.test(label) ? label : null;
}

/**
 * Found tenants by subdomain, kept for a minute per store. A subdomain never moves to another
 * tenant, so this only saves two sequential KV reads on every request; unknown subdomains are
 * never cached, so a new tenant is served at once.
 */
const tenants = foundCache<Tenant>(60_000);

async function tenantBySubdomain(kv: Deno.Kv, subdomain: string): Promise<Tenant | null> {
  const kept = tenants.get(kv, subdomain);
  if (kept) return kept;
  const tenant = await getTenantBySubdomain(kv, subdomain);
  if (tenant) tenants.set(kv, subdomain, tenant);
  return tenant;
}

/** Resolves the tenant of a request host. */
export async function resolveTenant(
  kv: Deno.Kv,
  config: Config,
  host: string,
): Promise<Tenant | null> {
  const sub = subdomainOf(host, config.baseDomain);
  if (sub) return await tenantBySubdomain(kv, sub);
  if (config.defaultTenant) return await tenantBySubdomain(kv, config.defaultTenant);
  return null;
}

/** The public origin of a tenant, for URLs printed by the CLI and the first run. */
export function tenantOrigin(config: Config, subdomain: string): string {
  const port = config.port === 80 || config.port === 443 ? "" : `:${config.port}`;
  return `${config.publicScheme}://${subdomain}.${config.baseDomain}${port}`;
}
