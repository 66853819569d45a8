// ProfileInput -> pprof Profile (pprof-format) -> gzipped protobuf.
import * as zlib from 'node:zlib';
import { Function as PprofFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { encodeProfile } from './encode';
import { normalize, type NormFrame } from './model';
import type { ProfileInput } from './types';

/**
 * Builds a pprof Profile: sample types [samples/count, cpu/nanoseconds], period type
 * cpu/nanoseconds, one mapping (id 1), one function per distinct (name, system name, file, start
 * line), one location per distinct frame or run of inlined frames (FrameInput.inlined). Identical
 * stacks with identical labels are merged.
 * Throws a TypeError naming the field on invalid input.
 */
export function toPprof(input: ProfileInput): Profile {
  const norm = normalize(input);
  const strings = new StringTable(); // holds '' at index 0
  const str = (s: string): number => strings.dedup(s);

  const samplesType = new ValueType({ type: str('samples'), unit: str('count') });
  const cpuType = new ValueType({ type: str('cpu'), unit: str('nanoseconds') });

  const mapping = new Mapping({
    id: 1,
    filename: str(norm.mappingFile),
    hasFunctions: true,
    hasFilenames: true,
    hasLineNumbers: true,
  });

  // Functions are the distinct (name, system name, file, start line), numbered in order of first
  // appearance. A location is one frame, or a run of frames inlined into the frame after them (one
  // machine address, several functions: Line[0] the innermost, the last Line the outer function).
  const functions: PprofFunction[] = [];
  const functionIds = new Map<string, number>();
  const functionOf = (f: NormFrame): number => {
    const fkey = `${f.startLine}:${f.file.length}:${f.file}${f.systemName.length}:${f.systemName}${f.name}`;
    let fid = functionIds.get(fkey);
    if (fid === undefined) {
      fid = functions.length + 1;
      functionIds.set(fkey, fid);
      functions.push(new PprofFunction({
        id: fid, name: str(f.name), systemName: str(f.systemName), filename: str(f.file), startLine: f.startLine,
      }));
    }
    return fid;
  };
  const locations: Location[] = [];
  const newLocation = (ids: readonly number[]): number => {
    const line = ids.map((id) => {
      const f = norm.frames[id]!;
      return new Line({ functionId: functionOf(f), line: f.line, column: f.column });
    });
    locations.push(new Location({ id: locations.length + 1, mappingId: 1, line }));
    return locations.length;
  };
  // Most locations are one frame: found by the frame's id, without building a key (this runs
  // once per frame of every sample). A run of inlined frames is found by its ids joined.
  const frameLocation: (number | undefined)[] = new Array(norm.frames.length);
  const runLocation = new Map<string, number>();
  const locationOf = (ids: readonly number[], from: number, to: number): number => {
    if (from === to) return (frameLocation[ids[from]!] ??= newLocation([ids[from]!]));
    const run = ids.slice(from, to + 1);
    const key = run.join(',');
    let lid = runLocation.get(key);
    if (lid === undefined) runLocation.set(key, (lid = newLocation(run)));
    return lid;
  };

  const samples: Sample[] = norm.rows.map((row) => {
    const label = row.labels.map(([k, v]) =>
      typeof v === 'number' ? new Label({ key: str(k), num: v }) : new Label({ key: str(k), str: str(v) }));
    const locationId: number[] = [];
    const ids = row.frameIds;
    for (let i = 0; i < ids.length; ) {
      let j = i;
      while (j + 1 < ids.length && norm.frames[ids[j]!]!.inlined) j++;
      locationId.push(locationOf(ids, i, j));
      i = j + 1;
    }
    return new Sample({ locationId, value: [row.count, Math.round(row.cpuNanos)], label });
  });

  const comment = norm.comments.map(str);
  const defaultSampleType = str('cpu');

  return new Profile({
    sampleType: [samplesType, cpuType],
    sample: samples,
    mapping: [mapping],
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: norm.startTimeNanos,
    durationNanos: norm.durationNanos,
    periodType: new ValueType({ type: str('cpu'), unit: str('nanoseconds') }),
    period: norm.periodNanos,
    comment,
    defaultSampleType,
  });
}

// Duck-typed rather than instanceof, so that a Profile from another copy of pprof-format works too.
export function isProfile(v: ProfileInput | Profile): v is Profile {
  return typeof (v as Profile).encode === 'function' && typeof (v as Profile).stringTable === 'object';
}

/** Serialises a Profile (or builds one from ProfileInput) to gzipped protobuf bytes. */
export function encodePprof(input: ProfileInput | Profile): Buffer {
  const profile = isProfile(input) ? input : toPprof(input);
  return zlib.gzipSync(encodeProfile(profile));
}

/** As encodePprof, with the compression done off the main thread. */
export async function encodePprofAsync(input: ProfileInput | Profile): Promise<Buffer> {
  const profile = isProfile(input) ? input : toPprof(input);
  const raw = encodeProfile(profile);
  return new Promise((resolve, reject) => {
    zlib.gzip(raw, (err, out) => (err ? reject(err) : resolve(out)));
  });
}
