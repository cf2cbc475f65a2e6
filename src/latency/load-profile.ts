import { existsSync, readFileSync } from 'node:fs';
import { MbnError, quote } from '../errors.js';
import { BUILTIN_PROFILES } from './builtin.js';
import { validateProfile } from './profile.js';
import type { DeviceProfile } from '../contract/device.js';

/** `--device` / config `device`: the name of a built-in profile, or a path to a profile JSON file. */
export function loadProfile(spec: string, what = '--device'): DeviceProfile {
  const builtin = BUILTIN_PROFILES.find((p) => p.name === spec);
  if (builtin) return builtin;
  if (!existsSync(spec)) {
    throw new MbnError('usage', `${what} ${quote(spec)} is neither a profile file nor a built-in profile (${BUILTIN_PROFILES.map((p) => p.name).join(', ')})`);
  }
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (error) {
    throw new MbnError('usage', `cannot read device profile ${quote(spec)}: ${(error as Error).message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new MbnError('usage', `device profile ${quote(spec)} is not valid JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  return validateProfile(data, quote(spec));
}
