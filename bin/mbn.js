#!/usr/bin/env node
// Thin entry into the compiled CLI (npm install builds dist/ through the prepare script).
import('../dist/cli/main.js').then(
  (cli) => cli.main(process.argv),
  (error) => {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write('mbn: not built yet: run `npm install` (or `npm run build`) in the mbn folder\n');
    } else {
      process.stderr.write(`mbn: cannot start: ${error && error.message}\n`);
    }
    process.exitCode = 2;
  },
);
