import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/cli.js';

// Each test file's temporary folders go when the file is done (set MBN_KEEP_TEST_DIRS=1 to look at them).
afterAll(() => {
  if (!process.env.MBN_KEEP_TEST_DIRS) removeTempDirs();
});
