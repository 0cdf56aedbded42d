/**
 * The Assertion Consumer Service's work, after the HTTP edge: throttle, verify the response,
 * take the assertion once (replay and InResponseTo against KV), find the person among the users
 * the signing IdP provisioned (or create them, with JIT on), refuse inactive people, and start a
 * session with its `saml_sign_in` event. Every refusal is recorded with its reason and counts
 * toward the client's throttle. An admin's test sign-in takes the same path and ends with a
 * report instead of a session.
 * @module
 */
import {
  acceptAssertion,
  type AssertionUse,
  getSamlConnection,
  getSamlRequest,
  isSamlConfigured,
  readAssertionUse,
  recordRefusal,
  saveTestResult,
  useAssertionIn,
} from "../store/saml.ts";
import { findSignInUser, type SignInUser } from "../store/sign_in_users.ts";
import { createPersonSession } from "../store/person_sessions.ts";
import { createOrMergeUser } from "../store/users.ts";
import type { PersonSession, SamlRequestRecord, SamlSettings } from "../store/types.ts";
import { addEvent } from "../store/events.ts";
import { samlRefusals } from "../metrics/counters.ts";
import { isThrottled, isWithinLimit, newHitKey, throttleWindow } from "../store/throttle.ts";
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
  const refuse = async (reason: RefusalReason, idpKnown = true, userId?: string) => {
    const hitKey = newHitKey(throttle);
    samlRefusals.inc({ reason });
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

  const { idp, settings } = await getSamlConnection(kv, input.tenantId, input.idpId);
  if (!idp) return await refuse("saml_not_configured", false);
  if (!isSamlConfigured(settings)) return await refuse("saml_not_configured");
  const urls = spUrls(input.origin, input.idpId);
  const v = await validateSamlResponse(settings, urls, input.samlResponse, now.getTime());

  /** The admin's test request a response answers, if it is one. */
  const testRequest = async (id: string | null) => {
    const pending = id ? await getSamlRequest(kv, input.tenantId, id) : null;
    return pending?.test && pending.idpId === input.idpId ? pending : null;
  };
  const report = async (
    test: SamlRequestRecord,
    outcome: TestReport["outcome"],
    extra: Partial<TestReport>,
  ) => {
    await saveTestResult<TestReport>(kv, input.tenantId, test.id, {
      requestId: test.id,
      idpId: input.idpId,
      adminId: test.test!.adminId,
      sessionId: test.test!.sessionId,
      at: now.toISOString(),
      outcome,
      checks: v.checks,
      ...extra,
    });
    return { kind: "test" as const, location: testReportPath(input.idpId, test.id) };
  };

  // Before verification the request a response names is an unsigned hint: it is used only to
  // show an admin's test sign-in why the response was refused.
  if (!v.ok) {
    const test = await testRequest(v.inResponseToHint);
    const refused = await refuse(v.reason);
    return test ? await report(test, v.reason, {}) : refused;
  }
  const facts = v.facts;
  const received: TestReport["received"] = {
    issuer: facts.issuer,
    nameId: facts.nameId,
    nameIdFormat: facts.nameIdFormat,
    attributes: Object.entries(facts.attributes),
  };
  const addCheck = (name: string, ok: boolean, detail: string) =>
    v.checks.push({ name, ok, detail });
  const use: AssertionUse = {
    tenantId: input.tenantId,
    idpId: input.idpId,
    assertionId: facts.assertionId,
    requestId: facts.inResponseTo,
    expiresAt: facts.expiresAt,
  };
  /** Refuses a verified assertion, which is used up all the same (no replay after a change). */
  const refuseUsed = async (reason: RefusalReason, userId?: string) => {
    await acceptAssertion(kv, use, now.getTime());
    return await refuse(reason, true, userId);
  };

  if (!facts.inResponseTo && !settings.idpInitiated) {
    return await refuseUsed("idp_initiated_disabled");
  }
  const matchValue = settings.matchAttribute
    ? facts.attributes[settings.matchAttribute]?.[0] ?? ""
    : facts.nameId;
  const matchName = settings.matchAttribute ? `attribute ${settings.matchAttribute}` : "NameID";
  // The assertion's use and the user are read together (two independent reads).
  const [read, firstLookup] = await Promise.all([
    readAssertionUse(kv, use),
    findSignInUser(kv, input.tenantId, input.idpId, matchValue),
  ]);
  let lookup = firstLookup;
  if (!read.ok) {
    addCheck(
      "Used once",
      false,
      read.reason === "replayed"
        ? "This assertion was already used"
        : "InResponseTo names no pending request of this connection",
    );
    const test = await testRequest(facts.inResponseTo);
    const refused = await refuse(read.reason);
    return test ? await report(test, read.reason, { received }) : refused;
  }

  const test = read.request?.test ? read.request : null;
  if (test) {
    const taken = await acceptAssertion(kv, use, now.getTime());
    if (!taken.ok) {
      addCheck("Used once", false, "This assertion or its request was used meanwhile");
      await refuse(taken.reason);
      return await report(test, taken.reason, { received });
    }
    addCheck("Used once", true, "Answers a pending request");
    const found = lookup.found;
    const active = found && found.link.value.active && found.user.value?.status === "active";
    const jitWould = !found && settings.jit && lookup.why === "none" && matchValue !== "";
    const outcome = found
      ? (active ? "accepted" : "user_inactive")
      : (jitWould ? "accepted" : "user_not_provisioned");
    addCheck(
      "User",
      outcome === "accepted",
      found
        ? `${matchName} matches user ${found.user.value?.userName ?? found.link.value.userId}${
          active ? "" : " (deactivated)"
        }`
        : jitWould
        ? `No user of this IdP matches the ${matchName}: a real sign-in creates one (JIT)`
        : `No user of this IdP matches the ${matchName}`,
    );
    if (outcome !== "accepted") await refuse(outcome, true, found?.link.value.userId);
    return await report(test, outcome, {
      received,
      user: found
        ? {
          id: found.link.value.userId,
          userName: found.user.value?.userName ?? "",
          status: found.user.value?.status ?? "deactivated",
        }
        : undefined,
      wouldCreate: jitWould,
    });
  }

  if (!lookup.found && lookup.why === "none" && settings.jit && matchValue) {
    lookup = await createJit(kv, input, settings, matchValue, facts, idp.matchBy);
  }
  if (!lookup.found) return await refuseUsed("user_not_provisioned");

  // The session, its event and the assertion's use are one write: a sign-in is recorded whole.
  let current: SignInUser | null = lookup.found;
  let usable = read;
  for (let attempt = 0; attempt < 3 && current; attempt++) {
    const link: SignInUser["link"] = current.link;
    const user: SignInUser["user"] = current.user;
    const userId: string = link.value.userId;
    if (!link.value.active || user.value?.status !== "active") {
      return await refuseUsed("user_inactive", userId);
    }
    const session = await createPersonSession(kv, {
      tenantId: input.tenantId,
      userId,
      idpId: input.idpId,
      ip: input.clientIp,
      userAgent: input.userAgent,
      link,
      user,
      also: (op) => {
        useAssertionIn(op, use, usable, now.getTime());
        addEvent(op, {
          tenantId: input.tenantId,
          actor: "saml",
          idpId: input.idpId,
          clientIp: input.clientIp,
          requestId: input.requestId,
        }, {
          type: "saml_sign_in",
          target: { kind: "user", id: userId },
          summary: usable.request ? "SAML sign-in (SP-initiated)" : "SAML sign-in (IdP-initiated)",
        });
      },
    });
    if (session) {
      const location = usable.request
        ? usable.request.returnTo ?? "/me"
        : sameOriginPath(input.relayState) ?? "/me";
      return { kind: "signed_in", session, location };
    }
    // Lost to a concurrent write: the assertion was used elsewhere, or the user changed.
    const again = await readAssertionUse(kv, use);
    if (!again.ok) return await refuse(again.reason);
    usable = again;
    const found = (await findSignInUser(kv, input.tenantId, input.idpId, matchValue)).found;
    current = found && found.link.value.userId === userId ? found : null;
  }
  return await refuseUsed("user_inactive", lookup.found.link.value.userId);
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
