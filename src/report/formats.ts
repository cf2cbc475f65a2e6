/**
 * The output formats of each command, in the order `--help` lists them. `--format` offers exactly these
 * (cli/main.ts), and each command's reporter (`…_REPORTER` in its report module) must render exactly these: the type
 * checker holds the two together. No imports, so that the CLI lists the choices without loading a renderer.
 */
export const FORMATS = {
  analyze: ['table', 'json', 'csv', 'md', 'html', 'model-explorer'],
  separate: ['table', 'json', 'md'],
  advise: ['table', 'json', 'md'],
  rewrite: ['table', 'json', 'md'],
  check: ['table', 'json', 'md'],
  diff: ['table', 'json', 'md', 'html'],
  bench: ['table', 'json'],
} as const;

export type Command = keyof typeof FORMATS;
export type FormatOf<C extends Command> = (typeof FORMATS)[C][number];

/** A command's reporter: one renderer per format, from the command's document and what the CLI knows (style, flags). */
export type Reporter<C extends Command, Doc, View> = { readonly [F in FormatOf<C>]: (doc: Doc, view: View) => string };
