/**
 * Counted nouns for what people read (the console, event summaries, the CLI): `1 member`,
 * `3 members`, never `member(s)`.
 * @module
 */

/** `1 item`, `2 items`: a count with its noun, singular or plural (`many` when irregular). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}
