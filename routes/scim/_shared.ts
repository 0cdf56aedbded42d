/**
 * Helpers shared by the SCIM resource routes.
 * @module
 */
import type { Context } from "hono";
import type { ScimEnv } from "../../lib/http/env.ts";
import type { ChangeContext } from "../../lib/store/types.ts";
import { LIST_RESPONSE } from "../../lib/scim/urns.ts";
import type { ListParams } from "../../lib/scim/list_params.ts";

/** Who is changing what, for the store and the audit events. */
export function changeContext(c: Context<ScimEnv>): ChangeContext {
  const token = c.get("token");
  return {
    tenantId: c.get("tenant").id,
    idpId: c.get("idp").id,
    tokenId: token.id,
    actor: `scim:${token.id}`,
    requestId: c.get("requestId"),
    clientIp: c.get("clientIp"),
    matchBy: c.get("idp").matchBy,
    deprovisioning: c.get("idp").deprovisioning,
  };
}

/** The RFC 7644 §3.4.2 ListResponse (numbers as JSON integers, `Resources` always present). */
export function listResponse(
  resources: Record<string, unknown>[],
  totalResults: number,
  params: Pick<ListParams, "startIndex" | "cursor">,
  nextCursor?: string,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    schemas: [LIST_RESPONSE],
    totalResults,
    itemsPerPage: resources.length,
  };
  if (params.cursor === undefined) body.startIndex = params.startIndex;
  if (nextCursor) body.nextCursor = nextCursor;
  body.Resources = resources;
  return body;
}
