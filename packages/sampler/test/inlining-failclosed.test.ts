// Reading V8's heap fails closed. The addon reads optimized code's inlining through a layout of
// V8's objects (@ptprof/timers-native src/v8layout.h); a V8 whose layout differs must cost the
// inlined frames, never a crash or a wrong name. PTPROF_TEST_V8LAYOUT puts a wrong offset in that
// layout on purpose (as an unchecked V8 version would have), one field at a time: every sample
// keeps its outer frame alone, and the profile says how many frames it could not expand and why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const FIXTURE = path.join(__dirname, 'fixtures', 'inlined.js');

interface Out {
  fns: Record<string, { truth: number; prof: number; outerOnly: number }>;
  inlining: { optimized: number; inlined: number; unexpanded: number; tables: number; failures: number; skipped: number; rejected: number; off: string };
  facts: Record<string, string | number | boolean>;
}

function run(layout: string): Out {
  const r = spawnSync(process.execPath, [FIXTURE, 'quick'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PTPROF_TEST_V8LAYOUT: layout },
  });
  assert.equal(r.status, 0, `with PTPROF_TEST_V8LAYOUT=${layout} the program exited ${r.status ?? r.signal}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Out;
}

describe('a wrong V8 layout costs the inlined frames, nothing else', function () {
  this.timeout(300_000);
  // Each field read on the way: the InstructionStream's Code, the Code's deoptimization data and
  // positions, the deopt data's literal array and inlining positions, a function's bytecode and
  // script, the script's id, the bytecode's first instruction. (Not the code's kind: it only
  // filters, and a wrong one, read from the high half of the instruction start, sometimes says
  // TurboFan: the table then read is the right one.)
  const wrong = [
    'istream_code=16', 'code_deopt=24', 'code_positions=8', 'dd_literals=4', 'dd_positions=3',
    'sfi_data=16', 'sfi_script=24', 'script_id=56', 'bytecode_data=62',
    // The same through the pipe read (where process_vm_readv is refused): bad addresses fail there too.
    'pipe,istream_code=16', 'pipe,code_deopt=24', 'pipe,sfi_script=24',
  ];
  for (const layout of wrong) {
    it(`${layout}: outer frames alone, counted`, () => {
      const out = run(layout);
      const st = out.inlining;
      console.log(`      ${JSON.stringify(st)}`);
      assert.equal(st.inlined, 0, 'no inlined frame from a table read with a wrong layout');
      assert.ok(st.optimized > 20, 'the program ran optimized code');
      assert.equal(st.unexpanded, st.optimized, 'every optimized frame is counted as not expanded');
      // Refused where it was read (failures) or where it was checked against V8's names (rejected).
      assert.ok(st.failures + st.rejected > 0, 'the bad reads are counted');
      assert.equal(out.facts['inline.unexpanded_frames'], st.unexpanded, 'and said in the profile');
      assert.equal(out.facts['inline.failures'], st.failures + st.rejected);
    });
  }

  it('the right layout through the pipe read (where process_vm_readv is refused, as under qemu-user): the frames expand', () => {
    const out = run('pipe');
    assert.ok(out.inlining.inlined > 0, JSON.stringify(out.inlining));
    assert.equal(out.inlining.unexpanded, 0);
    assert.equal(out.inlining.failures + out.inlining.rejected, 0);
  });

  it('a V8 refused whole (off): no table read, the reason in the profile', () => {
    const out = run('off');
    assert.equal(out.inlining.inlined, 0);
    assert.equal(out.inlining.tables, 0);
    assert.ok(out.inlining.skipped > 0, 'optimized code not read is counted');
    assert.match(String(out.facts['inline.off']), /refused for a test/);
  });
});
