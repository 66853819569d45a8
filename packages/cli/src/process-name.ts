// The short name of a Node process, for the `process` label of a process tree's profile: what a
// person would type, not what the kernel ran. `node /home/me/app/test/a.test.js` is
// `node test/a.test.js` (relative to the process's directory); `node /usr/lib/node_modules/npm/
// bin/npm-cli.js test` is `npm test`; a package's other scripts keep their package and path
// (`mocha/lib/nodejs/worker.js`). Node's own options are left out (the full command line is in
// the profile's facts, `cmd`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatCommand } from './config';

/** The longest name: a label is read in a table, a tooltip, a flame graph's frame. */
export const MAX_NAME_CHARS = 80;

/** `npm` for .../node_modules/npm/bin/npm-cli.js, `mocha/lib/nodejs/worker.js` for a package's other file; undefined outside node_modules. */
function packageScript(file: string): string | undefined {
  const parts = file.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0 || at + 1 >= parts.length) return undefined;
  let pkgLen = 1;
  if (parts[at + 1]!.startsWith('@') && at + 2 < parts.length) pkgLen = 2;
  if (parts[at + 1] === '.bin' && at + 2 < parts.length) return parts[at + 2]; // node_modules/.bin/mocha
  const pkg = parts.slice(at + 1, at + 1 + pkgLen).join('/');
  const rest = parts.slice(at + 1 + pkgLen);
  if (rest.length === 0) return pkg;
  // A package's command: its bin/ (npm's npm-cli.js and npx-cli.js are npm's and npx's).
  if (rest[0] === 'bin' && rest.length === 2) {
    const base = rest[1]!.replace(/\.[cm]?js$/, '');
    if (pkg === 'npm' && (base === 'npm-cli' || base === 'npx-cli')) return base.slice(0, 3);
    return base === pkg || base === 'cli' || base === `${pkg}-cli` ? pkg : base;
  }
  return `${pkg}/${rest.join('/')}`;
}

/**
 * The short name of the process that runs `argv` (process.argv: node, the script, its arguments)
 * with Node options `execArgv`, in directory `cwd`.
 */
export function shortCommand(argv0: string, execArgv: readonly string[], argv: readonly string[], cwd: string): string {
  const node = path.basename(argv0) || 'node';
  // The test runner (node --test) and watch mode say what they are.
  const mode = execArgv.filter((a) => a === '--test' || a === '--watch');
  const evalAt = execArgv.findIndex((a) => a === '-e' || a === '--eval' || a === '-p' || a === '--print' || /^--(eval|print)=/.test(a));
  let words: string[];
  if (evalAt >= 0) {
    const a = execArgv[evalAt]!;
    const code = a.includes('=') ? a.slice(a.indexOf('=') + 1) : execArgv[evalAt + 1] ?? '';
    words = [node, a.split('=')[0]!, code.replace(/\s+/g, ' ').trim(), ...argv.slice(1)];
  } else if (argv.length < 2) {
    words = [node, ...mode];
  } else {
    const script = argv[1]!;
    // npm's /usr/bin/npm and node_modules/.bin/* are links into a package: named by it.
    let real = script;
    try {
      real = fs.realpathSync(script);
    } catch {
      /* not a file (node -, a name node resolved): as given */
    }
    const pkg = packageScript(real.split(path.sep).join('/'));
    if (pkg !== undefined) {
      words = [pkg, ...argv.slice(2)];
    } else {
      const rel = path.relative(cwd, script);
      const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : script;
      words = [node, ...mode, shown, ...argv.slice(2)];
    }
  }
  const text = formatCommand(words);
  return text.length > MAX_NAME_CHARS ? `${text.slice(0, MAX_NAME_CHARS - 3)}...` : text;
}
