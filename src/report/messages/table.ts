/**
 * The shape of every English table in src/report/messages/: one function per code of a message union, typed so that
 * a code without its English, or English for no code, does not compile.
 */
export type Table<M extends { code: string }> = { [C in M['code']]: (m: Extract<M, { code: C }>) => string };

/** A message in the words its table gives its code. */
export function worded<M extends { code: string }>(table: Table<M>, m: M): string {
  return (table[m.code as M['code']] as (m: M) => string)(m);
}
