/**
 * The operator CLI's SAML words, run as an operator would (`deno run cli.ts …` on a store file):
 * `idp saml` by flags and by metadata file, `idp show`, and `user revoke-sessions`.
 * @module
 */
import assert from "node:assert/strict";
import { makeKeyPair } from "./_cert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function weft(dir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", "cli.ts", ...args],
    cwd: ROOT,
    env: { WEFT_KV_PATH: `${dir}/weft.kv`, WEFT_LOG: "off", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: res.code, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
}

Deno.test({
  name: "CLI - idp saml sets a connection up and prints what to paste; idp show prints it all",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weft-cli-saml-" });
    try {
      assert.equal((await weft(dir, "tenant", "create", "acme")).code, 0);
      const made = await weft(
        dir,
        "idp",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Okta",
        "--kind",
        "okta",
      );
      const idpId = /Created IdP (\S+)/.exec(made.out)![1];
      const a = makeKeyPair({ commonName: "Okta 2026" });
      const b = makeKeyPair({ commonName: "Okta 2027" });
      await Deno.writeTextFile(`${dir}/a.pem`, a.certificate);
      await Deno.writeTextFile(`${dir}/b.pem`, b.certificate);
      await Deno.writeTextFile(`${dir}/bad.pem`, "hello");
      const bad = await weft(
        dir,
        "idp",
        "saml",
        "--tenant",
        "acme",
        "--idp",
        idpId,
        "--entity-id",
        "x",
        "--sso-url",
        "https://idp/sso",
        "--cert-file",
        `${dir}/bad.pem`,
      );
      assert.equal(bad.code, 2);
      assert.match(bad.out, /holds no readable certificate/);
      const set = await weft(
        dir,
        "idp",
        "saml",
        "--tenant",
        "acme",
        "--idp",
        idpId,
        "--entity-id",
        "http://www.okta.com/exk1",
        "--sso-url",
        "https://acme.okta.com/app/x/sso/saml",
        "--cert-file",
        `${dir}/a.pem`,
        "--cert-file",
        `${dir}/b.pem`,
        "--idp-initiated",
        "false",
        "--jit",
        "true",
      );
      assert.equal(set.code, 0, set.out);
      const origin = "http://acme.localhost:8000";
      assert.ok(set.out.includes(`SP entity ID (Audience URI): ${origin}/saml/${idpId}/metadata`));
      assert.ok(set.out.includes(`ACS URL (Single sign-on URL): ${origin}/saml/${idpId}/acs`));
      assert.ok(set.out.includes(`Metadata URL: ${origin}/saml/${idpId}/metadata`));
      const show = await weft(dir, "idp", "show", "--tenant", "acme", "--idp", idpId);
      assert.equal(show.code, 0, show.out);
      assert.ok(show.out.includes(`base URL: ${origin}/scim/v2/inbound/${idpId}/`));
      assert.match(show.out, /IdP entity ID: http:\/\/www\.okta\.com\/exk1/);
      assert.match(show.out, /IdP-initiated sign-in: false/);
      assert.match(show.out, /just-in-time creation: true/);
      assert.match(show.out, /trusted certificates: 2/);
      assert.match(show.out, /CN=Okta 2027/);
      // Metadata file; flags not given keep their values.
      const body = a.certificate.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
      await Deno.writeTextFile(
        `${dir}/md.xml`,
        `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sts.windows.net/t/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>${body}</X509Certificate></X509Data></KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/t/saml2"/></md:IDPSSODescriptor></md:EntityDescriptor>`,
      );
      const md = await weft(
        dir,
        "idp",
        "saml",
        "--tenant",
        "acme",
        "--idp",
        idpId,
        "--metadata-file",
        `${dir}/md.xml`,
      );
      assert.equal(md.code, 0, md.out);
      const again = await weft(dir, "idp", "show", "--tenant", "acme", "--idp", idpId);
      assert.match(again.out, /IdP SSO URL: https:\/\/login\.microsoftonline\.com\/t\/saml2/);
      assert.match(again.out, /trusted certificates: 1/);
      assert.match(again.out, /just-in-time creation: true/);
      // Usage errors.
      assert.equal((await weft(dir, "idp", "saml", "--tenant", "acme", "--idp", idpId)).code, 2);
      assert.equal((await weft(dir, "idp", "show", "--tenant", "acme", "--idp", "nope")).code, 2);
      const none = await weft(dir, "user", "revoke-sessions", "--tenant", "acme", "--user", "nope");
      assert.equal(none.code, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
