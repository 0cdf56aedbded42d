/**
 * What the person pages and the SAML routes share: page rendering in the person frame, the
 * refusal page in plain words, and the same-origin check of state changes.
 * @module
 */
import type { Context } from "hono";
import type { VNode } from "preact";
import type { BaseEnv } from "../../lib/http/env.ts";
import { htmlResponse, renderDocument } from "../../lib/http/render.tsx";
import { PersonLayout } from "../../components/PersonLayout.tsx";
import { REFUSAL_HELP, type RefusalReason } from "../../lib/saml/reasons.ts";

/** Renders a person page (`Cache-Control: no-store`, the strict CSP comes from the root app). */
export function personPage(
  c: Context<BaseEnv>,
  opts: { title: string; status?: number; headers?: Record<string, string> },
  body: VNode | VNode[],
): Response {
  const html = renderDocument(
    <PersonLayout tenantName={c.get("tenant")?.name ?? "Weft"} title={opts.title}>
      {body}
    </PersonLayout>,
  );
  return htmlResponse(html, opts.status ?? 200, opts.headers);
}

/** The `403` page of a refused sign-in: why, and what the admin can do. No cookie is set. */
export function refusalPage(c: Context<BaseEnv>, reason: RefusalReason): Response {
  const help = REFUSAL_HELP[reason];
  return personPage(
    c,
    { title: help.title, status: 403 },
    <>
      <div class="notice bad" role="alert">
        <p>{help.why}</p>
      </div>
      <section class="card stack">
        <h2>What your administrator can do</h2>
        <p>{help.admin}</p>
        <p class="muted small">
          Tell them this code: <code>{reason}</code> (request <code>{c.get("requestId")}</code>).
        </p>
      </section>
      <p>
        <a class="button" href="/login">Back to sign-in</a>
      </p>
    </>,
  );
}

/** The error handler of the people's pages and the SAML endpoints: a logged cause, a plain page. */
export function personOnError(error: unknown, c: Context<BaseEnv>): Response {
  c.get("deps").log.log("error", "sign-in handler failed", {
    requestId: c.get("requestId"),
    route: c.req.routePath,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
  return messagePage(
    c,
    500,
    "Something went wrong",
    `The sign-in could not be completed (request ${c.get("requestId")}). Try again.`,
  );
}

/** A person page for other errors (404, 413, 429). */
export function messagePage(
  c: Context<BaseEnv>,
  status: number,
  title: string,
  message: string,
  headers?: Record<string, string>,
): Response {
  return personPage(
    c,
    { title, status, headers },
    <>
      <div class="notice bad" role="alert">
        <p>{message}</p>
      </div>
      <p>
        <a class="button" href="/login">Back to sign-in</a>
      </p>
    </>,
  );
}
