#!/usr/bin/env node
'use strict';
// The `ptprof` command (the code is in src/cli.ts). This small file is committed rather than
// compiled so that npm can link it when it installs the workspace: npm skips a bin whose file is
// missing, and dist/ is only built after the install.
try {
  require.resolve('../dist/src/bin.js');
} catch {
  process.stderr.write('ptprof: not built yet: run "npx tsc -b packages/cli" (or "npm run build:ts") in the repository\n');
  process.exit(70);
}
require('../dist/src/bin.js');
