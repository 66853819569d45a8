// A foreign profile from its real producer: Go's runtime/pprof CPU profile ([samples, cpu], no
// default_sample_type, pprof labels that are not threads). Needs `go` (Debian: golang-go); skipped
// with the reason when it is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { decodePprof, stringAt } from '@ptprof/pprof-writer';
import { outputFiles, pageData, readProfiles, valueIndex } from '../src';
import { scratch } from './helpers';

const PROGRAM = `package main

import (
	"context"
	"os"
	"runtime/pprof"
)

var sink float64

// Fixed amounts of work (not of time: the machine may be busy): burnA does twice burnB's.
//go:noinline
func burnA(n int) {
	for i := 0; i < n; i++ {
		sink += float64(i) * 1.0001
	}
}

//go:noinline
func burnB(n int) {
	for i := 0; i < n; i++ {
		sink += float64(i) * 1.0001
	}
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	pprof.Do(context.Background(), pprof.Labels("phase", "a"), func(context.Context) { burnA(400000000) })
	pprof.Do(context.Background(), pprof.Labels("phase", "b"), func(context.Context) { burnB(200000000) })
	pprof.StopCPUProfile()
	f.Close()
}
`;

function findGo(): string | undefined {
  for (const g of ['go', '/usr/lib/go/bin/go']) {
    if (spawnSync(g, ['version'], { encoding: 'utf8' }).status === 0) return g;
  }
  return undefined;
}

describe("a Go CPU profile (runtime/pprof)", function () {
  this.timeout(180000);
  const s = scratch('go');
  let file = '';

  before(function () {
    const go = findGo();
    if (!go) {
      console.log('      skipped: no go on PATH or at /usr/lib/go/bin/go (Debian: apt-get install golang-go)');
      this.skip();
    }
    fs.writeFileSync(s.file('main.go'), PROGRAM);
    file = s.file('cpu.pprof');
    const r = spawnSync(go!, ['run', s.file('main.go'), file], { cwd: s.dir, encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod', GO111MODULE: 'off' } });
    assert.equal(r.status, 0, `go run: ${r.stderr}`);
  });
  after(() => s.remove());

  it('shows its cpu values (the last type: Go sets no default), its functions, and the labels cope', () => {
    const p = decodePprof(fs.readFileSync(file));
    assert.deepEqual(p.sampleType.map((t) => stringAt(p, t.type)), ['samples', 'cpu']);
    assert.equal(valueIndex(p), 1);
    const v = readProfiles([file]);
    assert.equal(v.unit, 'nanoseconds');
    assert.equal(v.sampleType, 'cpu');
    assert.equal(v.threads.length, 1);
    const cum = (name: string): number => v.stacks.filter((x) => x.frames.some((f) => v.frames[f]!.name === name)).reduce((a, x) => a + x.value, 0);
    // Go samples at 100 Hz, each sample worth 10 ms: burnA did twice burnB's work.
    const ratio = cum('main.burnA') / cum('main.burnB');
    assert.ok(cum('main.burnB') >= 50e6 && ratio > 1.4 && ratio < 2.8, `burnA ${cum('main.burnA')} ns, burnB ${cum('main.burnB')} ns`);
    const burnA = v.frames.find((f) => f.name === 'main.burnA')!;
    assert.match(burnA.file, /main\.go$/);
    assert.equal(v.processes[0]!.hz, 100);
    const facts = Object.fromEntries(pageData(v).processes[0]!.facts.map((f) => [f[0], f.slice(1)]));
    assert.deepEqual(facts['CPU profiled'], [v.stacks.reduce((a, x) => a + x.value, 0), 'nanoseconds']);
    assert.deepEqual(facts.rate, ['100 Hz']);
    // Every format is made from it.
    for (const f of ['html', 'speedscope', 'cpuprofile', 'folded'] as const) assert.equal(outputFiles(v, f, s.file(`o.${f}`)).length, 1);
  });
});
