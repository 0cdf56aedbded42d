/**
 * The service provider's endpoints of an IdP connection, at `/saml/<idp-id>/…`: `metadata` (the
 * SP entity ID is this URL), `login` (SP-initiated sign-in: an AuthnRequest by HTTP-Redirect),
 * and `acs`, the Assertion Consumer Service (HTTP-POST). The ACS body is bounded by the root app
 * before anything reads it; refused sign-ins get a `403` page in plain words and no cookie.
 * @module
 */
import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { z } from "zod";
import type { BaseEnv } from "../../lib/http/env.ts";
import { isSafeHeaderValue, sameOriginPath } from "../../lib/http/paths.ts";
import { type Form, FormError, readForm } from "../../lib/http/form.ts";
import { getSamlConnection, isSamlConfigured, saveSamlRequest } from "../../lib/store/saml.ts";
import { authnRequestUrl, newRequestId, spMetadata, spUrls } from "../../lib/saml/sp.ts";
import { consumeAssertion } from "../../lib/saml/sign_in.ts";
import { personCookieName, personSessionJwt } from "../../lib/auth/person_sessions.ts";
import { PERSON_SESSION_TTL_MS } from "../../lib/store/person_sessions.ts";
import { messagePage, personOnError, refusalPage } from "../person/_page.tsx";
import { isSecure } from "../../lib/http/request_checks.ts";

/** Largest `SAMLResponse` accepted (its base64 text); larger ones are answered `413`. */
export const SAML_RESPONSE_MAX_CHARS = 256 * 1024;
/** Longest RelayState kept (SAML asks IdPs for at most 80 bytes; some send more). */
export const MAX_RELAY_STATE = 1024;
/** RelayState Weft sends: the return path when it fits the 80 bytes SAML bindings §3.4.3 allow. */
const MAX_SENT_RELAY_STATE = 80;

const AcsForm = z.object({
  SAMLResponse: z.string().min(1).max(SAML_RESPONSE_MAX_CHARS),
  RelayState: z.string().max(MAX_RELAY_STATE).optional().catch(undefined),
});

const LoginQuery = z.object({ return_to: z.string().max(2000).optional().catch(undefined) });

/** Builds the `/saml` sub-app. */
export function createSamlApp(): Hono<BaseEnv> {
  const app = new Hono<BaseEnv>();
  app.onError(personOnError);

  app.get("/:idp/metadata", async (c) => {
    const tenant = c.get("tenant");
    const idpId = c.req.param("idp");
    if (!tenant) return c.text("Not found", 404);
    const { idp, settings } = await getSamlConnection(c.get("deps").kv, tenant.id, idpId);
    if (!idp) return c.text("Not found", 404);
    const xml = await spMetadata(settings, spUrls(c.get("origin"), idp.id));
    return c.body(xml, 200, {
      "content-type": "application/samlmetadata+xml; charset=utf-8",
      "content-disposition": `inline; filename="weft-${idp.id}-metadata.xml"`,
      "cache-control": "no-cache",
    });
  });

  app.get("/:idp/login", async (c) => {
    const tenant = c.get("tenant");
    if (!tenant) return messagePage(c, 404, "Not found", "No directory is served at this address.");
    const { kv } = c.get("deps");
    const idpId = c.req.param("idp");
    const { idp, settings } = await getSamlConnection(kv, tenant.id, idpId);
    if (!idp || !isSamlConfigured(settings)) return refusalPage(c, "saml_not_configured");
    const returnTo = sameOriginPath(LoginQuery.parse(c.req.query()).return_to) ?? undefined;
    const requestId = newRequestId();
    await saveSamlRequest(kv, {
      id: requestId,
      tenantId: tenant.id,
      idpId: idp.id,
      createdAt: new Date().toISOString(),
      returnTo,
    });
    const relayState = returnTo && returnTo.length <= MAX_SENT_RELAY_STATE ? returnTo : "";
    const url = await authnRequestUrl(
      settings,
      spUrls(c.get("origin"), idp.id),
      requestId,
      relayState,
    );
    if (!isSafeHeaderValue(url)) return refusalPage(c, "saml_not_configured");
    return new Response(null, {
      status: 303,
      headers: { location: url, "cache-control": "no-store" },
    });
  });

  // The whole body is bounded by the root app before this runs (`lib/http/limits.ts`).
  app.post(
    "/:idp/acs",
    async (c) => {
      const tenant = c.get("tenant");
      if (!tenant) {
        return messagePage(c, 404, "Not found", "No directory is served at this address.");
      }
      let body: Form;
      try {
        body = await readForm(c);
      } catch (error) {
        if (!(error instanceof FormError)) throw error;
        return messagePage(c, error.status, "The sign-in cannot be read", error.message);
      }
      const value = body.SAMLResponse;
      if (typeof value === "string" && value.length > SAML_RESPONSE_MAX_CHARS) return tooLarge(c);
      const form = AcsForm.safeParse(body);
      const deps = c.get("deps");
      const outcome = await consumeAssertion(deps.kv, {
        tenantId: tenant.id,
        idpId: c.req.param("idp"),
        origin: c.get("origin"),
        samlResponse: form.success ? form.data.SAMLResponse : "",
        relayState: form.success ? form.data.RelayState : undefined,
        clientIp: c.get("clientIp"),
        userAgent: c.req.header("user-agent") ?? "",
        requestId: c.get("requestId"),
        limitPerMinute: deps.config.authFailuresPerMinute,
      });
      switch (outcome.kind) {
        case "throttled":
          return messagePage(
            c,
            429,
            "Too many failed sign-ins",
            `Too many sign-ins from your address failed. Try again in ${outcome.retryAfter} seconds.`,
            { "retry-after": String(outcome.retryAfter) },
          );
        case "refused":
          if (outcome.throttled) {
            return messagePage(
              c,
              429,
              "Too many failed sign-ins",
              `Too many sign-ins from your address failed. Try again in ${outcome.retryAfter} seconds.`,
              { "retry-after": String(outcome.retryAfter) },
            );
          }
          return refusalPage(c, outcome.reason);
        case "test":
          return new Response(null, { status: 303, headers: { location: outcome.location } });
        case "signed_in": {
          const secure = isSecure(c);
          setCookie(c, personCookieName(secure), await personSessionJwt(deps.kv, outcome.session), {
            httpOnly: true,
            secure,
            sameSite: "Lax",
            path: "/",
            maxAge: PERSON_SESSION_TTL_MS / 1000,
          });
          c.header("cache-control", "no-store");
          return c.redirect(outcome.location, 303);
        }
      }
    },
  );
  return app;
}

function tooLarge(c: Parameters<typeof messagePage>[0]): Response {
  return messagePage(
    c,
    413,
    "The sign-in is too large",
    `The identity provider's answer is larger than ${
      SAML_RESPONSE_MAX_CHARS / 1024
    } KiB, which this directory does not accept.`,
  );
}
