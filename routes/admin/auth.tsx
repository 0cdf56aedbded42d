/**
 * Sign-in (throttled), sign-out, and account creation through a one-time setup link.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { type AdminEnv, HttpError, page, readForm, signedIn, tenantOf } from "./_shared.tsx";
import { Csrf, Field, Notice } from "../../components/ui.tsx";
import {
  hashPassword,
  hashSetupSecret,
  isSetupSecret,
  verifyPassword,
} from "../../lib/auth/admin.ts";
import { recordSignInSuccess, reserveSignInAttempt } from "../../lib/store/sign_in_throttle.ts";
import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  passwordProblem,
} from "../../lib/auth/password_policy.ts";
import { createSession, sessionCookieName } from "../../lib/auth/sessions.ts";
import { deleteSession, SESSION_TTL_MS } from "../../lib/store/admin_sessions.ts";
import {
  type Admin,
  createAdminFromLink,
  getAdminByEmail,
  getSetupLink,
} from "../../lib/store/admins.ts";
import { ConflictError } from "../../lib/store/tenants.ts";
import { sameOriginPath } from "../../lib/http/paths.ts";

/** Sign-in, sign-out and setup routes. */
export const auth = new Hono<AdminEnv>();

/** Only console paths are followed after sign-in (no open redirect, nothing unencoded). */
function safeNext(next: string | undefined): string {
  return sameOriginPath(next, { under: "/admin" }) ?? "/admin";
}

/**
 * Starts a session for `admin`. The session the request presented, if any, ends first: signing
 * in again (as anyone) never leaves an older session of this browser alive.
 */
async function startSession(c: Context<AdminEnv>, admin: Admin): Promise<void> {
  const secure = c.get("origin").startsWith("https:");
  const presented = c.get("session");
  if (presented) await deleteSession(c.get("deps").kv, presented);
  await recordSignInSuccess(c.get("deps").kv, admin.tenantId, admin.email, c.get("clientIp"));
  const { jwt } = await createSession(c.get("deps").kv, admin, {
    ip: c.get("clientIp"),
    userAgent: c.req.header("user-agent") ?? "",
  });
  setCookie(c, sessionCookieName(secure), jwt, {
    httpOnly: true,
    secure,
    sameSite: "Lax",
    path: "/",
    maxAge: SESSION_TTL_MS / 1000,
  });
}

function SignInForm(
  { email, next, error, info, csrf }: {
    email?: string;
    next: string;
    error?: string;
    info?: string;
    csrf?: string;
  },
) {
  return (
    <div class="narrow">
      {info && <Notice tone="ok">{info}</Notice>}
      {error && <Notice tone="bad">{error}</Notice>}
      <form method="post" action="/admin/signin" class="card stack">
        <input type="hidden" name="next" value={next} />
        {csrf && <Csrf token={csrf} />}
        <Field
          id="email"
          label="Email"
          type="email"
          value={email}
          required
          autocomplete="username"
        />
        <Field
          id="password"
          label="Password"
          type="password"
          required
          autocomplete="current-password"
        />
        <button type="submit" class="button primary">Sign in</button>
      </form>
      <p class="hint">
        No account yet? Ask a super admin of this tenant for a setup link, or run{" "}
        <code>deno task weft admin setup-link --tenant &lt;subdomain&gt;</code>.
      </p>
    </div>
  );
}

auth.get("/signin", (c) => {
  if (c.get("admin")) return c.redirect(safeNext(c.req.query("next")));
  const info = c.req.query("done") === "signed-out" ? "You are signed out." : undefined;
  return page(
    c,
    { title: "Sign in" },
    <SignInForm csrf={c.get("session")?.csrf} next={safeNext(c.req.query("next"))} info={info} />,
  );
});

const SignIn = z.object({
  email: z.string().trim().min(3).max(254),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  next: z.string().max(2000).optional(),
});

auth.post("/signin", async (c) => {
  const tenant = tenantOf(c);
  const { kv } = c.get("deps");
  const input = SignIn.safeParse(await readForm(c));
  const next = safeNext(input.success ? input.data.next : undefined);
  if (!input.success) {
    return page(
      c,
      { title: "Sign in", status: 400 },
      (
        <SignInForm
          csrf={c.get("session")?.csrf}
          next={next}
          error="Enter your email and password."
        />
      ),
    );
  }
  const { email, password } = input.data;
  const ip = c.get("clientIp");
  const wait = await reserveSignInAttempt(kv, tenant.id, email, ip);
  if (wait > 0) {
    return page(
      c,
      {
        title: "Sign in",
        status: 429,
        headers: { "retry-after": String(wait) },
      },
      (
        <SignInForm
          email={email}
          next={next}
          error={`Too many failed attempts. Try again in ${waitText(wait)}.`}
        />
      ),
    );
  }
  const admin = await getAdminByEmail(kv, tenant.id, email);
  const ok = await verifyPassword(password, admin?.passwordHash ?? null);
  if (!admin || !ok) {
    return page(
      c,
      { title: "Sign in", status: 401 },
      (
        <SignInForm
          csrf={c.get("session")?.csrf}
          email={email}
          next={next}
          error="The email or password is not right."
        />
      ),
    );
  }
  await startSession(c, admin);
  return c.redirect(next, 303);
});

auth.post("/signout", async (c) => {
  const { session } = signedIn(c);
  await deleteSession(c.get("deps").kv, session);
  deleteCookie(c, sessionCookieName(c.get("origin").startsWith("https:")), {
    path: "/",
    secure: c.get("origin").startsWith("https:"),
  });
  return c.redirect("/admin/signin?done=signed-out", 303);
});

function SetupForm(
  { secret, email, emailFixed, role, error, csrf }: {
    secret: string;
    csrf?: string;
    email?: string;
    emailFixed: boolean;
    role: string;
    error?: string;
  },
) {
  return (
    <div class="narrow">
      <p>
        This one-time link creates a{" "}
        <strong>{role === "super_admin" ? "super admin" : "read-only admin"}</strong>{" "}
        account for this tenant. It stops working once used.
      </p>
      {error && <Notice tone="bad">{error}</Notice>}
      <form method="post" action={`/admin/setup/${secret}`} class="card stack">
        {csrf && <Csrf token={csrf} />}
        <Field
          id="email"
          label="Email"
          type="email"
          value={email}
          required
          readOnly={emailFixed}
          autocomplete="username"
        />
        <Field
          id="password"
          label="Password"
          type="password"
          required
          autocomplete="new-password"
          hint={`At least ${MIN_PASSWORD_LENGTH} characters, and not a common or guessable one: a few unrelated words work well.`}
        />
        <Field
          id="confirm"
          label="Repeat the password"
          type="password"
          required
          autocomplete="new-password"
        />
        <button type="submit" class="button primary">Create account and sign in</button>
      </form>
    </div>
  );
}

async function linkOf(c: Context<AdminEnv>) {
  const secret = c.req.param("secret") ?? "";
  const gone = new HttpError(
    404,
    "This setup link has expired or was already used. Ask for a new one.",
  );
  if (!isSetupSecret(secret)) throw gone;
  const hash = await hashSetupSecret(secret);
  const link = await getSetupLink(c.get("deps").kv, tenantOf(c).id, hash);
  if (!link) throw gone;
  return { secret, hash, link };
}

// The secret is in the path. The console's `Referrer-Policy: same-origin` keeps it from other
// sites; `no-referrer` would also make Chromium send `Origin: null` on the form post.

auth.get("/setup/:secret", async (c) => {
  const { secret, link } = await linkOf(c);
  return page(
    c,
    { title: "Create your admin account" },
    (
      <SetupForm
        csrf={c.get("session")?.csrf}
        secret={secret}
        email={link.email}
        emailFixed={!!link.email}
        role={link.role}
      />
    ),
  );
});

const Setup = z.object({
  email: z.string().trim().toLowerCase().email().max(254),
  password: z.string().max(MAX_PASSWORD_LENGTH),
  confirm: z.string().max(MAX_PASSWORD_LENGTH),
});

/** "40 seconds", "3 minutes": a throttle's wait as people read it. */
function waitText(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

auth.post("/setup/:secret", async (c) => {
  const { secret, hash, link } = await linkOf(c);
  const form = await readForm(c);
  const parsed = Setup.safeParse(form);
  const again = (error: string, status = 400) =>
    page(
      c,
      { title: "Create your admin account", status },
      (
        <SetupForm
          csrf={c.get("session")?.csrf}
          secret={secret}
          email={link.email ?? (typeof form.email === "string" ? form.email : undefined)}
          emailFixed={!!link.email}
          role={link.role}
          error={error}
        />
      ),
    );
  if (!parsed.success) {
    const bad = parsed.error.issues[0]?.path[0];
    return again(
      bad === "password" || bad === "confirm"
        ? `Choose a password of at most ${MAX_PASSWORD_LENGTH} characters.`
        : "Enter a valid email address.",
    );
  }
  if (parsed.data.password !== parsed.data.confirm) return again("The two passwords differ.");
  const tenant = tenantOf(c);
  const weak = await passwordProblem(parsed.data.password, [
    parsed.data.email,
    tenant.subdomain,
    tenant.name,
  ]);
  if (weak) return again(weak);
  const { kv } = c.get("deps");
  let admin: Admin;
  try {
    admin = await createAdminFromLink(kv, tenantOf(c).id, hash, {
      email: parsed.data.email,
      passwordHash: await hashPassword(parsed.data.password),
    });
  } catch (error) {
    if (error instanceof ConflictError) return again(error.message, 409);
    throw error;
  }
  await startSession(c, admin);
  return c.redirect("/admin", 303);
});
