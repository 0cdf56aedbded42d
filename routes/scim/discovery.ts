/**
 * Discovery endpoints (RFC 7644 §4): what this receiver supports, exactly.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ScimEnv } from "../../lib/http/env.ts";
import { scimJson } from "../../lib/http/scim.ts";
import {
  resourceType,
  resourceTypes,
  schema,
  schemas,
  serviceProviderConfig,
} from "../../lib/scim/discovery.ts";
import { ScimError } from "../../lib/scim/errors.ts";

/** The discovery routes. */
export const discovery = new Hono<ScimEnv>();

function config(c: Context<ScimEnv>) {
  const { config } = c.get("deps");
  return serviceProviderConfig(c.get("scimBase"), {
    maxResults: config.maxResults,
    maxPayloadSize: config.maxBodyBytes,
    maxOperations: 0,
  });
}

// Admins paste the root URL and some clients probe it: answer harmlessly (idp-behaviour P1).
discovery.get("/", (c) => scimJson(config(c)));
discovery.get("/ServiceProviderConfig", (c) => scimJson(config(c)));
discovery.get("/ResourceTypes", (c) => scimJson(resourceTypes(c.get("scimBase"))));
discovery.get("/ResourceTypes/:id", (c) => {
  const body = resourceType(c.get("scimBase"), c.req.param("id"));
  if (!body) throw ScimError.notFound(`Resource type "${c.req.param("id")}" not found`);
  return scimJson(body);
});
discovery.get("/Schemas", (c) => scimJson(schemas(c.get("scimBase"))));
discovery.get("/Schemas/:id", (c) => {
  const body = schema(c.get("scimBase"), c.req.param("id"));
  if (!body) throw ScimError.notFound(`Schema "${c.req.param("id")}" not found`);
  return scimJson(body);
});
