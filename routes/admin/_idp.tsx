/**
 * What the pages of one IdP connection share: the kinds' display names, the connection of the
 * request's `:id` (a connection being deleted shows only its deletion's progress), its SCIM base
 * URL as the IdP must call it, and the tabs.
 * @module
 */
import type { Context } from "hono";
import { type AdminEnv, HttpError, tenantOf } from "./_shared.tsx";
import { Tabs } from "../../components/ui.tsx";
import { getIdp } from "../../lib/store/tenants.ts";
import type { Idp, IdpKind } from "../../lib/store/types.ts";

/** The display name of each IdP kind. */
export const IDP_KIND_NAMES: Record<IdpKind, string> = {
  okta: "Okta",
  entra: "Microsoft Entra ID",
  onelogin: "OneLogin",
  jumpcloud: "JumpCloud",
  google: "Google Workspace",
  generic: "Other (RFC 7644 client)",
};

/** The connection of the request's `:id`; 404 when there is none, 409 while it is being deleted. */
export async function idpOf(c: Context<AdminEnv>): Promise<Idp> {
  const idp = await getIdp(c.get("deps").kv, tenantOf(c).id, c.req.param("id") ?? "");
  if (!idp) throw new HttpError(404, "This identity provider does not exist in this tenant");
  if (idp.deletingSince) {
    throw new HttpError(
      409,
      `This identity provider is being deleted: its progress is on /admin/idps/${idp.id}/deletion`,
    );
  }
  return idp;
}

/** The SCIM base URL an IdP must call, from the request's own origin (trailing slash). */
export function scimBase(c: Context<AdminEnv>, idpId: string): string {
  return `${c.get("origin")}/scim/v2/inbound/${idpId}/`;
}

/** The tabs of an IdP connection's pages. */
export function IdpTabs({ idp, current }: { idp: Idp; current: string }) {
  return (
    <Tabs
      label={`${idp.name} sections`}
      current={current}
      tabs={[
        { id: "overview", href: `/admin/idps/${idp.id}`, label: "Overview" },
        { id: "scim", href: `/admin/idps/${idp.id}/scim`, label: "SCIM Provisioning" },
        { id: "saml", href: `/admin/idps/${idp.id}/saml`, label: "SAML" },
      ]}
    />
  );
}
