// The profile's facts about its source maps: the totals plus a count and a detail per kind of
// failure, written by pprof-writer's formatFacts and read back through its parseFacts by the
// CLI's summary.
import assert from 'node:assert/strict';
import { formatFacts, parseFacts, type Facts } from '@ptprof/pprof-writer';
import { describeSourceMapFacts, errorFacts, readSourceMapFacts, statsFacts, type SourceMapStats } from '../src';

function stats(failed: SourceMapStats['failed']): SourceMapStats {
  return { enabled: true, scripts: 2, mappedFrames: 7, unmappedFrames: 1, failed, mapBytes: 1234, ms: 4.4 };
}

/** Facts as a reader gets them: through the writer's comment lines and back. */
const roundTrip = (facts: Facts): Facts =>
  parseFacts(['rate is not a fact', ...formatFacts({ hz: 100, ...facts, cmd: 'node x.js' })]);

describe('source map facts', () => {
  it('the totals, then per kind a count and at most 5 scripts; read back through the writer', () => {
    const failed: SourceMapStats['failed'] = Array.from({ length: 7 }, (_, i) => ({ kind: 'missing' as const, script: `dist/s${i}.js`, map: `dist/s${i}.js.map`, reason: 'ENOENT' }));
    failed.push({ kind: 'missing', script: 'x.js', map: 'inline', reason: 'multi\nline' });
    failed.push({ kind: 'invalid_json', script: 'y js', map: 'node', reason: 'not JSON: "x"' });
    const facts = statsFacts(stats(failed));
    assert.deepEqual(facts, {
      'source_maps.mapped_frames': 7, 'source_maps.scripts': 2, 'source_maps.failed': 9, 'source_maps.unmapped_frames': 1,
      'source_maps.map_bytes': 1234, 'source_maps.ms': 4,
      'source_maps.failed.missing': 8,
      'source_maps.failed.missing.detail': [0, 1, 2, 3, 4].map((i) => `dist/s${i}.js (dist/s${i}.js.map: ENOENT)`).join('; ') + '; and 3 more',
      'source_maps.failed.invalid_json': 1,
      'source_maps.failed.invalid_json.detail': 'y js (Node\'s map: not JSON: "x")',
    });
    const r = readSourceMapFacts(roundTrip(facts))!;
    assert.deepEqual([r.enabled, r.mappedFrames, r.scripts, r.failed], [true, 7, 2, 9]);
    assert.deepEqual(r.failures, [
      { kind: 'missing', count: 8, detail: facts['source_maps.failed.missing.detail'] },
      { kind: 'invalid_json', count: 1, detail: facts['source_maps.failed.invalid_json.detail'] },
    ]);
    const people = describeSourceMapFacts(roundTrip(facts));
    assert.equal(people[0], 'source maps: 7 frames in 2 scripts named from their maps');
    assert.match(people[1], /^9 scripts declared a source map that could not be read .*: dist\/s0\.js .*; y js \(Node's map: not JSON: "x"\)$/);
  });

  it("off, an error, nothing, and a profile without failures", () => {
    assert.deepEqual(statsFacts({ ...stats([]), enabled: false }), { 'source_maps.enabled': false });
    assert.equal(readSourceMapFacts(roundTrip({ 'source_maps.enabled': false }))!.enabled, false);
    assert.deepEqual(describeSourceMapFacts(roundTrip({ 'source_maps.enabled': false })), []);
    assert.equal(readSourceMapFacts(roundTrip({})), undefined);
    assert.deepEqual(describeSourceMapFacts(roundTrip(statsFacts(stats([])))), ['source maps: 7 frames in 2 scripts named from their maps']);
    assert.deepEqual(describeSourceMapFacts(roundTrip(statsFacts({ ...stats([]), mappedFrames: 0, scripts: 0 }))), []);
    assert.deepEqual(errorFacts(new Error('a bug\nat line 3')), { 'source_maps.error': 'a bug' });
    assert.deepEqual(describeSourceMapFacts(roundTrip(errorFacts(new Error('a bug\nat line 3')))),
      ['source maps: not applied, the frames are as they ran (a bug)']);
  });

  it('values of the wrong type (a crafted report) count as absent', () => {
    assert.equal(readSourceMapFacts({ 'source_maps.mapped_frames': '7' }), undefined);
    const crafted = { 'source_maps.mapped_frames': 1, 'source_maps.failed.missing': 'x', 'source_maps.scripts': null } as unknown as Facts;
    const r = readSourceMapFacts(crafted)!;
    assert.deepEqual([r.scripts, r.failures], [0, []]);
  });
});
