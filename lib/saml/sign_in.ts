/**
 * The Assertion Consumer Service's work, after the HTTP edge: throttle, verify the response,
 * take the assertion once (replay and InResponseTo against KV), find the person among the users
 * the signing IdP provisioned (or create them, with JIT on), refuse inactive people, and start a
 * session with its `saml_sign_in` event. Every refusal is recorded with its reason and counts
 * toward the client's throttle. An admin's test sign-in takes the same path and ends with a
 * report instead of a session.
 * @module
 */
import { getIdp } from "../store/tenants.ts";
import {
  acceptAssertion,
  getSamlRequest,
  getSamlSettings,
  isSamlConfigured,
  recordRefusal,
  saveTestResult,
} from "../store/saml.ts";
import { findSignInUser, type SignInLookup, type SignInUser } from "../store/sign_in_users.ts";
import { createPersonSession } from "../store/person_sessions.ts";
import { createOrMergeUser } from "../store/users.ts";
import type { PersonSession, SamlRequestRecord, SamlSettings } from "../store/types.ts";
import { addEvent } from "../audit/events.ts";
import { isThrottled, isWithinLimit, newHitKey, throttleWindow } from "../auth/throttle.ts";
import { sameOriginPath } from "../http/paths.ts";
import type { RefusalReason } from "./reasons.ts";
import { spUrls } from "./sp.ts";
import { type AssertionFacts, type Check, validateSamlResponse } from "./validate.ts";
import { jitUserState } from "./jit.ts";

/** What the ACS received and from whom. */
export interface AcsInput {
  tenantId: string;
  idpId: string;
  /** The origin the request came to (the SP URLs are built on it). */
  origin: string;
  samlResponse: string;
  relayState?: string;
  clientIp: string;
  userAgent: string;
  requestId: string;
  /** Refused sign-ins per client address per minute before `429`. */
  limitPerMinute: number;
}

/** What the ACS answers. */
export type AcsOutcome =
  | { kind: "signed_in"; session: PersonSession; location: string }
  | { kind: "refused"; reason: RefusalReason; throttled: boolean; retryAfter: number }
  | { kind: "throttled"; retryAfter: number }
  | { kind: "test"; location: string };

/** A test sign-in's report, kept for the admin session that started it. */
export interface TestReport {
  requestId: string;
  idpId: string;
  adminId: string;
  sessionId: string;
  at: string;
  /** `accepted`, or the reason a real sign-in would have been refused. */
  outcome: "accepted" | RefusalReason;
  checks: Check[];
  /** What the signed assertion said (absent when it could not be verified). */
  received?: {
    issuer: string;
    nameId: string;
    nameIdFormat?: string;
    attributes: [string, string[]][];
  };
  /** The user a real sign-in would start a session for. */
  user?: { id: string; userName: string; status: string };
  /** True when no user matched and JIT would create one. */
  wouldCreate?: boolean;
}

/** Where an admin reads a test sign-in's report. */
export function testReportPath(idpId: string, requestId: string): string {
  return `/admin/idps/${encodeURIComponent(idpId)}/saml/test/${encodeURIComponent(requestId)}`;
}

/** Handles one POST to the ACS. */
export async function consumeAssertion(kv: Deno.Kv, input: AcsInput): Promise<AcsOutcome> {
  const now = new Date();
  const throttle = throttleWindow(input.tenantId, "saml_acs", input.clientIp, now);
  if (await isThrottled(kv, throttle, input.limitPerMinute)) {
    return { kind: "throttled", retryAfter: throttle.retryAfter };
  }
  const refuse = async (reason: RefusalReason, idpKnown: boolean, userId?: string) => {
    const hitKey = newHitKey(throttle);
    await recordRefusal(kv, {
      tenantId: input.tenantId,
      idpId: idpKnown ? input.idpId : undefined,
      reason,
      userId,
      hitKey,
      clientIp: input.clientIp,
      requestId: input.requestId,
    }, now);
    const within = await isWithinLimit(kv, throttle, hitKey, input.limitPerMinute);
    return {
      kind: "refused" as const,
      reason,
      throttled: !within,
      retryAfter: throttle.retryAfter,
    };
  };

  const [idp, settings] = await Promise.all([
    getIdp(kv, input.tenantId, input.idpId),
    getSamlSettings(kv, input.tenantId, input.idpId),
  ]);
  if (!idp) return await refuse("saml_not_configured", false);
  if (!isSamlConfigured(settings)) return await refuse("saml_not_configured", true);
  const urls = spUrls(input.origin, input.idpId);
  const v = await validateSamlResponse(settings, urls, input.samlResponse, now.getTime());

  // A test sign-in is recognised by the request it answers. Before verification that is an
  // unsigned hint, used only to show the admin why the response was refused.
  const testId = v.ok ? v.facts.inResponseTo : v.inResponseToHint;
  const pending = testId ? await getSamlRequest(kv, input.tenantId, testId) : null;
  const test = pending?.test && pending.idpId === input.idpId ? pending : null;
  const report = async (outcome: TestReport["outcome"], extra: Partial<TestReport>) => {
    await saveTestResult<TestReport>(kv, input.tenantId, test!.id, {
      requestId: test!.id,
      idpId: input.idpId,
      adminId: test!.test!.adminId,
      sessionId: test!.test!.sessionId,
      at: now.toISOString(),
      outcome,
      checks: v.checks,
      ...extra,
    });
    return { kind: "test" as const, location: testReportPath(input.idpId, test!.id) };
  };
  const refuseOrReport = async (
    reason: RefusalReason,
    extra: Partial<TestReport> = {},
    userId?: string,
  ): Promise<AcsOutcome> => {
    const refused = await refuse(reason, true, userId);
    return test ? await report(reason, extra) : refused;
  };

  if (!v.ok) return await refuseOrReport(v.reason);
  const facts = v.facts;
  const received: TestReport["received"] = {
    issuer: facts.issuer,
    nameId: facts.nameId,
    nameIdFormat: facts.nameIdFormat,
    attributes: Object.entries(facts.attributes),
  };
  const addCheck = (name: string, ok: boolean, detail: string) =>
    v.checks.push({ name, ok, detail });

  if (!facts.inResponseTo && !settings.idpInitiated) {
    addCheck("IdP-initiated allowed", false, "IdP-initiated sign-in is turned off");
    return await refuseOrReport("idp_initiated_disabled", { received });
  }
  const taken = await acceptAssertion(kv, {
    tenantId: input.tenantId,
    idpId: input.idpId,
    assertionId: facts.assertionId,
    requestId: facts.inResponseTo,
    expiresAt: facts.expiresAt,
  }, now.getTime());
  if (!taken.ok) {
    addCheck(
      "Used once",
      false,
      taken.reason === "replayed"
        ? "This assertion was already used"
        : "InResponseTo names no pending request of this connection",
    );
    return await refuseOrReport(taken.reason, { received });
  }
  addCheck("Used once", true, facts.inResponseTo ? "Answers a pending request" : "First use");

  const matchValue = settings.matchAttribute
    ? facts.attributes[settings.matchAttribute]?.[0] ?? ""
    : facts.nameId;
  const matchName = settings.matchAttribute ? `attribute ${settings.matchAttribute}` : "NameID";
  let lookup = await findSignInUser(kv, input.tenantId, input.idpId, matchValue);

  if (test) {
    const found = lookup.found;
    const active = found && found.link.value.active && found.user.value?.status === "active";
    const outcome = found
      ? (active ? "accepted" : "user_inactive")
      : (settings.jit && lookup.why === "none" ? "accepted" : "user_not_provisioned");
    addCheck(
      "User",
      outcome === "accepted",
      found
        ? `${matchName} matches user ${found.user.value?.userName ?? found.link.value.userId}${
          active ? "" : " (deactivated)"
        }`
        : settings.jit && lookup.why === "none"
        ? `No user of this IdP matches the ${matchName}: a real sign-in creates one (JIT)`
        : `No user of this IdP matches the ${matchName}`,
    );
    if (outcome !== "accepted") {
      await refuse(outcome, true, found ? found.link.value.userId : undefined);
    }
    return await report(outcome, {
      received,
      user: found
        ? {
          id: found.link.value.userId,
          userName: found.user.value?.userName ?? "",
          status: found.user.value?.status ?? "deactivated",
        }
        : undefined,
      wouldCreate: !found && settings.jit,
    });
  }

  if (!lookup.found && lookup.why === "none" && settings.jit && matchValue) {
    lookup = await createJit(kv, input, settings, matchValue, facts, idp.matchBy);
  }
  if (!lookup.found) return await refuse("user_not_provisioned", true);
  const refind = () => findSignInUser(kv, input.tenantId, input.idpId, matchValue);
  return await startSession(kv, input, lookup.found, taken.request, refuse, refind);
}

async function createJit(
  kv: Deno.Kv,
  input: AcsInput,
  settings: SamlSettings,
  userName: string,
  facts: AssertionFacts,
  matchBy: "externalId" | "userName",
) {
  try {
    await createOrMergeUser(
      kv,
      {
        tenantId: input.tenantId,
        idpId: input.idpId,
        actor: "saml-jit",
        requestId: input.requestId,
        clientIp: input.clientIp,
        matchBy,
      },
      jitUserState(userName, facts.attributes),
      { how: "SAML sign-in created (JIT)" },
    );
  } catch {
    // A concurrent creation or a clash: the lookup below decides.
  }
  return await findSignInUser(kv, settings.tenantId, settings.idpId, userName);
}

async function startSession(
  kv: Deno.Kv,
  input: AcsInput,
  found: SignInUser,
  request: SamlRequestRecord | null,
  refuse: (r: RefusalReason, idpKnown: boolean, userId?: string) => Promise<AcsOutcome>,
  refind: () => Promise<SignInLookup>,
): Promise<AcsOutcome> {
  let current: SignInUser | null = found;
  for (let attempt = 0; attempt < 3 && current; attempt++) {
    const link: SignInUser["link"] = current.link;
    const user: SignInUser["user"] = current.user;
    const userId: string = link.value.userId;
    if (!link.value.active || user.value?.status !== "active") {
      return await refuse("user_inactive", true, userId);
    }
    const session = await createPersonSession(kv, {
      tenantId: input.tenantId,
      userId,
      idpId: input.idpId,
      ip: input.clientIp,
      userAgent: input.userAgent,
      link,
      user,
      event: (op) =>
        addEvent(op, {
          tenantId: input.tenantId,
          actor: "saml",
          idpId: input.idpId,
          clientIp: input.clientIp,
          requestId: input.requestId,
        }, {
          type: "saml_sign_in",
          target: { kind: "user", id: userId },
          summary: request ? "SAML sign-in (SP-initiated)" : "SAML sign-in (IdP-initiated)",
        }),
    });
    if (session) {
      const location = request
        ? request.returnTo ?? "/me"
        : sameOriginPath(input.relayState) ?? "/me";
      return { kind: "signed_in", session, location };
    }
    // The user changed while signing in (a SCIM write): read them again and decide anew.
    const again = await refind();
    current = again.found && again.found.link.value.userId === userId ? again.found : null;
  }
  return await refuse("user_inactive", true, found.link.value.userId);
}
