import assert from "node:assert/strict";
import { describeCertificate, makeKeyPair, readCertificates } from "./x509.ts";

Deno.test("makeKeyPair() makes a self-signed certificate describeCertificate() reads", () => {
  const notAfter = new Date("2031-05-01T00:00:00Z");
  const kp = makeKeyPair({ commonName: "Weft SP", notAfter });
  const info = describeCertificate(kp.certificate)!;
  assert.equal(info.subject, "CN=Weft SP");
  assert.equal(info.notAfter, notAfter.toISOString());
  assert.match(info.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(
    describeCertificate("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
    null,
  );
});

Deno.test("readCertificates() takes PEM blocks or one bare base64 body, readable ones only", () => {
  const a = makeKeyPair().certificate;
  const b = makeKeyPair().certificate;
  assert.deepEqual(readCertificates(`junk\n${a}\nmore\n${b}`), [a, b]);
  const bare = a.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  assert.deepEqual(readCertificates(bare), [a]);
  assert.deepEqual(readCertificates("hello"), []);
});
