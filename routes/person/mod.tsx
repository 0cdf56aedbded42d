/**
 * The pages of a tenant's people: `/login` (a button per IdP connection with SAML set up), `/me`
 * (who they are, their groups, sign out) and `POST /logout`. A session is read from its signed
 * cookie on every request and checked against the user's current state; without one, `/me`
 * answers `303` to `/login`.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { z } from "zod";
import type { BaseEnv } from "../../lib/http/env.ts";
import { sameOriginPath } from "../../lib/http/paths.ts";
import { type Form, FormError, readForm } from "../../lib/http/form.ts";
import { listIdps } from "../../lib/store/tenants.ts";
import { getSamlSettings, isSamlConfigured } from "../../lib/store/saml.ts";
import { deletePersonSession } from "../../lib/store/person_sessions.ts";
import { groupsOfUser } from "../../lib/store/user_list.ts";
import {
  personCookieName,
  readPersonCookie,
  type SignedInPerson,
} from "../../lib/auth/person_sessions.ts";
import { messagePage, personOnError, personPage } from "./_page.tsx";
import { fromSameOrigin, isSecure, timingSafeEqual } from "../../lib/http/request_checks.ts";

const LoginQuery = z.object({
  return_to: z.string().max(2000).optional().catch(undefined),
  done: z.string().max(40).optional().catch(undefined),
});

async function signedIn(c: Context<BaseEnv>): Promise<SignedInPerson | null> {
  const tenant = c.get("tenant");
  if (!tenant) return null;
  const jwt = getCookie(c, personCookieName(isSecure(c)));
  return await readPersonCookie(c.get("deps").kv, tenant.id, jwt);
}

function noTenant(c: Context<BaseEnv>): Response {
  return messagePage(c, 404, "Not found", "No directory is served at this address.");
}

/** Builds the person pages (mounted at the root). */
export function createPersonApp(): Hono<BaseEnv> {
  const app = new Hono<BaseEnv>();
  app.onError(personOnError);

  app.get("/login", async (c) => {
    const tenant = c.get("tenant");
    if (!tenant) return noTenant(c);
    const q = LoginQuery.parse(c.req.query());
    const returnTo = sameOriginPath(q.return_to);
    if (await signedIn(c)) return c.redirect(returnTo ?? "/me", 303);
    const { kv } = c.get("deps");
    const idps = await listIdps(kv, tenant.id);
    const settings = await Promise.all(idps.map((i) => getSamlSettings(kv, tenant.id, i.id)));
    const usable = idps.filter((_, i) => isSamlConfigured(settings[i]));
    const suffix = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : "";
    return personPage(
      c,
      { title: `Sign in to ${tenant.name}` },
      <>
        {q.done === "signed-out" && (
          <div class="notice ok" role="status">
            <p>You are signed out.</p>
          </div>
        )}
        {usable.length === 0
          ? (
            <p class="empty">
              Single sign-on is not set up yet. Ask your administrator to connect an identity
              provider.
            </p>
          )
          : (
            <ul class="sign-in-options">
              {usable.map((idp) => (
                <li key={idp.id}>
                  <a class="button primary" href={`/saml/${idp.id}/login${suffix}`}>
                    Sign in with {idp.name}
                  </a>
                </li>
              ))}
            </ul>
          )}
      </>,
    );
  });

  app.get("/me", async (c) => {
    const tenant = c.get("tenant");
    if (!tenant) return noTenant(c);
    const me = await signedIn(c);
    if (!me) return c.redirect("/login", 303);
    const { kv } = c.get("deps");
    const idps = await listIdps(kv, tenant.id);
    const idp = idps.find((i) => i.id === me.session.idpId);
    const groups = await groupsOfUser(kv, tenant.id, me.user.id, idps);
    const name = me.user.displayName ||
      [me.user.firstName, me.user.lastName].filter(Boolean).join(" ") || me.user.userName;
    return personPage(
      c,
      { title: name },
      <>
        <dl class="details card" id="me">
          <dt>userName</dt>
          <dd>{me.user.userName}</dd>
          <dt>Email</dt>
          <dd>{me.user.email ?? "—"}</dd>
          <dt>Signed in with</dt>
          <dd>{idp?.name ?? me.session.idpId}</dd>
          <dt>Groups</dt>
          <dd>
            {groups.length === 0
              ? <span class="muted">none</span>
              : (
                <ul class="plain" id="my-groups">
                  {groups.map((g) => <li key={g.id}>{g.displayName}</li>)}
                </ul>
              )}
          </dd>
        </dl>
        <form method="post" action="/logout">
          <input type="hidden" name="_csrf" value={me.session.csrf} />
          <button type="submit" class="button">Sign out</button>
        </form>
      </>,
    );
  });

  app.post("/logout", async (c) => {
    if (!c.get("tenant")) return noTenant(c);
    if (!fromSameOrigin(c)) {
      return messagePage(c, 403, "Not allowed", "Sign-out must come from this site's own page.");
    }
    let form: Form;
    try {
      form = await readForm(c);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return messagePage(c, error.status, "The request cannot be read", error.message);
    }
    const me = await signedIn(c);
    if (me) {
      const token = typeof form._csrf === "string" ? form._csrf : "";
      if (!timingSafeEqual(token, me.session.csrf)) {
        return messagePage(c, 403, "Not allowed", "The sign-out form is stale: reload the page.");
      }
      await deletePersonSession(c.get("deps").kv, me.session);
    }
    deleteCookie(c, personCookieName(isSecure(c)), { path: "/", secure: isSecure(c) });
    return c.redirect("/login?done=signed-out", 303);
  });
  return app;
}
