/**
 * What each peer is known not to do with this traffic, found by running it: a smoke run tolerates
 * client errors (4xx) of a peer only in the phases listed here, with the reason. Transport
 * failures, 5xx answers and incomplete phases always fail it, and Weft and the baseline have no
 * allowance at all.
 * @module
 */

/** Phase → why the peer answers some of its requests with an error. */
export const KNOWN_GAPS: Record<string, Record<string, string>> = {
  "better-auth": {},
  scimmy: {
    entra: 'rejects Entra\'s string boolean `{"op":"Replace","path":"active","value":"False"}` ' +
      "with 400 invalidValue (\"expected value type 'boolean'\"): every disable of the pass fails",
  },
};
