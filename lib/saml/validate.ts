/**
 * Verifying a SAMLResponse (saml-core §3.3.3, saml-profiles §4.1.4.3): the XML is screened
 * (`xml_guard.ts`), node-saml verifies the signature and reads only what the signature covers,
 * and checks the Conditions' time window (2 minutes of skew) and Audience; then Weft checks, on
 * the signed assertion only, the Issuer, the bearer SubjectConfirmation (Recipient = our ACS URL,
 * NotOnOrAfter, InResponseTo) and the Response's Destination. Each step is a named check, so a
 * test sign-in can show what passed. A refusal's reason is chosen only after node-saml or a check
 * refused: no unsigned value ever makes a response acceptable.
 * @module
 */
import { z } from "zod";
import { samlLibraries } from "./libraries.ts";
import type { SamlSettings } from "../store/types.ts";
import type { RefusalReason } from "./reasons.ts";
import { CLOCK_SKEW_MS, samlVerifier, type SpUrls } from "./sp.ts";
import { decodeSamlResponse, parseXmlRoot, unsafeXml } from "./xml_guard.ts";

/** One step of the verification, as a test sign-in shows it. */
export interface Check {
  name: string;
  /** `null` when the step did not run (an earlier one failed). */
  ok: boolean | null;
  detail: string;
}

/** What a verified assertion says. */
export interface AssertionFacts {
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  /** Attribute name → its string values. */
  attributes: Record<string, string[]>;
  assertionId: string;
  /** The AuthnRequest this answers (signed); null for an IdP-initiated sign-in. */
  inResponseTo: string | null;
  /** When the assertion stops being usable, in ms (a replay mark is kept that long). */
  expiresAt: number;
}

/** The outcome of {@linkcode validateSamlResponse}. */
export type Validation =
  | { ok: true; facts: AssertionFacts; checks: Check[] }
  | {
    ok: false;
    reason: RefusalReason;
    checks: Check[];
    /** The unsigned InResponseTo of the Response, for routing a test sign-in's report only. */
    inResponseToHint: string | null;
  };

const CHECK_NAMES = [
  "Readable XML",
  "Signature",
  "Issuer",
  "Audience and time window",
  "Recipient and Destination",
  "InResponseTo",
] as const;

/** Longest id (assertion, request) Weft keeps; longer ones are refused as malformed. */
const MAX_ID = 256;

const Attrs = z.record(z.string(), z.string().optional());
const ConfirmationData = z.object({ $: Attrs.optional() }).loose();
const Confirmation = z.object({
  $: Attrs.optional(),
  SubjectConfirmationData: z.array(ConfirmationData).optional(),
}).loose();
const SignedAssertion = z.object({
  Assertion: z.object({
    $: Attrs,
    Subject: z.array(z.object({ SubjectConfirmation: z.array(Confirmation).optional() }).loose())
      .optional(),
    Conditions: z.array(z.object({ $: Attrs.optional() }).loose()).optional(),
  }).loose(),
}).loose();

const BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

class Steps {
  readonly checks: Check[] = CHECK_NAMES.map((name) => ({ name, ok: null, detail: "not run" }));
  pass(name: typeof CHECK_NAMES[number], detail: string) {
    Object.assign(this.checks.find((c) => c.name === name)!, { ok: true, detail });
  }
  fail(name: typeof CHECK_NAMES[number], detail: string) {
    Object.assign(this.checks.find((c) => c.name === name)!, { ok: false, detail });
  }
}

/** The Response element's own (unsigned) attributes, read to route and to refuse, never to accept. */
async function readEnvelope(xml: string): Promise<
  {
    destination: string | null;
    inResponseTo: string | null;
    hasSignature: boolean;
  } | null
> {
  const root = await parseXmlRoot(xml);
  if (!root || root.localName !== "Response") return null;
  return {
    destination: root.getAttribute("Destination") || null,
    inResponseTo: root.getAttribute("InResponseTo") || null,
    hasSignature:
      root.getElementsByTagNameNS("http://www.w3.org/2000/09/xmldsig#", "Signature").length > 0,
  };
}

/** The reason for an error node-saml raised while verifying (it refused; this only names why). */
async function classify(
  error: unknown,
  hasSignature: boolean,
): Promise<{ reason: RefusalReason; step: string }> {
  const { SamlStatusError } = (await samlLibraries()).nodeSaml;
  if (error instanceof SamlStatusError) return { reason: "malformed", step: "Signature" };
  const message = error instanceof Error ? error.message : String(error);
  if (/not yet valid/i.test(message)) {
    return { reason: "not_yet_valid", step: "Audience and time window" };
  }
  if (/expired/i.test(message)) return { reason: "expired", step: "Audience and time window" };
  if (/audience/i.test(message)) {
    return { reason: "audience_mismatch", step: "Audience and time window" };
  }
  if (/signature|signed/i.test(message)) {
    return { reason: hasSignature ? "signature_invalid" : "unsigned", step: "Signature" };
  }
  return { reason: "malformed", step: "Signature" };
}

function stringValues(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return [];
}

/** Verifies a base64 `SAMLResponse` for the connection's settings and SP URLs. */
export async function validateSamlResponse(
  settings: SamlSettings,
  urls: SpUrls,
  samlResponse: string,
  now = Date.now(),
): Promise<Validation> {
  const steps = new Steps();
  let hint: string | null = null;
  const refuse = (
    reason: RefusalReason,
    step: typeof CHECK_NAMES[number],
    detail: string,
  ): Validation => {
    steps.fail(step, detail);
    return { ok: false, reason, checks: steps.checks, inResponseToHint: hint };
  };
  const xml = decodeSamlResponse(samlResponse);
  if (xml === null) {
    return refuse("malformed", "Readable XML", "SAMLResponse is not base64 of UTF-8 text");
  }
  const unsafe = unsafeXml(xml);
  if (unsafe) return refuse("malformed", "Readable XML", `The XML was refused: ${unsafe}`);
  const envelope = await readEnvelope(xml);
  if (!envelope) return refuse("malformed", "Readable XML", "The XML is not a SAML Response");
  hint = envelope.inResponseTo;
  steps.pass("Readable XML", "A SAML Response");

  let profile;
  try {
    ({ profile } = await (await samlVerifier(settings, urls)).validatePostResponseAsync({
      SAMLResponse: samlResponse,
    }));
  } catch (error) {
    const { reason, step } = await classify(error, envelope.hasSignature);
    if (step !== "Signature") steps.pass("Signature", "Signed by a trusted certificate");
    const message = error instanceof Error ? error.message : String(error);
    return refuse(reason, step as typeof CHECK_NAMES[number], message.slice(0, 300));
  }
  if (!profile) return refuse("malformed", "Signature", "The response carries no assertion");
  steps.pass("Signature", "Signed by a trusted certificate");
  steps.pass("Audience and time window", `Audience is ${urls.entityId}; within the time window`);

  // From here on only the signed assertion is read.
  if (profile.issuer !== settings.entityId) {
    return refuse(
      "issuer_mismatch",
      "Issuer",
      `Issued by “${String(profile.issuer ?? "")}”, expected “${settings.entityId}”`,
    );
  }
  steps.pass("Issuer", `Issued by ${settings.entityId}`);

  const parsed = SignedAssertion.safeParse(profile.getAssertion?.());
  if (!parsed.success) {
    return refuse("malformed", "Recipient and Destination", "Unreadable assertion");
  }
  const assertion = parsed.data.Assertion;
  const assertionId = assertion.$.ID ?? "";
  if (!assertionId || assertionId.length > MAX_ID) {
    return refuse("malformed", "Recipient and Destination", "The assertion has no usable ID");
  }
  const bearer = (assertion.Subject?.[0]?.SubjectConfirmation ?? [])
    .filter((c) => c.$?.Method === BEARER)
    .map((c) => c.SubjectConfirmationData?.[0]?.$ ?? {});
  const forUs = bearer.filter((d) => d.Recipient === urls.acsUrl);
  if (forUs.length === 0) {
    return refuse(
      "destination_mismatch",
      "Recipient and Destination",
      bearer.length ? `Recipient is not ${urls.acsUrl}` : "No bearer SubjectConfirmation",
    );
  }
  if (envelope.destination !== null && envelope.destination !== urls.acsUrl) {
    return refuse(
      "destination_mismatch",
      "Recipient and Destination",
      `Destination is not ${urls.acsUrl}`,
    );
  }
  const timely = forUs.filter((d) => {
    const until = Date.parse(d.NotOnOrAfter ?? "");
    const from = d.NotBefore ? Date.parse(d.NotBefore) : -Infinity;
    return Number.isFinite(until) && now - CLOCK_SKEW_MS < until && now + CLOCK_SKEW_MS >= from;
  });
  if (timely.length === 0) {
    const future = forUs.some((d) => d.NotBefore && now + CLOCK_SKEW_MS < Date.parse(d.NotBefore));
    return refuse(
      future ? "not_yet_valid" : "expired",
      "Audience and time window",
      "The subject confirmation is outside its time window (or has no NotOnOrAfter)",
    );
  }
  steps.pass("Recipient and Destination", `Addressed to ${urls.acsUrl}`);

  const confirmation = timely[0];
  const inResponseTo = confirmation.InResponseTo || null;
  if (inResponseTo !== null && inResponseTo.length > MAX_ID) {
    return refuse("malformed", "InResponseTo", "InResponseTo is too long");
  }
  if (envelope.inResponseTo !== null && envelope.inResponseTo !== inResponseTo) {
    return refuse(
      "unknown_request",
      "InResponseTo",
      "The Response's InResponseTo is not the one the signed assertion answers",
    );
  }
  steps.pass(
    "InResponseTo",
    inResponseTo ? "Answers an AuthnRequest (checked against the store next)" : "IdP-initiated",
  );

  const untils = [
    Date.parse(confirmation.NotOnOrAfter ?? ""),
    Date.parse(assertion.Conditions?.[0]?.$?.NotOnOrAfter ?? ""),
  ].filter(Number.isFinite);
  const attributes: Record<string, string[]> = {};
  const raw = profile.attributes;
  if (raw && typeof raw === "object") {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      const values = stringValues(v);
      if (values.length) attributes[k] = values;
    }
  }
  const nameId = typeof profile.nameID === "string" ? profile.nameID : "";
  return {
    ok: true,
    checks: steps.checks,
    facts: {
      issuer: settings.entityId!,
      nameId,
      nameIdFormat: typeof profile.nameIDFormat === "string" ? profile.nameIDFormat : undefined,
      attributes,
      assertionId,
      inResponseTo,
      expiresAt: Math.max(...untils) + CLOCK_SKEW_MS,
    },
  };
}
