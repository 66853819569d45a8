// The pure parts: argument parsing, file names, NODE_OPTIONS quoting (checked against real Node),
// reading folded stacks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, isNodeCommand, nodeScript, parseArgs } from '../src/args';
import { formatCommand, nodeOptionsWithAgent, outputPattern, quoteNodeOption, readAgentConfig, splitExt, withPid } from '../src/config';
import { formatThreads } from '../src/summary';
import { cleanEnv, fixture, ptprof, rmDir, tmpDir } from './helpers';

const NODE = '/usr/local/bin/node-x';

describe('ptprof: arguments', () => {
  it('the shorthand runs the script with this node; options before it are ptprof\'s, after it the script\'s', () => {
    assert.deepEqual(parseArgs(['--hz', '250', '-q', 'app.js', '--hz', 'x'], NODE), {
      kind: 'run', hz: 250, threads: 'all', format: 'pprof', quiet: true, command: [NODE, 'app.js', '--hz', 'x'], shorthand: true,
    });
  });

  it('-- runs any command; --opt=value and -oFILE forms', () => {
    assert.deepEqual(parseArgs(['--hz=1000', '--threads=js', '--format=folded', '-oout.folded', '--', 'npm', 'start'], NODE), {
      kind: 'run', hz: 1000, output: 'out.folded', threads: 'js', format: 'folded', quiet: false, command: ['npm', 'start'], shorthand: false,
    });
    assert.equal((parseArgs(['--output', 'a b.pb.gz', '--', 'node', 'x.js']) as { output: string }).output, 'a b.pb.gz');
  });

  it('help, version and top', () => {
    assert.deepEqual(parseArgs(['-h']), { kind: 'help' });
    assert.deepEqual(parseArgs(['--hz', '5', '--help', 'app.js']), { kind: 'help' });
    assert.deepEqual(parseArgs(['--version']), { kind: 'version' });
    const top = { kind: 'top', file: 'f.pb.gz', maxMb: 16, allowSpecial: false };
    assert.deepEqual(parseArgs(['top', 'f.pb.gz']), top);
    assert.deepEqual(parseArgs(['top', '-n', '7', 'f.pb.gz']), { ...top, n: 7 });
    assert.deepEqual(parseArgs(['top', 'f.pb.gz', '-n3']), { ...top, n: 3 });
    assert.deepEqual(parseArgs(['top', '--max-mb=200', '--allow-special', 'f.pb.gz']), { ...top, maxMb: 200, allowSpecial: true });
  });

  it('mistakes throw UsageError', () => {
    for (const bad of [[], ['--'], ['--hz', '-1', 'a.js'], ['--hz', '1e3', 'a.js'], ['--hz', ' 5', 'a.js'], ['--hz', '10001', 'a.js'],
      ['-x', 'a.js'], ['--quiet=1', 'a.js'], ['-o'], ['--output=', 'a.js'], ['--threads', 'JS', 'a.js'], ['--format', 'svg', 'a.js'],
      ['top'], ['top', 'a', 'b'], ['top', 'a', '-n', 'x'], ['top', '-z', 'a'], ['top', '--max-mb', '0', 'a'], ['-o', '-', 'a.js'],
      ['-o-', 'a.js']]) {
      assert.throws(() => parseArgs(bad), UsageError, JSON.stringify(bad));
    }
    assert.equal((parseArgs(['--hz', '1', 'a.js']) as { hz: number }).hz, 1);
    assert.equal((parseArgs(['--hz', '10000', 'a.js']) as { hz: number }).hz, 10000);
  });

  it('finds the script node would run', () => {
    assert.equal(nodeScript(['app.js', 'x']), 'app.js');
    assert.equal(nodeScript(['--inspect', '-r', 'hook.js', '--import=x.mjs', '--stack-size=900', '--title', 't.js', 'app.mjs']), 'app.mjs');
    assert.equal(nodeScript(['--', 'app.cjs']), 'app.cjs');
    assert.equal(nodeScript(['-e', 'x.js']), undefined);
    assert.equal(nodeScript(['-p', '1']), undefined);
    assert.equal(nodeScript(['--print=1']), undefined);
    assert.equal(nodeScript(['--no-warnings']), undefined);
    assert.ok(isNodeCommand('node') && isNodeCommand('/usr/bin/node') && isNodeCommand(NODE, NODE) && !isNodeCommand('npm'));
  });
});

describe('ptprof: file names and the environment', () => {
  it('a descendant inserts its pid before the extension (.pb.gz counts as one)', () => {
    assert.equal(withPid('/d/out.pb.gz', 42), '/d/out.42.pb.gz');
    assert.equal(withPid('/d/cpu.folded', 42), '/d/cpu.42.folded');
    assert.equal(withPid('/d.x/profile', 42), '/d.x/profile.42');
    assert.equal(withPid('/d/.pb.gz', 42), '/d/.pb.42.gz');
    assert.deepEqual(splitExt('a/b.c.pprof'), { stem: 'a/b.c', ext: '.pprof' });
    const re = outputPattern('/d/out.pb.gz');
    assert.ok(re.test('out.pb.gz') && re.test('out.123.pb.gz'));
    assert.ok(!re.test('out.x.pb.gz') && !re.test('xout.pb.gz') && !re.test('.out.pb.gz.1.tmp') && !re.test('out.pb.gz.tmp'));
  });

  it('NODE_OPTIONS: appended, and a path with spaces quoted the way Node reads it', () => {
    assert.equal(nodeOptionsWithAgent(undefined, '/a/agent.js'), '--require /a/agent.js');
    assert.equal(nodeOptionsWithAgent(' --max-old-space-size=100 ', '/a/agent.js'), '--max-old-space-size=100 --require /a/agent.js');
    assert.equal(quoteNodeOption('/a b/"q"\\.js'), '"/a b/\\"q\\"\\\\.js"');
    const dir = tmpDir('quote');
    try {
      const weird = path.join(dir, 'dir with space', 'it\'s "pre".js');
      fs.mkdirSync(path.dirname(weird));
      fs.writeFileSync(weird, "process.stdout.write('preloaded ');\n");
      const r = spawnSync(process.execPath, ['-e', "console.log('main')"], {
        env: cleanEnv({ NODE_OPTIONS: nodeOptionsWithAgent('--no-warnings', weird) }), encoding: 'utf8',
      });
      assert.equal(r.stdout, 'preloaded main\n', r.stderr);
    } finally {
      rmDir(dir);
    }
  });

  it('a NODE_OPTIONS of the user is kept: both preloads run under ptprof', () => {
    const dir = tmpDir('nodeopts');
    try {
      const pre = path.join(dir, 'my pre.js');
      fs.writeFileSync(pre, "process.stdout.write('mine ');\n");
      const r = ptprof(['-q', '-o', 'p.pb.gz', fixture('burn.js'), 'normal', '10'], {
        cwd: dir, env: cleanEnv({ NODE_OPTIONS: `--require "${pre}"` }),
      });
      assert.equal(r.status, 0, r.stderr);
      // ptprof's own node reads NODE_OPTIONS too: 'mine' once from it, once from the program.
      assert.equal(r.stdout, 'mine mine done true\n');
      assert.ok(fs.existsSync(path.join(dir, 'p.pb.gz')));
    } finally {
      rmDir(dir);
    }
  });

  it("the agent's configuration: defaults without PTPROF_OUTPUT; bad values refused", () => {
    assert.deepEqual(readAgentConfig({}, 7, '/w'), { output: '/w/ptprof.7.pb.gz', hz: 100, threads: 'all', format: 'pprof' });
    assert.deepEqual(readAgentConfig({ PTPROF_OUTPUT: 'o.folded', PTPROF_HZ: '250', PTPROF_THREADS: 'js', PTPROF_FORMAT: 'folded', PTPROF_REPORT_DIR: '/r' }, 7, '/w'),
      { output: '/w/o.folded', hz: 250, threads: 'js', format: 'folded', reportDir: '/r' });
    assert.throws(() => readAgentConfig({ PTPROF_HZ: '0' }, 7, '/w'), /PTPROF_HZ=0/);
    assert.throws(() => readAgentConfig({ PTPROF_THREADS: 'x' }, 7, '/w'), /PTPROF_THREADS=x/);
  });

  it('command lines for people', () => {
    assert.equal(formatCommand(['node', '--flag=1', 'a b.js', "it's", '']), "node --flag=1 'a b.js' 'it'\\''s' ''");
  });
});

describe('ptprof: reading back', () => {
  it('thread lines: JS threads one by one, the others grouped by name', () => {
    assert.equal(formatThreads([
      { name: 'worker 1', js: true, cpuNanos: 2e8 }, { name: 'node', js: false, cpuNanos: 1e8 },
      { name: 'main', js: true, cpuNanos: 3e8 }, { name: 'node', js: false, cpuNanos: 5e7 },
    ]), 'main 300ms, worker 1 200ms, node x2 150ms');
  });
});

describe('tuning variables', () => {
  it('reach the agent, are validated, and survive the CLI cleaning PTPROF_* marks', () => {
    const { readAgentConfig, TUNING_ENV } = require('../src/config') as typeof import('../src/config');
    const { childEnv } = require('../src/cli') as typeof import('../src/cli');
    const env = childEnv({ PTPROF_RING_BYTES: '4096', PTPROF_FRAMES: '300', PTPROF_COLLECT_MS: '0', PTPROF_ROOT_PID: '1' }, { output: '/tmp/x.pb.gz', hz: 100, threads: 'all', format: 'pprof' });
    assert.equal(env.PTPROF_ROOT_PID, undefined, "an outer run's mark is removed");
    const cfg = readAgentConfig(env, 1, '/tmp');
    assert.equal(cfg.ringBytes, 4096);
    assert.equal(cfg.framesLimit, 300);
    assert.equal(cfg.collectIntervalMs, 0);
    assert.throws(() => readAgentConfig({ [TUNING_ENV.ringBytes]: '5000' }, 1, '/tmp'), /PTPROF_RING_BYTES=5000 is not a power of two/);
    assert.throws(() => readAgentConfig({ [TUNING_ENV.framesLimit]: '0' }, 1, '/tmp'), /PTPROF_FRAMES=0/);
    assert.throws(() => readAgentConfig({ [TUNING_ENV.collectIntervalMs]: 'x' }, 1, '/tmp'), /PTPROF_COLLECT_MS=x/);
  });
});
