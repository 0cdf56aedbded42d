/**
 * Which passwords the console accepts: at least 12 characters, and not guessable. Guessability is
 * judged by zxcvbn-ts (a maintained port of Dropbox's zxcvbn estimator, with its bundled lists of
 * common passwords, names and words), which also catches trivial patterns (repeats, sequences,
 * keyboard walks, dates, l33t spellings) and the account's own email or tenant name. The
 * estimator's dictionaries are loaded on first use.
 * @module
 */
import type { ZxcvbnFactory } from "@zxcvbn-ts/core";
import { loadOnce } from "../load_once.ts";

/** Shortest password the console accepts. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password taken (PBKDF2 hashes any length; this bounds the work per request). */
export const MAX_PASSWORD_LENGTH = 1024;
/** zxcvbn's score from 0 to 4; 3 means "safely unguessable" (about 10^8 guesses or more). */
export const MIN_PASSWORD_SCORE = 3;

/** The estimator, its dictionaries imported (and decompressed) the first time a password is set. */
const estimatorOf: () => Promise<ZxcvbnFactory> = loadOnce(async () => {
  const [{ ZxcvbnFactory }, common, english] = await Promise.all([
    import("@zxcvbn-ts/core"),
    import("@zxcvbn-ts/language-common"),
    import("@zxcvbn-ts/language-en"),
  ]);
  return new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...english.dictionary },
    graphs: common.adjacencyGraphs,
    translations: english.translations,
  });
});

/**
 * Why a new password is refused, in words for the person choosing it, or `null` when it is
 * accepted. `context` holds words the password must not lean on (email, tenant name).
 */
export async function passwordProblem(
  password: string,
  context: string[] = [],
): Promise<string | null> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`;
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    return `Choose a password of at most ${MAX_PASSWORD_LENGTH} characters.`;
  }
  const words = [...context, "weft", "admin", "console"].flatMap((w) => [
    w,
    ...w.split(/[^\p{L}\p{N}]+/u),
  ]).filter((w) => w.length >= 3);
  // The estimator's cost grows with length; its verdict on the first 100 characters stands.
  const result = await (await estimatorOf()).check(password.slice(0, 100), words);
  if (result.score >= MIN_PASSWORD_SCORE) return null;
  const why = result.feedback.warning ?? "This password would be easy to guess.";
  const hint = result.feedback.suggestions[0] ??
    "A few unrelated words, or a longer phrase, are strong and easy to remember.";
  return `This password is too easy to guess: ${why.replace(/\.$/, "")}. ${hint}`;
}
