// The README's example runs as written, against a profile as ptprof writes it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodePprof } from '@ptprof/pprof-writer';
import { ptprofLike } from './fixtures';
import { scratch } from './helpers';

const pkgRoot = path.resolve(__dirname, '..', '..');

describe('README example', () => {
  it('writes the page, the speedscope file and a .cpuprofile per JS thread', () => {
    const readme = fs.readFileSync(path.join(pkgRoot, 'README.md'), 'utf8');
    const js = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.equal(js.length, 1);
    const s = scratch('readme');
    try {
      // '@ptprof/view' resolves to this package, as after `npm install @ptprof/view`.
      fs.mkdirSync(s.file('node_modules/@ptprof'), { recursive: true });
      fs.symlinkSync(pkgRoot, s.file('node_modules/@ptprof/view'));
      fs.writeFileSync(s.file('cpu.pb.gz'), encodePprof(ptprofLike()));
      fs.writeFileSync(s.file('example.js'), js[0]!);
      const r = spawnSync(process.execPath, ['example.js'], { cwd: s.dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'main cpu.cpuprofile\nworker 1 cpu.worker-1.cpuprofile\n');
      assert.deepEqual(fs.readdirSync(s.dir).sort(), ['cpu.cpuprofile', 'cpu.html', 'cpu.pb.gz', 'cpu.speedscope.json', 'cpu.worker-1.cpuprofile', 'example.js', 'node_modules']);
    } finally {
      s.remove();
    }
  });
});
