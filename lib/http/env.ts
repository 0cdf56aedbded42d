/**
 * Typed Hono context for the SCIM and admin sub-apps.
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { WriteGate } from "../instance/write_gate.ts";
import type { Idp, ScimToken, Tenant } from "../store/types.ts";
import type { AuthFailed } from "../auth/scim_auth.ts";

/** What every request handler can reach. */
export interface AppDeps {
  kv: Deno.Kv;
  config: Config;
  log: Logger;
  /** The instance's write gate (point-in-time backups); none holds nothing. */
  gate?: WriteGate;
}

/** Variables set by the root middleware. */
export interface BaseVariables {
  deps: AppDeps;
  requestId: string;
  clientIp: string;
  /** `https://acme.example.com` as the client called it. */
  origin: string;
  tenant: Tenant | null;
}

/** Root context. */
export type BaseEnv = { Variables: BaseVariables };

/** SCIM context after authentication: the tenant is known, with the IdP and token. */
export type ScimEnv = {
  Variables: Omit<BaseVariables, "tenant"> & {
    tenant: Tenant;
    idp: Idp;
    token: ScimToken;
    scimBase: string;
    /** Set when authentication failed: why, and whose failure it is. */
    authFailure?: AuthFailed;
  };
};
