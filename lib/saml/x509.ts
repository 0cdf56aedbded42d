/**
 * X.509 certificates of SAML connections: reading the IdP's (subject, SHA-256 fingerprint,
 * validity) and making the SP's own self-signed one for its key pair. Certificates are parsed by
 * `node:crypto`; the SP certificate is DER-encoded by the few ASN.1 builders below (RFC 5280
 * §4.1) and signed with RSA-SHA256. Signatures of SAML messages are never checked here.
 * @module
 */
import { createSign, generateKeyPairSync, X509Certificate } from "node:crypto";

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, body: Uint8Array | number[]): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  return Uint8Array.from([tag, ...len(b.length), ...b]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const seq = (...parts: Uint8Array[]) => tlv(0x30, concat(...parts));
const set = (...parts: Uint8Array[]) => tlv(0x31, concat(...parts));

function integer(n: Uint8Array): Uint8Array {
  let bytes = [...n];
  while (bytes.length > 1 && bytes[0] === 0 && bytes[1] < 0x80) bytes = bytes.slice(1);
  if (bytes[0] >= 0x80) bytes.unshift(0);
  return tlv(0x02, bytes);
}

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk: number[] = [];
    for (let v = n;; v = Math.floor(v / 128)) {
      chunk.unshift((v % 128) | (chunk.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...chunk);
  }
  return tlv(0x06, out);
}

function time(d: Date): Uint8Array {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  const y = d.getUTCFullYear();
  // UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5).
  return y >= 1950 && y < 2050
    ? tlv(0x17, [...new TextEncoder().encode(iso.slice(2))])
    : tlv(0x18, [...new TextEncoder().encode(iso)]);
}

function name(cn: string): Uint8Array {
  return seq(set(seq(oid("2.5.4.3"), tlv(0x0c, [...new TextEncoder().encode(cn)]))));
}

function pem(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

/** A key pair and its self-signed certificate, all PEM. */
export interface KeyPair {
  privateKey: string;
  publicKey: string;
  certificate: string;
}

/** Options of {@linkcode makeKeyPair}. */
export interface KeyPairOptions {
  commonName?: string;
  notBefore?: Date;
  notAfter?: Date;
}

/** Makes an RSA-2048 key pair and a self-signed SHA-256 certificate for it. */
export function makeKeyPair(options: KeyPairOptions = {}): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const sha256WithRsa = seq(oid("1.2.840.113549.1.1.11"), tlv(0x05, []));
  const subject = name(options.commonName ?? "Weft");
  const notBefore = options.notBefore ?? new Date(Date.now() - 86_400_000);
  const notAfter = options.notAfter ?? new Date(Date.now() + 10 * 365 * 86_400_000);
  const tbs = seq(
    tlv(0xa0, integer(Uint8Array.of(2))),
    integer(crypto.getRandomValues(new Uint8Array(12))),
    sha256WithRsa,
    subject,
    seq(time(notBefore), time(notAfter)),
    subject,
    spki,
  );
  const signature = createSign("RSA-SHA256").update(tbs).sign(privateKey);
  const cert = seq(tbs, sha256WithRsa, tlv(0x03, concat(Uint8Array.of(0), signature)));
  return {
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
    certificate: pem("CERTIFICATE", cert),
  };
}

/** What the console shows of a certificate. */
export interface CertificateInfo {
  subject: string;
  /** `AB:CD:…`, SHA-256 of the DER. */
  fingerprint: string;
  notBefore: string;
  notAfter: string;
}

/** Certificates already read (a pure function of the text, so any instance may keep them). */
const described = new Map<string, CertificateInfo | null>();

/** Reads a PEM certificate; null when it is not one. */
export function describeCertificate(pemText: string): CertificateInfo | null {
  const known = described.get(pemText);
  if (known !== undefined) return known;
  const info = readCertificate(pemText);
  if (described.size >= 1000) described.clear();
  described.set(pemText, info);
  return info;
}

function readCertificate(pemText: string): CertificateInfo | null {
  try {
    const x = new X509Certificate(pemText);
    return {
      subject: x.subject.replaceAll("\n", ", "),
      fingerprint: x.fingerprint256,
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
    };
  } catch {
    return null;
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/**
 * The certificates in pasted text, as canonical PEM: PEM blocks, or one bare base64 body (what
 * metadata's `X509Certificate` and some IdP consoles give). Only readable certificates count.
 */
export function readCertificates(text: string): string[] {
  const bodies = [...text.matchAll(PEM_BLOCK)].map((m) => m[1]);
  if (bodies.length === 0 && /^[A-Za-z0-9+/=\s]+$/.test(text.trim())) bodies.push(text);
  const out: string[] = [];
  for (const b of bodies) {
    const clean = b.replace(/\s+/g, "");
    if (!clean) continue;
    const pemText = `-----BEGIN CERTIFICATE-----\n${
      clean.match(/.{1,64}/g)!.join("\n")
    }\n-----END CERTIFICATE-----\n`;
    if (describeCertificate(pemText)) out.push(pemText);
  }
  return out;
}
