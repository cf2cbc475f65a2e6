/**
 * A command's table of words (messages as data: the core says `{ code, …args }`, the report says it in English):
 * one function per code, typed by that code's message, so a code without words does not compile.
 */
export type Words<M extends { code: string }, A extends unknown[] = []> = { [K in M['code']]: (m: Extract<M, { code: K }>, ...args: A) => string };

/** A message in words, from its command's table. */
export function wordsOf<M extends { code: string }, A extends unknown[]>(table: Words<M, A>, m: M, ...args: A): string {
  return (table[m.code as M['code']] as (m: M, ...args: A) => string)(m, ...args);
}
