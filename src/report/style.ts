import { Chalk, type ChalkInstance } from 'chalk';

/** Colour only on a terminal, never with NO_COLOR or --no-color (https://no-color.org). */
export function makeStyle(stream: { isTTY?: boolean }, colorFlag: boolean | undefined): ChalkInstance {
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  const level = colorFlag === false || noColor || !stream.isTTY ? 0 : 1;
  return new Chalk({ level });
}
