// The README's examples run as written, and their shown output is the real output: every ```js
// block (named by the `(\`name.js\`)` before it) is written to a temp directory and run with node;
// every ```console block's `$ command` lines are run there and compared with the lines shown
// (the `File:` and `Time:` lines of go tool pprof depend on the machine and the clock).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findGo, rmDir, tmpDir } from './helpers';

const pkgRoot = path.resolve(__dirname, '..', '..');
const readme = fs.readFileSync(path.join(pkgRoot, 'README.md'), 'utf8');

interface Block { lang: string; body: string; before: string }

function blocks(md: string): Block[] {
  const out: Block[] = [];
  const re = /```(\w*)\n([\s\S]*?)```/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(md))) {
    out.push({ lang: m[1]!, body: m[2]!, before: md.slice(last, m.index) });
    last = m.index + m[0].length;
  }
  return out;
}

const skipLine = (l: string): boolean => /^(File|Time): /.test(l);

describe('README examples', function () {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(function () {
    const go = findGo(this);
    dir = tmpDir('readme');
    // Resolve '@ptprof/pprof-writer' to this workspace package, as after `npm install`.
    const nodeModules = path.join(dir, 'node_modules', '@ptprof');
    fs.mkdirSync(nodeModules, { recursive: true });
    fs.symlinkSync(pkgRoot, path.join(nodeModules, 'pprof-writer'));
    env = {
      PATH: `${path.dirname(go)}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
      HOME: dir, PPROF_TMPDIR: dir, TZ: 'UTC', GOTOOLCHAIN: 'local', GOFLAGS: '',
    };
  });
  after(() => { if (dir) rmDir(dir); });

  it('has js examples and shown outputs', () => {
    const b = blocks(readme);
    assert.ok(b.filter((x) => x.lang === 'js').length >= 2);
    assert.ok(b.filter((x) => x.lang === 'console').length >= 2);
  });

  it('runs every js block and every console command, with the outputs shown', () => {
    for (const b of blocks(readme)) {
      if (b.lang === 'js') {
        const names = [...b.before.matchAll(/\(`([\w.-]+\.js)`\)/g)];
        assert.ok(names.length > 0, `a js block is preceded by its (\`name.js\`):\n${b.body}`);
        const name = names[names.length - 1]![1]!;
        fs.writeFileSync(path.join(dir, name), b.body);
        const r = spawnSync(process.execPath, [name], { cwd: dir, env, encoding: 'utf8' });
        assert.equal(r.status, 0, `node ${name}: ${r.stderr}`);
      } else if (b.lang === 'console') {
        const lines = b.body.replace(/\n$/, '').split('\n');
        for (let i = 0; i < lines.length;) {
          assert.ok(lines[i]!.startsWith('$ '), `console block lines start with a command: ${lines[i]}`);
          const cmd = lines[i]!.slice(2);
          const shown: string[] = [];
          for (i++; i < lines.length && !lines[i]!.startsWith('$ '); i++) shown.push(lines[i]!);
          const r = spawnSync('bash', ['-c', cmd], { cwd: dir, env, encoding: 'utf8' });
          assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
          const actual = r.stdout.replace(/\n$/, '').split('\n');
          assert.deepEqual(actual.filter((l) => !skipLine(l)), shown.filter((l) => !skipLine(l)), `output of ${cmd}`);
        }
      }
    }
    assert.ok(fs.existsSync(path.join(dir, 'cpu.pb.gz')));
  });
});
