// The option table: one source of the sampler's ranges and defaults, loadable without the addon.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { INT_OPTIONS, checkOption, collectIntervalFor, optionProblem } from '../src/options';
import { Sampler } from '../src/index';
import { FakeBackend } from './fake-backend';

describe('@ptprof/sampler/options', () => {
  it('loads without the native addon (the CLI checks its arguments with it before running anything)', () => {
    const code = `const o = require('@ptprof/sampler/options');
      const native = Object.keys(require.cache).filter((f) => /timers-native|\\.node$/.test(f));
      console.log(JSON.stringify({ hz: o.INT_OPTIONS.hz, native }));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: __dirname });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { hz: unknown; native: string[] };
    assert.deepEqual(out.hz, INT_OPTIONS.hz);
    assert.deepEqual(out.native, []);
  });

  it('says what is wrong with a value, in the words the CLI and the Sampler print', () => {
    assert.equal(optionProblem('framesLimit', 0), 'an integer from 1 to 512 (JS frames kept per sample)');
    assert.equal(optionProblem('ringBytes', 5000), 'a power of two from 4096 to 67108864 (bytes per thread)');
    assert.equal(optionProblem('collectIntervalMs', 0), undefined);
    assert.equal(optionProblem('hz', 1.5), 'an integer from 1 to 10000 (samples per second of CPU time)');
    assert.throws(() => checkOption('drainIntervalMs', 5), /drainIntervalMs must be an integer from 10 to 10000 \(milliseconds\); got 5/);
    assert.equal(checkOption('hz', INT_OPTIONS.hz.default), 100);
  });

  it('the collector\'s default interval follows the rate: 10000 / hz ms, within 20..100', () => {
    assert.deepEqual([1, 99, 100, 200, 333, 500, 1000, 10000].map(collectIntervalFor), [100, 100, 100, 50, 30, 20, 20, 20]);
    const configured = (opts: { hz: number; collectIntervalMs?: number }): unknown => {
      const fake = new FakeBackend();
      new Sampler({ ...opts, _backend: fake.binding() });
      return (fake.calls.find((c) => c.fn === 'configure')?.args[0] as { collectIntervalMs?: number } | undefined)?.collectIntervalMs;
    };
    assert.equal(configured({ hz: 100 }), 100);
    assert.equal(configured({ hz: 1000 }), 20);
    assert.equal(configured({ hz: 100, collectIntervalMs: 0 }), 0, 'an explicit value wins');
  });
});
