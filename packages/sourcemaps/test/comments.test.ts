// The profile's comments about its source maps: written one line of totals plus one per kind,
// read back by the CLI's summary.
import assert from 'node:assert/strict';
import { describeComments, errorComment, formatComments, parseComments, type SourceMapStats } from '../src';

function stats(failed: SourceMapStats['failed']): SourceMapStats {
  return { enabled: true, scripts: 2, mappedFrames: 7, unmappedFrames: 1, failed, mapBytes: 1234, ms: 4.4 };
}

describe('source map comments', () => {
  it('one line of totals, one line per kind of failure listing at most 5 scripts', () => {
    const failed = Array.from({ length: 7 }, (_, i) => ({ kind: 'missing' as const, script: `dist/s${i}.js`, map: `dist/s${i}.js.map`, reason: 'ENOENT' }));
    failed.push({ kind: 'missing', script: 'x.js', map: 'inline', reason: 'multi\nline' });
    const lines = formatComments(stats(failed));
    assert.deepEqual(lines, [
      'source_maps mapped_frames=7 scripts=2 failed=8 unmapped_frames=1 map_bytes=1234 ms=4',
      'source_maps failed.missing=8: ' + [0, 1, 2, 3, 4].map((i) => `dist/s${i}.js (dist/s${i}.js.map: ENOENT)`).join('; ') + '; and 3 more',
    ]);
    const r = parseComments(['rate=100Hz', ...lines, 'cmd=node x.js'])!;
    assert.deepEqual([r.enabled, r.mappedFrames, r.scripts, r.failed, r.failures.map((f) => [f.kind, f.count])], [true, 7, 2, 8, [['missing', 8]]]);
    assert.match(describeComments(lines)[1], /^8 scripts declared a source map that could not be read/);
  });

  it("'off', nothing, and a profile without failures", () => {
    assert.deepEqual(formatComments({ ...stats([]), enabled: false }), ['source_maps off']);
    assert.equal(parseComments(['source_maps off'])!.enabled, false);
    assert.deepEqual(describeComments(['source_maps off']), []);
    assert.equal(parseComments(['rate=100Hz']), undefined);
    assert.deepEqual(describeComments(formatComments(stats([]))), ['source maps: 7 frames in 2 scripts named from their maps']);
    assert.deepEqual(describeComments(formatComments({ ...stats([]), mappedFrames: 0, scripts: 0 })), []);
    assert.deepEqual(describeComments(['rate=100Hz', errorComment(new Error('a bug\nat line 3'))]),
      ['source maps: not applied, the frames are as they ran (a bug)']);
  });
});
