/**
 * SAML test harness: the test app with a SAML-configured IdP connection whose IdP the test plays
 * (a key pair of its own), SCIM provisioning through the same app, and helpers that walk the
 * browser's part of a sign-in: `GET /saml/<idp>/login`, then `POST /saml/<idp>/acs`.
 * @module
 */
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import { createTestApp, expectScim, randomUser, type TestApp } from "../_helpers.ts";
import { makeKeyPair, type TestKeyPair } from "./_cert.ts";
import { encodeResponse, type ResponseOptions, signedResponse, type Signing } from "./_idp.ts";
import { type SpUrls, spUrls } from "../../lib/saml/sp.ts";
import { updateSamlSettings } from "../../lib/store/saml.ts";
import type { SamlSettings } from "../../lib/store/types.ts";

/** The IdP's entity ID in tests. */
export const ISSUER = "http://www.okta.com/exk1test";
/** The IdP's SSO URL in tests. */
export const SSO_URL = "https://idp.example.test/app/sso/saml";

/** A test app with a SAML connection. */
export interface SamlTestApp extends TestApp {
  origin: string;
  key: TestKeyPair;
  urls: SpUrls;
  /** Changes the connection's SAML settings. */
  configure(change?: Partial<SamlSettings>, idpId?: string): Promise<void>;
  /** `GET /saml/<idp>/login`: the AuthnRequest's id and the redirect. */
  startLogin(returnTo?: string, idpId?: string): Promise<{ requestId: string; location: URL }>;
  /** A Response for this connection, with defaults filled in. */
  response(o: Partial<ResponseOptions> & { nameId: string }, signing?: Signing): string;
  /** `POST /saml/<idp>/acs` with a Response's XML (or a raw form value). */
  acs(xml: string, o?: { relayState?: string; idpId?: string; raw?: boolean }): Promise<Response>;
  /** A full SP-initiated sign-in of `nameId`; returns the ACS response. */
  signIn(nameId: string, o?: { returnTo?: string; signing?: Signing }): Promise<Response>;
  /** Provisions a user through SCIM; returns its id and userName. */
  provision(overrides?: Record<string, unknown>): Promise<{ id: string; userName: string }>;
  /** `GET` a page with a cookie. */
  get(path: string, cookie?: string): Promise<Response>;
}

/** The AuthnRequest id inside an HTTP-Redirect URL. */
export function requestIdOf(location: URL): string {
  const deflated = Uint8Array.from(
    atob(location.searchParams.get("SAMLRequest") ?? ""),
    (ch) => ch.charCodeAt(0),
  );
  const xml = new TextDecoder().decode(inflateRawSync(deflated));
  return /\sID="([^"]+)"/.exec(xml)![1];
}

/** The `weft_person` cookie an ACS response set, as a `Cookie` header value. */
export function personCookie(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  const m = /(weft_person=[^;]+)/.exec(set);
  assert.ok(m, `no person cookie in ${set}`);
  return m[1];
}

/** Builds the app with a connection configured for the test IdP. */
export async function createSamlTestApp(env: Record<string, string> = {}): Promise<SamlTestApp> {
  const t = await createTestApp({ WEFT_AUTH_FAILURES_PER_MINUTE: "1000", ...env });
  const origin = "http://acme.localhost";
  const key = makeKeyPair({ commonName: "Test IdP" });
  const urls = spUrls(origin, t.idp.id);
  const configure = async (change: Partial<SamlSettings> = {}, idpId = t.idp.id) => {
    await updateSamlSettings(t.kv, { tenantId: t.tenant.id, idpId, actor: "test" }, (s) => ({
      ...s,
      entityId: ISSUER,
      ssoUrl: SSO_URL,
      certificates: [key.certificate],
      ...change,
    }), "test");
  };
  await configure();
  const app: SamlTestApp = {
    ...t,
    origin,
    key,
    urls,
    configure,
    async startLogin(returnTo, idpId = t.idp.id) {
      const q = returnTo === undefined ? "" : `?return_to=${encodeURIComponent(returnTo)}`;
      const res = await t.app.request(`${origin}/saml/${idpId}/login${q}`, { redirect: "manual" });
      assert.equal(res.status, 303, await res.text());
      const location = new URL(res.headers.get("location")!);
      return { requestId: requestIdOf(location), location };
    },
    response(o, signing = "assertion") {
      return signedResponse(
        { issuer: ISSUER, audience: urls.entityId, acsUrl: urls.acsUrl, ...o },
        key,
        signing,
      );
    },
    acs(xml, o = {}) {
      const form = new URLSearchParams({ SAMLResponse: o.raw ? xml : encodeResponse(xml) });
      if (o.relayState !== undefined) form.set("RelayState", o.relayState);
      const idpId = o.idpId ?? t.idp.id;
      return Promise.resolve(t.app.request(`${origin}/saml/${idpId}/acs`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: "https://idp.example.test",
        },
        body: form.toString(),
        redirect: "manual",
      }));
    },
    async signIn(nameId, o = {}) {
      const { requestId } = await app.startLogin(o.returnTo);
      return await app.acs(app.response({ nameId, inResponseTo: requestId }, o.signing));
    },
    async provision(overrides = {}) {
      const body = await expectScim(await t.scim("POST", "/Users", randomUser(overrides)), 201);
      return { id: String(body.id), userName: String(body.userName) };
    },
    get(path, cookie) {
      return Promise.resolve(t.app.request(origin + path, {
        headers: cookie ? { cookie } : {},
        redirect: "manual",
      }));
    },
  };
  return app;
}

/** Asserts a refused sign-in: 403, an HTML page naming the reason, and no cookie. */
export async function expectRefused(res: Response, reason: string): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, 403, `expected 403 ${reason}, got ${res.status}: ${text.slice(0, 600)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(res.headers.get("set-cookie"), null);
  assert.match(text, new RegExp(`<code>${reason}</code>`), `expected reason ${reason}`);
  return text;
}
