/**
 * The webhook SSRF guard: a webhook URL must be `https`, and every address its host resolves to
 * must be public — never loopback, private, link-local, CGNAT, "this network", multicast,
 * broadcast, cloud metadata, or an IPv4-mapped IPv6 form of those. Checked when an endpoint is
 * created or edited, and again before every attempt (DNS can change); redirects are never
 * followed. `WEFT_WEBHOOK_ALLOW_PRIVATE=true` allows `http` and non-public addresses (development
 * and tests), except the metadata addresses, which are refused always.
 *
 * Known limit: the address is resolved here and again by `fetch`, so a name whose DNS answer
 * changes between the two (rebinding) could slip through; the check before every attempt keeps
 * that window to one attempt.
 * @module
 */

/** Why a URL is refused: its message is shown to the admin as is. */
export class WebhookUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookUrlError";
  }
}

/** Options of {@linkcode checkWebhookUrl}. */
export interface UrlCheckOptions {
  allowPrivate: boolean;
  /** Resolves a host name to its addresses (default: `Deno.resolveDns` A and AAAA). */
  resolve?: (host: string) => Promise<string[]>;
}

/** The class of an address that is not public, or null for a public one. */
export function classifyAddress(address: string): string | null {
  const v4 = parseIpv4(address);
  if (v4) return classifyIpv4(v4);
  const v6 = parseIpv6(address);
  if (v6) return classifyIpv6(v6);
  return "not an IP address";
}

/** Whether an address is a cloud metadata service's (refused even with private addresses allowed). */
export function isMetadataAddress(address: string): boolean {
  const v4 = parseIpv4(address) ?? mappedIpv4(parseIpv6(address));
  if (v4) return v4.join(".") === "169.254.169.254";
  const v6 = parseIpv6(address);
  return !!v6 && v6.join(":") === [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254].join(":");
}

function classifyIpv4([a, b, c, d]: number[]): string | null {
  if (a === 169 && b === 254 && c === 169 && d === 254) return "a cloud metadata address";
  if (a === 127) return "a loopback address";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) {
    return "a private address";
  }
  if (a === 169 && b === 254) return "a link-local address";
  if (a === 100 && b >= 64 && b <= 127) return "a shared (CGNAT) address";
  if (a === 0) return 'a "this network" address';
  if (a >= 224 && a <= 239) return "a multicast address";
  if (a === 255 && b === 255 && c === 255 && d === 255) return "the broadcast address";
  if (a >= 240) return "a reserved address";
  if (a === 192 && b === 0 && c === 0) return "a reserved address";
  if (a === 198 && (b === 18 || b === 19)) return "a benchmarking address";
  return null;
}

function classifyIpv6(w: number[]): string | null {
  const mapped = mappedIpv4(w);
  if (mapped) {
    const r = classifyIpv4(mapped);
    return r ? `${r} (IPv4-mapped)` : null;
  }
  if (w.every((x) => x === 0)) return "the unspecified address";
  if (w.slice(0, 7).every((x) => x === 0) && w[7] === 1) return "a loopback address";
  if (isMetadataAddress(w.map((x) => x.toString(16)).join(":"))) return "a cloud metadata address";
  if ((w[0] & 0xfe00) === 0xfc00) return "a private (unique local) address";
  if ((w[0] & 0xffc0) === 0xfe80) return "a link-local address";
  if ((w[0] & 0xffc0) === 0xfec0) return "a site-local address";
  if ((w[0] & 0xff00) === 0xff00) return "a multicast address";
  // NAT64 (64:ff9b::/96) embeds an IPv4 address: judge that one.
  if (w[0] === 0x64 && w[1] === 0xff9b && w.slice(2, 6).every((x) => x === 0)) {
    const r = classifyIpv4([w[6] >> 8, w[6] & 0xff, w[7] >> 8, w[7] & 0xff]);
    return r ? `${r} (NAT64)` : null;
  }
  if (w[0] === 0x2001 && w[1] === 0xdb8) return "a documentation address";
  return null;
}

/** The IPv4 address inside `::ffff:a.b.c.d` (mapped) or `::a.b.c.d` (compatible), if any. */
function mappedIpv4(w: number[] | null): number[] | null {
  if (!w || !w.slice(0, 5).every((x) => x === 0)) return null;
  if (w[5] !== 0xffff && !(w[5] === 0 && (w[6] !== 0 || w[7] > 1))) return null;
  return [w[6] >> 8, w[6] & 0xff, w[7] >> 8, w[7] & 0xff];
}

function parseIpv4(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** Eight 16-bit words, or null. Accepts `::`, a trailing dotted IPv4 part and a zone. */
function parseIpv6(input: string): number[] | null {
  let s = input.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  if (!s.includes(":")) return null;
  const lastColon = s.lastIndexOf(":");
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseIpv4(last);
    if (!v4) return null;
    const hi = ((v4[0] << 8) | v4[1]).toString(16);
    const lo = ((v4[2] << 8) | v4[3]).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const words = (h: string) => h === "" ? [] : h.split(":");
  const hex = (p: string) => /^[0-9a-f]{1,4}$/.test(p) ? parseInt(p, 16) : NaN;
  const head = words(halves[0]).map(hex);
  let all: number[];
  if (halves.length === 2) {
    const rest = words(halves[1]).map(hex);
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    all = head;
  }
  return all.length === 8 && all.every((x) => Number.isInteger(x)) ? all : null;
}

async function resolveDns(host: string): Promise<string[]> {
  const found: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      found.push(...await Deno.resolveDns(host, type));
    } catch {
      // No record of this type (or no answer): the other type may have one.
    }
  }
  return found;
}

/**
 * Checks a webhook URL and resolves its host; throws {@linkcode WebhookUrlError} saying why it is
 * refused. Returns the URL parsed.
 */
export async function checkWebhookUrl(raw: string, options: UrlCheckOptions): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError(
      `Cannot use "${raw.slice(0, 200)}" as a webhook URL: it is not a URL`,
    );
  }
  const shown = url.origin;
  if (url.protocol !== "https:" && !(options.allowPrivate && url.protocol === "http:")) {
    throw new WebhookUrlError(
      `Cannot use "${shown}" as a webhook URL: it must start with https://`,
    );
  }
  if (url.username || url.password) {
    throw new WebhookUrlError(
      `Cannot use "${shown}" as a webhook URL: credentials in the URL are not allowed`,
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const literal = parseIpv4(host) || parseIpv6(host);
  let addresses: string[];
  if (literal) addresses = [host];
  else if (host === "localhost" || host.endsWith(".localhost")) addresses = ["127.0.0.1", "::1"];
  else {
    addresses = await (options.resolve ?? resolveDns)(host);
    if (!addresses.length) {
      throw new WebhookUrlError(
        `Cannot use "${shown}" as a webhook URL: its host "${host}" does not resolve`,
      );
    }
  }
  for (const address of addresses) {
    if (isMetadataAddress(address)) {
      throw new WebhookUrlError(
        `Cannot use "${shown}" as a webhook URL: "${host}" is a cloud metadata address`,
      );
    }
    if (options.allowPrivate) continue;
    const refused = classifyAddress(address);
    if (refused) {
      throw new WebhookUrlError(
        `Cannot use "${shown}" as a webhook URL: "${host}" ${
          address === host ? "is" : `resolves to ${address},`
        } ${refused}`,
      );
    }
  }
  return url;
}
