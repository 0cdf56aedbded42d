/**
 * XML signature wrapping (XSW1–XSW8, after Somorovsky et al., "On Breaking SAML", 2012, and
 * SAML Raider's catalogue), comments and extra text nodes inside the NameID, and unsigned
 * assertions in signed-looking envelopes. The attacker holds a genuinely signed response for
 * their own account and tries to turn it into a sign-in as the victim: every shape is refused,
 * or signs in as the attacker, never as the victim.
 * @module
 */
import assert from "node:assert/strict";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import { createSamlTestApp, personCookie, type SamlTestApp } from "./_app.ts";
import { samlId, signedResponse, type Signing } from "./_idp.ts";
import { listEvents } from "../../lib/store/events.ts";

const DS = "http://www.w3.org/2000/09/xmldsig#";
const SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML = "urn:oasis:names:tc:SAML:2.0:assertion";
const VICTIM = "admin@x.test";
const ATTACKER = "attacker@x.test";

type El = Element;

function parse(xml: string) {
  return new DOMParser().parseFromString(xml, "text/xml");
}

function serialize(node: unknown): string {
  return new XMLSerializer().serializeToString(node as Node);
}

function child(parent: El, ns: string, name: string): El | undefined {
  return Array.from(parent.childNodes).find((n) =>
    (n as El).localName === name && (n as El).namespaceURI === ns
  ) as El | undefined;
}

function setText(el: El, text: string): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument.createTextNode(text));
}

/** A copy of the assertion naming the victim, with a new ID and without its signature. */
function evilAssertion(original: El): El {
  const evil = original.cloneNode(true) as El;
  evil.setAttribute("ID", samlId());
  const sig = child(evil, DS, "Signature");
  if (sig) evil.removeChild(sig);
  setText(evil.getElementsByTagNameNS(SAML, "NameID")[0], VICTIM);
  return evil;
}

/** The eight wrapping shapes, each built from a genuine signed response of the attacker. */
const SHAPES: Record<string, { signing: Signing; wrap: (xml: string) => string }> = {
  // Response signed: a new Response around the evil assertion, the original inside its Signature.
  XSW1: {
    signing: "response",
    wrap(xml) {
      const doc = parse(xml);
      const original = doc.documentElement as unknown as El;
      const evil = original.cloneNode(true) as El;
      evil.setAttribute("ID", samlId());
      const sig = child(evil, DS, "Signature")!;
      const assertion = child(evil, SAML, "Assertion")!;
      evil.replaceChild(evilAssertion(assertion), assertion);
      const originalCopy = original.cloneNode(true) as El;
      sig.appendChild(originalCopy);
      return serialize(evil);
    },
  },
  // Response signed: the original Response as a sibling before the (detached) signature.
  XSW2: {
    signing: "response",
    wrap(xml) {
      const doc = parse(xml);
      const original = doc.documentElement as unknown as El;
      const evil = original.cloneNode(true) as El;
      evil.setAttribute("ID", samlId());
      const sig = child(evil, DS, "Signature")!;
      const assertion = child(evil, SAML, "Assertion")!;
      evil.replaceChild(evilAssertion(assertion), assertion);
      const originalCopy = original.cloneNode(true) as El;
      originalCopy.removeChild(child(originalCopy, DS, "Signature")!);
      evil.insertBefore(originalCopy, sig);
      return serialize(evil);
    },
  },
  // Assertion signed: the evil assertion before the signed one.
  XSW3: {
    signing: "assertion",
    wrap(xml) {
      const doc = parse(xml);
      const root = doc.documentElement as unknown as El;
      const signed = child(root, SAML, "Assertion")!;
      root.insertBefore(evilAssertion(signed), signed);
      return serialize(doc);
    },
  },
  // Assertion signed: the evil assertion wraps the signed one.
  XSW4: {
    signing: "assertion",
    wrap(xml) {
      const doc = parse(xml);
      const root = doc.documentElement as unknown as El;
      const signed = child(root, SAML, "Assertion")!;
      const evil = evilAssertion(signed);
      root.replaceChild(evil, signed);
      evil.appendChild(signed);
      return serialize(doc);
    },
  },
  // Assertion signed: the signed assertion's values changed in place, an unchanged copy
  // (without signature) appended for the digest to find.
  XSW5: {
    signing: "assertion",
    wrap(xml) {
      const doc = parse(xml);
      const root = doc.documentElement as unknown as El;
      const signed = child(root, SAML, "Assertion")!;
      const copy = signed.cloneNode(true) as El;
      copy.removeChild(child(copy, DS, "Signature")!);
      setText(signed.getElementsByTagNameNS(SAML, "NameID")[0], VICTIM);
      signed.setAttribute("ID", samlId());
      root.appendChild(copy);
      return serialize(doc);
    },
  },
  // Assertion signed: the changed assertion keeps the signature; the original sits inside it.
  XSW6: {
    signing: "assertion",
    wrap(xml) {
      const doc = parse(xml);
      const root = doc.documentElement as unknown as El;
      const signed = child(root, SAML, "Assertion")!;
      const original = signed.cloneNode(true) as El;
      original.removeChild(child(original, DS, "Signature")!);
      setText(signed.getElementsByTagNameNS(SAML, "NameID")[0], VICTIM);
      signed.setAttribute("ID", samlId());
      child(signed, DS, "Signature")!.appendChild(original);
      return serialize(doc);
    },
  },
  // Assertion signed: the signed assertion hidden in an Extensions element, the evil one beside.
  XSW7: {
    signing: "assertion",
    wrap(xml) {
      const doc = parse(xml);
      const root = doc.documentElement as unknown as El;
      const signed = child(root, SAML, "Assertion")!;
      const ext = doc.createElementNS(SAMLP, "samlp:Extensions") as unknown as El;
      root.replaceChild(evilAssertion(signed), signed);
      ext.appendChild(signed);
      root.insertBefore(ext, root.firstChild!.nextSibling);
      return serialize(doc);
    },
  },
  // Assertion signed: the evil assertion carries the signature, with the original (signature
  // removed) in an Object element inside it.
  XSW8: {
    signing: "assertion",
    wrap(xml) {
      const doc = parse(xml);
      const root = doc.documentElement as unknown as El;
      const signed = child(root, SAML, "Assertion")!;
      const sig = child(signed, DS, "Signature")!;
      const evil = evilAssertion(signed);
      const object = doc.createElementNS(DS, "ds:Object") as unknown as El;
      const original = signed.cloneNode(true) as El;
      original.removeChild(child(original, DS, "Signature")!);
      object.appendChild(original);
      const movedSig = sig.cloneNode(true) as El;
      movedSig.appendChild(object);
      evil.insertBefore(movedSig, evil.firstChild!.nextSibling);
      root.replaceChild(evil, signed);
      return serialize(doc);
    },
  },
};

async function victimSignIns(t: SamlTestApp, victimId: string): Promise<number> {
  const { events } = await listEvents(t.kv, t.tenant.id, { type: "saml_sign_in", limit: 500 });
  return events.filter((e) => e.target?.id === victimId).length;
}

async function setup() {
  const t = await createSamlTestApp();
  const victim = await t.provision({ userName: VICTIM, emails: [{ value: VICTIM, type: "work" }] });
  await t.provision({ userName: ATTACKER, emails: [{ value: ATTACKER, type: "work" }] });
  return { t, victim };
}

for (const [name, shape] of Object.entries(SHAPES)) {
  Deno.test(`SAML wrapping - ${name} is refused and never signs the victim in`, async () => {
    const { t, victim } = await setup();
    try {
      // Both IdP-initiated and SP-initiated variants.
      for (const sp of [false, true]) {
        const requestId = sp ? (await t.startLogin()).requestId : undefined;
        const genuine = signedResponse(
          {
            issuer: "http://www.okta.com/exk1test",
            audience: t.urls.entityId,
            acsUrl: t.urls.acsUrl,
            nameId: ATTACKER,
            inResponseTo: requestId,
          },
          t.key,
          shape.signing,
        );
        const wrapped = shape.wrap(genuine);
        assert.ok(wrapped.includes(VICTIM), "the shape names the victim");
        const res = await t.acs(wrapped);
        const text = await res.text();
        assert.equal(
          res.status,
          403,
          `${name} was not refused: ${res.status} ${text.slice(0, 300)}`,
        );
        assert.equal(res.headers.get("set-cookie"), null);
        assert.match(text, /<code>(signature_invalid|malformed|unsigned)<\/code>/);
      }
      assert.equal(await victimSignIns(t, victim.id), 0);
    } finally {
      t.close();
    }
  });
}

Deno.test("SAML wrapping - an unsigned assertion in a signed-looking envelope is refused", async () => {
  const { t, victim } = await setup();
  try {
    // A genuine signed Response whose assertion is swapped for an unsigned one naming the victim.
    const genuine = t.response({ nameId: ATTACKER }, "response");
    const doc = parse(genuine);
    const root = doc.documentElement as unknown as El;
    const assertion = child(root, SAML, "Assertion")!;
    const evil = evilAssertion(assertion);
    evil.setAttribute("ID", assertion.getAttribute("ID")!);
    root.replaceChild(evil, assertion);
    const res = await t.acs(serialize(doc));
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<code>signature_invalid<\/code>/);
    // A signature element copied from another document onto an unsigned assertion.
    const other = t.response({ nameId: ATTACKER });
    const sig = serialize(
      child(
        child(parse(other).documentElement as unknown as El, SAML, "Assertion")!,
        DS,
        "Signature",
      )!,
    );
    const unsigned = t.response({ nameId: VICTIM }, "none").replace(
      /(<saml:Assertion[^>]*><saml:Issuer>[^<]*<\/saml:Issuer>)/,
      `$1${sig}`,
    );
    const res2 = await t.acs(unsigned);
    assert.equal(res2.status, 403);
    assert.match(await res2.text(), /<code>signature_invalid<\/code>/);
    assert.equal(await victimSignIns(t, victim.id), 0);
  } finally {
    t.close();
  }
});

Deno.test("SAML wrapping - a comment or extra text node in the NameID cannot shorten it", async () => {
  const { t, victim } = await setup();
  try {
    // The attacker's IdP account is admin@x.test.evil.example, and it is provisioned here too.
    const evilName = `${VICTIM}.evil.example`;
    const evilUser = await t.provision({ userName: evilName, displayName: "Evil" });
    // (a) a comment inserted after signing (exclusive c14n drops comments: the digest holds).
    const signed = t.response({ nameId: evilName });
    const tampered = signed.replace(`>${evilName}<`, `>${VICTIM}<!---->.evil.example<`);
    assert.notEqual(tampered, signed);
    // (b) the IdP itself signed a NameID holding a comment and a split text node.
    const split = t.response({
      nameId: evilName,
      nameIdXml: `${VICTIM}<!--x-->.evil<![CDATA[.example]]>`,
    });
    // node-saml reads the NameID from the canonical signed bytes: the whole name, as signed.
    for (const xml of [tampered, split]) {
      const res = await t.acs(xml);
      assert.equal(res.status, 303, await res.text());
      const me = await (await t.get("/me", personCookie(res))).text();
      assert.ok(me.includes(`<dd>${evilName}</dd>`), "signed in as the full NameID");
      assert.ok(!me.includes(`<dd>${VICTIM}</dd>`));
    }
    assert.equal(await victimSignIns(t, victim.id), 0);
    const { events } = await listEvents(t.kv, t.tenant.id, { type: "saml_sign_in" });
    assert.ok(events.every((e) => e.target?.id === evilUser.id));
  } finally {
    t.close();
  }
});
