/**
 * The minimal SCIM answers of the bench's bare servers (the bare baseline and the same-work
 * baseline): a JSON body, an error, a list.
 * @module
 */

/** A SCIM JSON answer. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/scim+json" },
  });
}

/** A SCIM error answer. */
export function error(status: number, detail: string): Response {
  return json({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
    status: String(status),
    detail,
  }, status);
}

/** A SCIM ListResponse. */
export function list(resources: unknown[], total: number, startIndex = 1): Response {
  return json({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
    totalResults: total,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  });
}
